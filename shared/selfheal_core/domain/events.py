"""The incident's domain events: one frozen dataclass per fact, with explicit JSON (de)serialisation.

An incident is its append-only log of these events (``IncidentEvent`` is the envelope: incident, sequence
number, time). Stored records carry ``v``, the schema version they were written with; records written
before typed events existed (no ``v``, version 1) are upcast on load, so old logs keep folding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.fact_checks import FactCheck
from selfheal_core.vocabulary import Action

SCHEMA_VERSION = 2
LEGACY_VERSION = 1


def _actions(values: Any) -> tuple[Action, ...]:
    return tuple(Action(v) for v in values or ())


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event; ``kind`` is the name stored with it."""

    kind: ClassVar[str] = ""

    def to_data(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_data(cls: type[E], data: Mapping[str, Any]) -> E:
        raise NotImplementedError


E = TypeVar("E", bound=DomainEvent)


@dataclass(frozen=True)
class Opened(DomainEvent):
    kind: ClassVar[str] = "opened"
    job_name: str
    job_run_id: str
    execution_id: str | None = None
    trigger: Mapping[str, Any] = field(default_factory=dict)  # the EventBridge event, as received

    def to_data(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "job_run_id": self.job_run_id,
            "execution_id": self.execution_id,
            "trigger": dict(self.trigger),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Opened:
        return cls(
            job_name=str(data.get("job_name", "")),
            job_run_id=str(data.get("job_run_id", "")),
            execution_id=_optional_str(data.get("execution_id")),
            trigger=dict(data.get("trigger") or {}),
        )


@dataclass(frozen=True)
class Diagnosed(DomainEvent):
    kind: ClassVar[str] = "diagnosed"
    diagnosis: Diagnosis
    log_sources: tuple[str, ...] = ()
    log_truncated: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            **self.diagnosis.to_dict(),
            "log_sources": list(self.log_sources),
            "log_truncated": self.log_truncated,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Diagnosed:
        return cls(
            diagnosis=Diagnosis.from_dict(data),
            log_sources=_strings(data.get("log_sources")),
            log_truncated=bool(data.get("log_truncated", False)),
        )


@dataclass(frozen=True)
class Proposed(DomainEvent):
    kind: ClassVar[str] = "proposed"
    attempt: int
    action: Action
    explored: bool = False
    policy: str = "learned"
    allowed: tuple[Action, ...] = ()
    state: str = ""
    q_values: Mapping[str, float] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "action": self.action.value,
            "explored": self.explored,
            "policy": self.policy,
            "allowed": [a.value for a in self.allowed],
            "state": self.state,
            "q_values": dict(self.q_values),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Proposed:
        return cls(
            attempt=int(data["attempt"]),
            action=Action(data["action"]),
            explored=bool(data.get("explored", False)),
            policy=str(data.get("policy", "learned")),
            allowed=_actions(data.get("allowed")),
            state=str(data.get("state", "")),
            q_values={str(k): float(v) for k, v in (data.get("q_values") or {}).items()},
        )


@dataclass(frozen=True)
class Gated(DomainEvent):
    kind: ClassVar[str] = "gated"
    attempt: int
    proposed: Action
    action: Action
    rules_fired: tuple[str, ...] = ()
    # Per masked action, the rules that mask it.
    masked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Rules that kept the rulebook's action, or every automated one, off the table.
    constraints: tuple[str, ...] = ()
    shadow: bool = False
    kill_switch: bool = False
    mode: str = "auto"
    wait_seconds: int = 0
    # Non-empty: the action runs only after a human approves (the soft rules / autonomy level that asked).
    approval: tuple[str, ...] = ()
    autonomy: str = "auto"

    @property
    def vetoed(self) -> bool:
        return self.action is not self.proposed

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval)

    def to_data(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "proposed": self.proposed.value,
            "action": self.action.value,
            "rules_fired": list(self.rules_fired),
            "masked": {k: list(v) for k, v in self.masked.items()},
            "constraints": list(self.constraints),
            "shadow": self.shadow,
            "kill_switch": self.kill_switch,
            "mode": self.mode,
            "wait_seconds": self.wait_seconds,
            # Written only when set: a log without approvals reads as it did before them.
            **({"approval": list(self.approval)} if self.approval else {}),
            **({"autonomy": self.autonomy} if self.autonomy != "auto" else {}),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Gated:
        return cls(
            attempt=int(data["attempt"]),
            proposed=Action(data.get("proposed", data["action"])),
            action=Action(data["action"]),
            rules_fired=_strings(data.get("rules_fired")),
            masked={str(k): _strings(v) for k, v in (data.get("masked") or {}).items()},
            constraints=_strings(data.get("constraints")),
            shadow=bool(data.get("shadow", False)),
            kill_switch=bool(data.get("kill_switch", False)),
            mode=str(data.get("mode", "auto")),
            wait_seconds=int(data.get("wait_seconds", 0)),
            approval=_strings(data.get("approval")),
            autonomy=str(data.get("autonomy") or "auto"),
        )


@dataclass(frozen=True)
class ActionStarted(DomainEvent):
    """The intent, written before Glue is called: a retried Execute finds its run by ``marker``."""

    kind: ClassVar[str] = "action_started"
    attempt: int
    action: Action
    marker: str

    def to_data(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "action": self.action.value, "marker": self.marker}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ActionStarted:
        return cls(attempt=int(data["attempt"]), action=Action(data["action"]), marker=str(data["marker"]))


@dataclass(frozen=True)
class RestoredTable:
    table: str
    version: str


@dataclass(frozen=True)
class Executed(DomainEvent):
    kind: ClassVar[str] = "executed"
    attempt: int
    action: Action
    job_run_id: str | None = None
    awaiting_run: bool = False
    # The kill switch or shadow mode stopped the action after the gate let it through.
    stopped_by: str | None = None
    restored: tuple[RestoredTable, ...] = ()
    quarantine_path: str | None = None
    reattached: bool = False  # a retried Execute found the run it had already started

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "attempt": self.attempt,
            "action": self.action.value,
            "job_run_id": self.job_run_id,
            "awaiting_run": self.awaiting_run,
        }
        if self.stopped_by:
            data["stopped_by"] = self.stopped_by
        if self.restored:
            data["restored"] = [{"table": r.table, "version": r.version} for r in self.restored]
        if self.quarantine_path:
            data["quarantine_path"] = self.quarantine_path
        if self.reattached:
            data["reattached"] = True
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Executed:
        return cls(
            attempt=int(data["attempt"]),
            action=Action(data["action"]),
            job_run_id=_optional_str(data.get("job_run_id")),
            awaiting_run=bool(data.get("awaiting_run", False)),
            stopped_by=_optional_str(data.get("stopped_by")),
            restored=tuple(
                RestoredTable(str(r["table"]), str(r["version"])) for r in data.get("restored") or ()
            ),
            quarantine_path=_optional_str(data.get("quarantine_path")),
            reattached=bool(data.get("reattached", False)),
        )


@dataclass(frozen=True)
class Validated(DomainEvent):
    kind: ClassVar[str] = "validated"
    attempt: int
    job_run_id: str
    run_state: str
    final: bool  # False: the run is still going, Validate will look again
    fixed: bool | None = None
    reason: str | None = None
    error_message: str | None = None
    elapsed_seconds: float = 0.0
    # The checks that a SUCCEEDED run fixed the failure (domain.run_checks), by name, verdict, evidence.
    checks: tuple[FactCheck, ...] = ()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "attempt": self.attempt,
            "job_run_id": self.job_run_id,
            "run_state": self.run_state,
            "final": self.final,
        }
        if self.final:
            data.update(
                fixed=bool(self.fixed),
                reason=self.reason,
                error_message=self.error_message,
                elapsed_seconds=self.elapsed_seconds,
            )
            if self.checks:
                data["checks"] = [check.to_dict() for check in self.checks]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Validated:
        return cls(
            attempt=int(data["attempt"]),
            job_run_id=str(data.get("job_run_id", "")),
            run_state=str(data.get("run_state", "")),
            final=bool(data.get("final", False)),
            fixed=_optional_bool(data.get("fixed")),
            reason=_optional_str(data.get("reason")),
            error_message=_optional_str(data.get("error_message")),
            elapsed_seconds=float(data.get("elapsed_seconds") or 0.0),
            checks=tuple(FactCheck.from_dict(c) for c in data.get("checks") or () if isinstance(c, Mapping)),
        )


