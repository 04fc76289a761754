"""Replay EventBridge events through the local state machine and summarise each incident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.decisions import final_action
from selfheal_core.domain.incident import Outcome, fold, incident_id_for
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime.validation import validate

from selfheal import _bundled
from selfheal.errors import UsageError
from selfheal.local.engine import ExecutionResult, LocalEngine

PROJECT_EVENTS = _bundled.EVENTS
DEFAULT_WORLD = _bundled.WORLD


def load_event(path: str | Path) -> dict[str, Any]:
    """Read and check an EventBridge event file; any problem is a one-line UsageError."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not valid JSON: {error.msg} (line {error.lineno})") from error
    try:
        validate({"event": event, "execution_id": "replay"}, "diagnose")
    except InvalidInputError as error:
        raise UsageError(f"{path} is not a Glue failure event selfheal handles: {error}") from error
    if not isinstance(event, dict):  # pragma: no cover - the schema requires an object
        raise UsageError(f"{path} must hold one JSON object")
    return event


@dataclass(frozen=True)
class IncidentSummary:
    data: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.data, sort_keys=False)


def summarise(event: Mapping[str, Any], result: ExecutionResult, home: Path) -> IncidentSummary:
    trigger = trigger_from_event(event)
    job_name, job_run_id = trigger.job_name, trigger.job_run_id
    incident_id = incident_id_for(job_name, job_run_id)
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        events = store.load(incident_id)
    finally:
        store.close()
    incident = fold(events) if events else None
    diagnosis = incident.diagnosis if incident else None
    duplicate = "Duplicate Ignored" in result.path
    if duplicate:
        outcome = "duplicate"
    elif result.status != "SUCCEEDED":
        outcome = "failed"
    elif incident is not None and incident.outcome is Outcome.RESOLVED:
        outcome = "resolved"
    else:
        outcome = "escalated"
    # A duplicate did nothing itself: it reports the incident it belongs to, not that incident's actions.
    attempts = incident.attempts if incident and not duplicate else []
    rules: list[str] = []
    for attempt in attempts:
        rules.extend(r for r in (*attempt.rules_fired, *attempt.masking_rules) if r not in rules)
    return IncidentSummary(
        {
            "incident_id": incident_id,
            "job_name": job_name,
            "job_run_id": job_run_id,
            "category": diagnosis.category.value if diagnosis else None,
            "confidence": round(diagnosis.confidence, 4) if diagnosis else None,
            "drift": diagnosis.drifted if diagnosis else False,
            "proposed_action": attempts[0].proposed.value if attempts and attempts[0].proposed else None,
            "final_action": final_action(incident).value if incident and not duplicate else None,
            "safety_rules": rules,
            "outcome": outcome,
            # Resolved by a fix that ran after a human approved it.
            "assisted": bool(incident is not None and not duplicate and incident.assisted),
            "approval": list(attempts[-1].approval) if attempts else [],
            "path": result.path,
            "status": result.status,
            # What this incident's execution did, counted at the AWS API (a duplicate did nothing).
            "glue_runs_started": len(
                [m for m in result.calls.runs_started if m.startswith(f"{incident_id}#")]
            ),
            "catalog_updates": len(result.calls.catalog_updates),
            "notifications": len(result.calls.notifications),
            **({"faults": dict(result.calls.fired)} if result.calls.fired else {}),
            **({"closed_by": "sweeper"} if duplicate and _swept(events) else {}),
        }
    )


def _swept(events: list[Any]) -> bool:
    from selfheal_core.domain.events import Escalated

    return any(isinstance(e.event, Escalated) and e.event.source == "sweeper" for e in events)


def replay(engine: LocalEngine, event: Mapping[str, Any]) -> IncidentSummary:
    result = engine.run(event)
    return summarise(event, result, engine.options.home)
