"""The incident aggregate: its state is a fold (``evolve``) over its append-only log of domain events."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import reduce
from typing import Any, TypeVar

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.events import (
    ActionStarted,
    Answered,
    AnswerRequested,
    Correlated,
    Diagnosed,
    Escalated,
    Executed,
    Gated,
    Held,
    IncidentEvent,
    Learned,
    Notified,
    Opened,
    Proposed,
    Validated,
)
from selfheal_core.vocabulary import Action


class Outcome(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


def incident_id_for(job_name: str, job_run_id: str) -> str:
    """Deterministic, so a redelivered event for the same failed run maps to the same incident."""
    digest = hashlib.sha256(f"{job_name}\x00{job_run_id}".encode()).hexdigest()[:16]
    return f"inc-{digest}"


@dataclass(frozen=True)
class Attempt:
    number: int
    proposed: Action | None = None
    action: Action | None = None
    rules_fired: tuple[str, ...] = ()
    # Rules that kept the expected fix, or every automated action, off the table for this attempt.
    masking_rules: tuple[str, ...] = ()
    allowed: tuple[Action, ...] = ()
    shadow: bool = False
    kill_switch: bool = False
    wait_seconds: float = 0.0  # the backoff the gate set before this attempt ran
    gated: Gated | None = None  # the gate's verdict on this attempt
    started_marker: str | None = None  # written before Glue was called (action_started)
    executed: Executed | None = None  # once Execute has finished
    polls: int = 0  # validations that found the run still going
    job_run_id: str | None = None
    run_state: str | None = None
    fixed: bool | None = None
    elapsed_seconds: float = 0.0
    # The soft rules / autonomy level that held the action for a human's approval, and their answer.
    approval: tuple[str, ...] = ()
    approval_answer: str | None = None  # "approve", "reject", "resolved", "timeout"...
    held_since: str | None = None  # storm control first held this attempt (simulated or real UTC time)
    held_rule: str | None = None

    @property
    def vetoed(self) -> bool:
        return self.proposed is not None and self.action is not None and self.proposed is not self.action

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval)

    @property
    def approved(self) -> bool:
        return self.approval_answer == "approve"

    @property
    def held(self) -> bool:
        """Held for an approval that never came: the action did not run."""
        return self.needs_approval and not self.approved


@dataclass(frozen=True)
class IncidentState:
    incident_id: str
    job_name: str = ""
    job_run_id: str = ""
    execution_id: str | None = None
    trigger: Mapping[str, Any] = field(default_factory=dict)
    diagnosis: Diagnosis | None = None
    attempts: tuple[Attempt, ...] = ()
    outcome: Outcome = Outcome.OPEN
    escalation_reason: str | None = None
    escalated_count: int = 0
    notified_count: int = 0
    last_kind: str = ""  # the kind of the newest event
    answer: Answered | None = None
    # The question a human is being asked now (its token answers it); None once answered.
    waiting: AnswerRequested | None = None
    learned: bool = False
    opened_at: str | None = None
    closed_at: str | None = None
    last_seq: int = -1
    storm_group: Correlated | None = None  # the storm group the incident is in, if any

    @property
    def next_seq(self) -> int:
        """The sequence number the next append must take (optimistic concurrency on the incident)."""
        return self.last_seq + 1

    @property
    def notification_pending(self) -> bool:
        """An escalation was recorded and its message not yet published."""
        return self.escalated_count > self.notified_count

    @property
    def assisted(self) -> bool:
        """Resolved by a fix that ran after a human approved it."""
        attempt = self.current_attempt
        return self.outcome is Outcome.RESOLVED and attempt is not None and attempt.approved

    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def previous_actions(self) -> tuple[Action, ...]:
        return tuple(a.action for a in self.attempts if a.action is not None)

    @property
    def rollback_targets(self) -> tuple[DriftReport, ...]:
        return self.diagnosis.rollback_targets if self.diagnosis else ()

    def context(self, attempt: int, previous_actions: tuple[Action, ...]) -> DecisionContext:
        """What the policy and the gate see at ``attempt``; an undiagnosed incident is ``unknown``."""
        diagnosis = self.diagnosis or Diagnosis.unknown(self.job_name)
        return diagnosis.context(attempt, previous_actions)

    def next_context(self) -> DecisionContext:
        """The context of the attempt about to be proposed."""
        return self.context(len(self.attempts) + 1, self.previous_actions)

    def current_context(self) -> DecisionContext:
        """The context of the attempt in progress (the last proposed one)."""
        attempt = self.current_attempt
        number = attempt.number if attempt else len(self.attempts) + 1
        previous = tuple(a.action for a in self.attempts[:-1] if a.action is not None)
        return self.context(number, previous)


T = TypeVar("T")


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` for these frozen, validation-free dataclasses, without re-running
    ``__init__``: folding a log copies the state once per event, and the simulator folds millions."""
    new = copy.copy(obj)
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def _with_current(state: IncidentState, **changes: Any) -> IncidentState:
    if not state.attempts:
        return state
    return replace(state, attempts=(*state.attempts[:-1], replace(state.attempts[-1], **changes)))