@dataclass(frozen=True)
class Escalated(DomainEvent):
    """A human must be told (recorded before the message is published). ``notification_id`` is the
    message's dedupe key, in the log before anything is sent: every publish of this escalation (a retried
    Escalate, the Sweeper) carries the same key, so a subscriber can drop a repeat. ``source`` is
    ``sweeper`` when the Sweeper closed an incident its execution left open."""

    kind: ClassVar[str] = "escalated"
    reason: str
    notification_id: str = ""
    await_human: bool = False
    source: str = ""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reason": self.reason,
            "notification_id": self.notification_id,
            "await_human": self.await_human,
        }
        if self.source:
            data["source"] = self.source
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Escalated:
        return cls(
            reason=str(data.get("reason", "")),
            notification_id=str(data.get("notification_id") or ""),
            await_human=bool(data.get("await_human", False)),
            source=str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class Notified(DomainEvent):
    """The escalation's message was published (recorded after the escalation itself, so a retried
    Escalate publishes a pending escalation and never re-publishes a delivered one)."""

    kind: ClassVar[str] = "notified"
    notification_id: str

    def to_data(self) -> dict[str, Any]:
        return {"notification_id": self.notification_id}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Notified:
        return cls(notification_id=str(data.get("notification_id") or ""))


@dataclass(frozen=True)
class AnswerRequested(DomainEvent):
    """A wait for a human's answer started (``.waitForTaskToken``): recorded before the message goes out,
    with the token that answers it. The latest one with no ``answered`` after it is the waiting token.
    ``question`` is ``approval`` (run the proposal?) or ``fix`` (a human owns it: say what you did)."""

    kind: ClassVar[str] = "answer_requested"
    question: str
    proposed: Action | None
    reasons: tuple[str, ...]
    task_token: str
    expires_at: str  # ISO-8601 UTC
    notification_id: str = ""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "proposed": None if self.proposed is None else self.proposed.value,
            "reasons": list(self.reasons),
            "task_token": self.task_token,
            "expires_at": self.expires_at,
        }
        if self.notification_id:
            data["notification_id"] = self.notification_id
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AnswerRequested:
        proposed = data.get("proposed")
        return cls(
            question=str(data.get("question") or "fix"),
            proposed=None if proposed in (None, "") else Action(proposed),
            reasons=_strings(data.get("reasons")),
            task_token=str(data.get("task_token") or ""),
            expires_at=str(data.get("expires_at") or ""),
            notification_id=str(data.get("notification_id") or ""),
        )


