from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.incident import Incident, fold
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.errors import IncidentNotFoundError
from selfheal_core.ports import EventStore
from selfheal_core.vocabulary import Action, Category, Criticality


def load_incident(store: EventStore, incident_id: str) -> Incident:
    events = store.load(incident_id)
    if not events:
        raise IncidentNotFoundError(f"no event log for incident {incident_id}")
    return fold(events)


def context_for(incident: Incident, attempt: int, previous_actions: tuple[Action, ...]) -> DecisionContext:
    diagnosis: Mapping[str, Any] = incident.diagnosis or {}
    rollback_available = bool(rollback_targets(incident))
    fraction = diagnosis.get("bad_record_fraction")
    return DecisionContext(
        job_name=incident.job_name,
        category=Category(diagnosis.get("category", Category.UNKNOWN.value)),
        confidence=float(diagnosis.get("confidence", 0.0)),
        criticality=Criticality(diagnosis.get("criticality", Criticality.MEDIUM.value)),
        risk=str(diagnosis.get("risk", "medium")),
        attempt=attempt,
        drift=bool(diagnosis.get("drifted", False)),
        rollback_available=rollback_available,
        bad_record_fraction=float(fraction) if fraction is not None else None,
        quarantine_capable=bool(diagnosis.get("quarantine_capable", False)),
        previous_action=previous_actions[-1] if previous_actions else None,
        previous_actions=previous_actions,
    )


def rollback_targets(incident: Incident) -> list[Mapping[str, Any]]:
    """The drift reports (as recorded by Diagnose) whose tables a rollback may restore."""
    return [r for r in (incident.diagnosis or {}).get("drift") or [] if r.get("rollback_safe")]


def current_context(incident: Incident) -> DecisionContext:
    """The context of the attempt in progress (the last proposed one)."""
    attempt = incident.current_attempt
    number = attempt.number if attempt else len(incident.attempts) + 1
    previous = tuple(a.action for a in incident.attempts[:-1] if a.action is not None)
    return context_for(incident, number, previous)


def gate_for(settings: SafetySettings) -> SafetyGate:
    return SafetyGate(settings)