def evolve(state: IncidentState, record: IncidentEvent) -> IncidentState:
    """The state after one more event: pure, total over every event type."""
    state = replace(state, last_seq=record.seq, last_kind=record.kind)
    event = record.event
    match event:
        case Opened():
            return replace(
                state,
                job_name=event.job_name,
                job_run_id=event.job_run_id,
                execution_id=event.execution_id,
                trigger=event.trigger,
                opened_at=record.at,
            )
        case Diagnosed():
            return replace(state, diagnosis=event.diagnosis)
        case Proposed():
            attempt = Attempt(number=event.attempt, proposed=event.action, allowed=event.allowed)
            return replace(state, attempts=(*state.attempts, attempt))
        case Gated():
            return _with_current(
                state,
                gated=event,
                action=event.action,
                rules_fired=event.rules_fired,
                masking_rules=event.constraints,
                shadow=event.shadow,
                kill_switch=event.kill_switch,
                wait_seconds=float(event.wait_seconds),
                approval=event.approval,
            )
        case ActionStarted():
            return _with_current(state, started_marker=event.marker)
        case Executed():
            return _apply_executed(state, event)
        case Validated():
            return _apply_validated(state, record.at, event)
        case Escalated():
            return replace(
                state,
                outcome=Outcome.ESCALATED,
                escalation_reason=event.reason,
                escalated_count=state.escalated_count + 1,
            )
        case Notified():
            return replace(state, notified_count=state.notified_count + 1)
        case AnswerRequested():
            return replace(state, waiting=event)
        case Answered():
            return _apply_answered(state, record.at, event)
        case Learned():
            return replace(state, learned=True)
        case Correlated():
            return replace(state, storm_group=event)
        case Held():
            held = state.current_attempt
            since = held.held_since if held is not None and held.held_since else event.since
            return _with_current(state, held_since=since, held_rule=event.rule)
    raise ValueError(f"no rule to apply event {event.kind!r}")


def _apply_answered(state: IncidentState, at: str, event: Answered) -> IncidentState:
    question = state.waiting.question if state.waiting is not None else "fix"
    state = replace(state, answer=event, waiting=None)
    if question == "approval":
        state = _with_current(state, approval_answer=event.decision)
        if event.approved:
            return state  # the incident goes on: the approved action runs next
    return replace(state, closed_at=at)


def _apply_executed(state: IncidentState, event: Executed) -> IncidentState:
    attempt = state.current_attempt
    if attempt is None:
        return state
    rules, shadow, kill_switch = attempt.rules_fired, attempt.shadow, attempt.kill_switch
    if event.stopped_by:
        rules = (*rules, event.stopped_by)
        kill_switch = kill_switch or event.stopped_by == "kill_switch"
        shadow = shadow or event.stopped_by == "shadow_mode"
    return _with_current(
        state,
        executed=event,
        job_run_id=event.job_run_id,
        rules_fired=rules,
        shadow=shadow,
        kill_switch=kill_switch,
    )


def _apply_validated(state: IncidentState, at: str, event: Validated) -> IncidentState:
    attempt = state.current_attempt
    if attempt is None:
        return state
    if not event.final:
        return _with_current(state, run_state=event.run_state, polls=attempt.polls + 1)
    state = _with_current(
        state, run_state=event.run_state, fixed=bool(event.fixed), elapsed_seconds=event.elapsed_seconds
    )
    if event.fixed:
        state = replace(state, outcome=Outcome.RESOLVED, closed_at=at)
    return state


def fold(records: Iterable[IncidentEvent]) -> IncidentState:
    ordered = sorted(records, key=lambda r: r.seq)
    if not ordered:
        raise ValueError("an incident needs at least one event")
    return reduce(evolve, ordered, IncidentState(incident_id=ordered[0].incident_id))
