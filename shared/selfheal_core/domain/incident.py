"""The incident as an append-only log of domain events; its state is a fold over that log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from selfheal_core.vocabulary import Action


class EventType(StrEnum):
    OPENED = "opened"
    DIAGNOSED = "diagnosed"
    PROPOSED = "proposed"
    GATED = "gated"
    ACTION_STARTED = "action_started"  # the intent, written before Glue is called
    EXECUTED = "executed"
    VALIDATED = "validated"
    ESCALATED = "escalated"
    HUMAN_DECIDED = "human_decided"
    LEARNED = "learned"


class Outcome(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class IncidentEvent:
    incident_id: str
    seq: int
    type: EventType
    at: str  # ISO-8601 UTC
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "seq": self.seq,
            "type": self.type.value,
            "at": self.at,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> IncidentEvent:
        return cls(
            incident_id=str(item["incident_id"]),
            seq=int(item["seq"]),
            type=EventType(item["type"]),
            at=str(item["at"]),
            data=dict(item.get("data") or {}),
        )


def incident_id_for(job_name: str, job_run_id: str) -> str:
    """Deterministic, so a redelivered event for the same failed run maps to the same incident."""
    digest = hashlib.sha256(f"{job_name}\x00{job_run_id}".encode()).hexdigest()[:16]
    return f"inc-{digest}"


@dataclass
class Attempt:
    number: int
    proposed: Action | None = None
    action: Action | None = None
    rules_fired: tuple[str, ...] = ()
    # Rules that kept the expected fix, or every automated action, off the table for this attempt.
    masking_rules: tuple[str, ...] = ()
    shadow: bool = False
    kill_switch: bool = False
    wait_seconds: float = 0.0  # the backoff the gate set before this attempt ran
    started_marker: str | None = None  # written before Glue was called (action_started)
    executed: Mapping[str, Any] | None = None  # the executed event's data, once Execute has finished
    polls: int = 0  # validations that found the run still going
    job_run_id: str | None = None
    run_state: str | None = None
    fixed: bool | None = None
    elapsed_seconds: float = 0.0


@dataclass
class Incident:
    incident_id: str
    job_name: str = ""
    job_run_id: str = ""
    execution_id: str | None = None
    trigger: Mapping[str, Any] = field(default_factory=dict)
    diagnosis: Mapping[str, Any] | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: Outcome = Outcome.OPEN
    escalation_reason: str | None = None
    human_decision: Mapping[str, Any] | None = None
    learned: bool = False
    opened_at: str | None = None
    closed_at: str | None = None
    last_seq: int = -1

    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def previous_actions(self) -> tuple[Action, ...]:
        return tuple(a.action for a in self.attempts if a.action is not None)

    @property
    def executed_attempts(self) -> int:
        return sum(1 for a in self.attempts if a.job_run_id is not None or a.action is Action.ROLLBACK)


def _apply(incident: Incident, event: IncidentEvent) -> None:
    data = event.data
    kind = event.type
    if kind is EventType.OPENED:
        incident.job_name = str(data.get("job_name", ""))
        incident.job_run_id = str(data.get("job_run_id", ""))
        incident.execution_id = data.get("execution_id")
        incident.trigger = dict(data.get("trigger") or {})
        incident.opened_at = event.at
    elif kind is EventType.DIAGNOSED:
        incident.diagnosis = dict(data)
    elif kind is EventType.PROPOSED:
        incident.attempts.append(Attempt(number=int(data["attempt"]), proposed=Action(data["action"])))
    elif kind is EventType.GATED and incident.attempts:
        attempt = incident.attempts[-1]
        attempt.action = Action(data["action"])
        attempt.rules_fired = tuple(data.get("rules_fired", ()))
        attempt.masking_rules = tuple(data.get("constraints", ()))
        attempt.shadow = bool(data.get("shadow", False))
        attempt.kill_switch = bool(data.get("kill_switch", False))
        attempt.wait_seconds = float(data.get("wait_seconds", 0))
    elif kind is EventType.ACTION_STARTED and incident.attempts:
        incident.attempts[-1].started_marker = str(data.get("marker", ""))
    elif kind is EventType.EXECUTED and incident.attempts:
        attempt = incident.attempts[-1]
        attempt.executed = dict(data)
        attempt.job_run_id = data.get("job_run_id")
        stopped_by = data.get("stopped_by")
        if stopped_by:  # the kill switch or shadow mode stopped the action after the gate let it through
            attempt.rules_fired = (*attempt.rules_fired, str(stopped_by))
            attempt.kill_switch = attempt.kill_switch or stopped_by == "kill_switch"
            attempt.shadow = attempt.shadow or stopped_by == "shadow_mode"
    elif kind is EventType.VALIDATED and incident.attempts:
        attempt = incident.attempts[-1]
        attempt.run_state = data.get("run_state")
        if not data.get("final"):
            attempt.polls += 1
        else:
            attempt.fixed = bool(data.get("fixed"))
            attempt.elapsed_seconds = float(data.get("elapsed_seconds", 0.0))
            if attempt.fixed:
                incident.outcome = Outcome.RESOLVED
                incident.closed_at = event.at
    elif kind is EventType.ESCALATED:
        incident.outcome = Outcome.ESCALATED
        incident.escalation_reason = data.get("reason")
    elif kind is EventType.HUMAN_DECIDED:
        incident.human_decision = dict(data)
        incident.closed_at = event.at
    elif kind is EventType.LEARNED:
        incident.learned = True


def fold(events: Iterable[IncidentEvent]) -> Incident:
    incident: Incident | None = None
    for event in sorted(events, key=lambda e: e.seq):
        if incident is None:
            incident = Incident(incident_id=event.incident_id)
        _apply(incident, event)
        incident.last_seq = event.seq
    if incident is None:
        raise ValueError("an incident needs at least one event")
    return incident
