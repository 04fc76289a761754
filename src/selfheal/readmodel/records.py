"""An incident's stored log as an operator reads it, and the one summary row that ``incidents list``,
``incidents show`` and ``report shadow`` share.

The records are kept as stored (``seq``, ``type``, ``at``, ``data``): a reader must still show an incident
whose log holds an event type this code does not know (written by a newer version), so the typed fold
(``selfheal_core.domain.incident.fold``, the same one the steps use) sees only the events it knows, and the
approval events of the answers contract (``answer_requested``; ``answered`` with ``decision``,
``category``, ``action``) are read from the records by name, tolerating logs that have none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from selfheal_core.domain.decisions import final_action
from selfheal_core.domain.events import IncidentEvent
from selfheal_core.domain.incident import IncidentState, Outcome, fold

# Kind names stored by version 1 logs that changed since (``IncidentEvent.from_record`` upcasts them too).
LEGACY_KINDS = {"human_decided": "answered"}
ANSWER_REQUESTED = "answer_requested"
ANSWERED = "answered"
# Decisions (answers contract) that say who fixed the incident or whether the proposal may run.
APPROVE, REJECT, RESOLVED, TIMEOUT = "approve", "reject", "resolved", "timeout"
# An execution's own bound (the ASL's TimeoutSeconds): an open incident older than this is stuck.
DEFAULT_MAX_OPEN_SECONDS = 172_800


def normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One stored record (SQLite row, DynamoDB item, audit object) as ``{seq, type, at, data}``."""
    kind = str(raw["type"])
    if int(raw.get("v") or 1) == 1:
        kind = LEGACY_KINDS.get(kind, kind)
    data = raw.get("data") or {}
    return {
        "seq": int(raw["seq"]),
        "type": kind,
        "at": str(raw["at"]),
        "data": dict(data) if isinstance(data, Mapping) else {},
        "v": raw.get("v"),
    }


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """The stores' format (``adapters/clock.py``): milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class IncidentLog:
    incident_id: str
    records: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, incident_id: str, raw: Iterable[Mapping[str, Any]]) -> IncidentLog:
        return cls(incident_id, tuple(sorted((normalise(r) for r in raw), key=lambda r: r["seq"])))

    def typed(self) -> list[IncidentEvent]:
        """The events this code knows; an unknown type (a newer writer) is left to the raw records."""
        events = []
        for record in self.records:
            try:
                events.append(IncidentEvent.from_record({**record, "incident_id": self.incident_id}))
            except (ValueError, KeyError, TypeError):
                continue
        return events

    def state(self) -> IncidentState:
        events = self.typed()
        return fold(events) if events else IncidentState(incident_id=self.incident_id)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == kind]

    def pending_question(self) -> dict[str, Any] | None:
        """The latest ``answer_requested`` with no ``answered`` after it: a human is being waited for."""
        pending = None
        for record in self.records:
            if record["type"] == ANSWER_REQUESTED:
                pending = record
            elif record["type"] == ANSWERED:
                pending = None
        return pending

    def legacy_wait(self) -> dict[str, Any] | None:
        """An escalation that asked for a decision (before answer requests existed), still unanswered."""
        waiting = None
        for record in self.records:
            if record["type"] == "escalated" and record["data"].get("await_human"):
                waiting = record
            elif record["type"] in (ANSWERED, "learned"):
                waiting = None
        return waiting

    def answer(self) -> dict[str, Any] | None:
        answers = self.of_kind(ANSWERED)
        return answers[-1] if answers else None

    def swept(self) -> bool:
        return any(r["type"] == "escalated" and r["data"].get("source") == "sweeper" for r in self.records)

    def learned(self) -> bool:
        return any(r["type"] == "learned" for r in self.records)

    def fixed_by(self) -> tuple[int, str] | None:
        """(seq, action) of the validation that found the fix held, and the action that attempt ran."""
        action = None
        for record in self.records:
            data = record["data"]
            if record["type"] == "executed":
                action = str(data.get("action"))
            elif record["type"] == "validated" and data.get("final") and data.get("fixed") and action:
                return record["seq"], action
        return None

    def assisted(self) -> bool:
        """Resolved by an action that ran after a human approved it."""
        fixed = self.fixed_by()
        if fixed is None:
            return False
        return any(
            r["type"] == ANSWERED and r["data"].get("decision") == APPROVE and r["seq"] < fixed[0]
            for r in self.records
        )


def status(log: IncidentLog) -> str:
    """``closed`` (its outcome learned, or the Sweeper closed it), ``waiting`` (for a human's answer) or
    ``open`` (an execution is still handling it, or it is stuck: see ``overdue``)."""
    if log.learned() or log.swept():
        return "closed"
    if log.pending_question() is not None or log.legacy_wait() is not None:
        return "waiting"
    return "open"


def summary(
    log: IncidentLog, now: datetime, max_open_seconds: float = DEFAULT_MAX_OPEN_SECONDS
) -> dict[str, Any]:
    """The row of ``incidents list --json`` (and the head of ``incidents show --json``)."""
    state = log.state()
    current = status(log)
    attempts = state.attempts
    opened = parse_time(state.opened_at)
    question = log.pending_question()
    deadline: datetime | None = None
    if current != "closed":
        deadline = parse_time(question["data"].get("expires_at")) if question else None
        if deadline is None and opened is not None:
            deadline = opened + timedelta(seconds=max_open_seconds)
    answer = log.answer()
    return {
        "incident_id": log.incident_id,
        "job_name": state.job_name or None,
        "job_run_id": state.job_run_id or None,
        "category": state.diagnosis.category.value if state.diagnosis else None,
        "status": current,
        "opened_at": state.opened_at,
        "proposed_action": attempts[0].proposed.value if attempts and attempts[0].proposed else None,
        "final_action": None if state.outcome is Outcome.OPEN else final_action(state).value,
        "outcome": state.outcome.value,
        "assisted": log.assisted(),
        "deadline": iso(deadline) if deadline else None,
        "overdue": bool(deadline and current != "closed" and now > deadline),
        "waiting_for": _question(question) if question else ("decision" if log.legacy_wait() else None),
        "answer": _answer(answer) if answer else None,
        "execution_id": state.execution_id,
        "learned": log.learned(),
        "swept": log.swept(),
    }


def _question(record: Mapping[str, Any]) -> str:
    return str(record["data"].get("question") or "answer")


def _answer(record: Mapping[str, Any]) -> dict[str, Any]:
    data = record["data"]
    return {
        "decision": data.get("decision"),
        "by": data.get("by") or data.get("answered_by") or None,
        "category": data.get("category"),
        "action": data.get("action"),
        "note": data.get("note") or data.get("notes") or None,
        "at": record["at"],
    }
