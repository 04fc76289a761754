"""A human's answer to a waiting question: what it may say, and the waiting question itself.

The answer travels as the output of ``SendTaskSuccess``::

    {"decision": "approve"|"reject"|"resolved", "category": str|null, "action": str|null,
     "note": str|null, "answered_by": str}

It is validated where it is given (the CLI, the link function) with a clear error; the state machine
checks it again and records an invalid one as a rejection with the reason, never failing the execution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from selfheal_core.domain.events import Answered, AnswerRequested, IncidentEvent
from selfheal_core.domain.waiting import waiting_for
from selfheal_core.errors import InvalidInputError
from selfheal_core.vocabulary import ACTIONS, CATEGORIES

APPROVE, REJECT, RESOLVED, TIMEOUT = "approve", "reject", "resolved", "timeout"
DECISIONS = (APPROVE, REJECT, RESOLVED)
# Answers a question may take: only a held proposal can be approved.
ALLOWED = {"approval": DECISIONS, "fix": (REJECT, RESOLVED)}
# Given by the state machine itself (a timeout, a request that could not be sent), or by older
# executions and the simulator.
INTERNAL = (TIMEOUT, "failed", "fixed", "rejected", "timed_out")
MAX_NOTE_CHARS = 2000
MAX_BY_CHARS = 200
_KEYS = frozenset(
    {"decision", "category", "action", "note", "answered_by", "by", "notes", "minutes_to_fix", "harmful"}
)


@dataclass(frozen=True)
class Answer:
    decision: str
    category: str | None = None
    action: str | None = None
    note: str | None = None
    answered_by: str = ""
    minutes_to_fix: float | None = None
    harmful: bool = False

    def to_payload(self) -> dict[str, Any]:
        """What SendTaskSuccess carries."""
        return {
            "decision": self.decision,
            "category": self.category,
            "action": self.action,
            "note": self.note,
            "answered_by": self.answered_by,
        }

    def answered(self) -> Answered:
        return Answered(
            decision=self.decision,
            by=self.answered_by,
            notes=self.note or "",
            minutes_to_fix=self.minutes_to_fix,
            harmful=self.harmful,
            category=self.category,
            action=self.action,
        )


def parse_answer(data: Any, question: str | None = None, internal: bool = False) -> Answer:
    """The answer in ``data``, or InvalidInputError saying what is wrong. ``question`` ("approval" or
    "fix") limits the decisions; ``internal`` also accepts what the state machine and older executions
    send (timeout, failed, and the legacy fixed/rejected/timed_out)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"an answer must be a JSON object, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise InvalidInputError(f"unknown field(s) in the answer: {', '.join(unknown)}")
    decision = data.get("decision")
    allowed = ALLOWED.get(question or "approval", DECISIONS)
    accepted = (*allowed, *INTERNAL) if internal else allowed
    if decision not in accepted:
        hint = " (did you mean approve?)" if str(decision).lower().startswith("approv") else ""
        raise InvalidInputError(
            f"decision must be one of {', '.join(allowed)} for a {question or 'approval'} question, "
            f"got {decision!r}{hint}"
        )
    category = _optional_text(data, "category", 64)
    if category is not None and category not in CATEGORIES:
        raise InvalidInputError(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
    action = _optional_text(data, "action", 64)
    if action is not None and action not in ACTIONS:
        raise InvalidInputError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    note = _optional_text(data, "note", MAX_NOTE_CHARS)
    if note is None:
        note = _optional_text(data, "notes", MAX_NOTE_CHARS)
    by = _optional_text(data, "answered_by", MAX_BY_CHARS) or _optional_text(data, "by", MAX_BY_CHARS) or ""
    minutes = data.get("minutes_to_fix")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes < 1e7
    ):
        raise InvalidInputError(f"minutes_to_fix must be a number of minutes >= 0, got {minutes!r}")
    harmful = data.get("harmful", False)
    if not isinstance(harmful, bool):
        raise InvalidInputError(f"harmful must be true or false, got {harmful!r}")
    return Answer(
        decision=str(decision),
        category=category,
        action=action,
        note=note,
        answered_by=by,
        minutes_to_fix=None if minutes is None else float(minutes),
        harmful=harmful,
    )


def rejection(reason: str, by: str = "") -> Answer:
    """What an invalid answer is recorded as: a rejection, with why."""
    return Answer(decision=REJECT, note=f"invalid answer: {reason}"[:MAX_NOTE_CHARS], answered_by=by)


def _optional_text(data: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{key} must be a string, got {type(value).__name__}")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInputError(f"{key} is {len(value)} characters long, at most {limit}")
    return value or None


def waiting_request(events: Iterable[IncidentEvent]) -> AnswerRequested | None:
    """The latest answer request with no answer after it: the question a human can answer now."""
    return waiting_for(sorted(events, key=lambda r: r.seq)).request