@dataclass(frozen=True)
class Correlated(DomainEvent):
    """Storm control put the incident in a group (``domain.storm``): it shares a cause with the others.
    A later one moves it to another group (the breaker's, when the breaker stopped it)."""

    kind: ClassVar[str] = "correlated"
    group_id: str
    key: str
    role: str  # probe | follower
    probe: str  # the probe's incident id
    members: int = 1

    def to_data(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "key": self.key,
            "role": self.role,
            "probe": self.probe,
            "members": self.members,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Correlated:
        return cls(
            group_id=str(data.get("group_id", "")),
            key=str(data.get("key", "")),
            role=str(data.get("role", "")),
            probe=str(data.get("probe", "")),
            members=int(data.get("members", 1)),
        )


@dataclass(frozen=True)
class Held(DomainEvent):
    """Storm control holds the attempt (nothing runs): waiting for the group's probe or for the action
    budget. Recorded when a hold starts or its reason changes; ``since``: when the attempt was first held."""

    kind: ClassVar[str] = "held"
    attempt: int
    rule: str
    since: str  # ISO-8601 UTC
    detail: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "rule": self.rule, "since": self.since, "detail": self.detail}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Held:
        return cls(
            attempt=int(data["attempt"]),
            rule=str(data.get("rule", "")),
            since=str(data.get("since", "")),
            detail=str(data.get("detail", "")),
        )


# The answers a human gives now, then the older ones still found in logs.
ANSWER_DECISIONS = ("approve", "reject", "resolved", "timeout")
HUMAN_DECISIONS = (*ANSWER_DECISIONS, "fixed", "rejected", "timed_out", "failed")


@dataclass(frozen=True)
class Answered(DomainEvent):
    """A human's answer to an escalation (or the timeout that stands in for one). ``category`` is the
    true category as the human saw it, ``action`` what they did."""

    kind: ClassVar[str] = "answered"
    decision: str  # one of HUMAN_DECISIONS
    by: str = ""
    notes: str = ""
    minutes_to_fix: float | None = None
    # The human reports that an automated action damaged data (they repaired it).
    harmful: bool = False
    category: str | None = None
    action: str | None = None

    @property
    def approved(self) -> bool:
        return self.decision == "approve"

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"decision": self.decision}
        if self.category is not None:
            data["category"] = self.category
        if self.action is not None:
            data["action"] = self.action
        if self.by:
            data["by"] = self.by
        if self.notes:
            data["notes"] = self.notes
        if self.minutes_to_fix is not None:
            data["minutes_to_fix"] = self.minutes_to_fix
        if self.harmful:
            data["harmful"] = True
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Answered:
        minutes = data.get("minutes_to_fix")
        return cls(
            decision=str(data["decision"]),
            by=str(data.get("by", "")),
            notes=str(data.get("notes", "")),
            minutes_to_fix=None if minutes is None else float(minutes),
            harmful=bool(data.get("harmful", False)),
            category=_optional_str(data.get("category")),
            action=_optional_str(data.get("action")),
        )


@dataclass(frozen=True)
class Learned(DomainEvent):
    kind: ClassVar[str] = "learned"
    outcome: str
    row_updates: int = 0
    total_return: float = 0.0

    def to_data(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "row_updates": self.row_updates, "return": self.total_return}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Learned:
        return cls(
            outcome=str(data.get("outcome", "")),
            row_updates=int(data.get("row_updates", 0)),
            total_return=float(data.get("return", 0.0)),
        )


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.kind: cls
    for cls in (
        Opened,
        Diagnosed,
        Proposed,
        Gated,
        ActionStarted,
        Executed,
        Validated,
        Escalated,
        Notified,
        AnswerRequested,
        Answered,
        Learned,
        Correlated,
        Held,
    )
}

# Version 1 names that changed: the human's answer was "human_decided".
_LEGACY_KINDS = {"human_decided": Answered.kind}


@dataclass(frozen=True)
class IncidentEvent:
    """The envelope: which incident, where in its log, when, and the fact itself."""

    incident_id: str
    seq: int
    at: str  # ISO-8601 UTC
    event: DomainEvent

    @property
    def kind(self) -> str:
        return self.event.kind

    def to_record(self) -> dict[str, Any]:
        """The stored form (SQLite row, DynamoDB item, S3 audit object)."""
        return {
            "incident_id": self.incident_id,
            "seq": self.seq,
            "type": self.event.kind,
            "at": self.at,
            "v": SCHEMA_VERSION,
            "data": self.event.to_data(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IncidentEvent:
        """Any stored version, upcast to the current one."""
        version = int(record.get("v") or LEGACY_VERSION)
        kind = str(record["type"])
        if version == LEGACY_VERSION:
            kind = _LEGACY_KINDS.get(kind, kind)
        elif version > SCHEMA_VERSION:
            raise ValueError(f"event schema v{version} is newer than this code (v{SCHEMA_VERSION})")
        try:
            event_type = EVENT_TYPES[kind]
        except KeyError:
            raise ValueError(f"unknown incident event type {kind!r}") from None
        return cls(
            incident_id=str(record["incident_id"]),
            seq=int(record["seq"]),
            at=str(record["at"]),
            event=event_type.from_data(record.get("data") or {}),
        )
