"""The two ends of a wait for a human: the request (its token in the log) and the answer (checked, then
recorded). Both run in the Escalate function: ``Await Approval`` / ``Await Human Decision`` invoke it with
``.waitForTaskToken``, ``Check Answer`` with what SendTaskSuccess delivered.

- The request is recorded as ``answer_requested`` with the task token, so ``selfheal incidents
  approve|reject|resolve`` (and the link function) find the waiting token in the incident's log; the
  message itself went out from Escalate, with the commands that answer it.
- The answer is validated again here: anything invalid (a typo, a field that is not a category) is
  recorded as a rejection with the reason, and the execution goes on. A timeout never approves.
- An answer that names the true category is kept as a labelled example (the classifier's corpus format).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import HumanAnswer
from selfheal_core.domain.answers import Answer, parse_answer, rejection
from selfheal_core.domain.events import Answered, AnswerRequested
from selfheal_core.domain.incident import IncidentState
from selfheal_core.errors import InvalidInputError
from selfheal_core.ports import EventStore, LabelSink
from selfheal_core.steps.common import load_state

QUESTIONS = ("approval", "fix")
MAX_TOKEN_CHARS = 8192


def expiry(now: datetime, timeout_seconds: int) -> str:
    return (now + timedelta(seconds=max(0, timeout_seconds))).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request(
    incident_id: str,
    question: str,
    task_token: str,
    timeout_seconds: int,
    store: EventStore,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record the wait's token (once: a retried invocation with the same token records nothing)."""
    if question not in QUESTIONS:
        raise InvalidInputError(f"question must be approval or fix, got {question!r}")
    if not task_token or len(task_token) > MAX_TOKEN_CHARS:
        raise InvalidInputError("a wait needs its task token")
    expires_at = expiry(now or datetime.now(UTC), timeout_seconds)

    def record_once() -> AnswerRequested:
        state = load_state(store, incident_id)
        if state.waiting is not None and state.waiting.task_token == task_token:
            return state.waiting
        attempt = state.current_attempt
        approval = question == "approval" and attempt is not None
        requested = AnswerRequested(
            question=question,
            proposed=attempt.proposed if approval and attempt is not None else None,
            reasons=attempt.approval if approval and attempt is not None else _reasons(state),
            task_token=task_token,
            expires_at=expires_at,
        )
        store.append(incident_id, requested, state.next_seq)
        return requested

    requested = retry_on_conflict(record_once)
    return {"incident_id": incident_id, "question": requested.question, "expires_at": requested.expires_at}


def _reasons(state: IncidentState) -> tuple[str, ...]:
    return (state.escalation_reason,) if state.escalation_reason else ()


def record(incident_id: str, raw: Any, store: EventStore, labels: LabelSink | None = None) -> HumanAnswer:
    """Check the answer the wait delivered and record it; an invalid one is a rejection, with why."""

    def record_once() -> tuple[Answer, bool]:
        state = load_state(store, incident_id)
        if state.waiting is None and state.answer is not None:  # a retried Check Answer
            return _from_recorded(state.answer), False
        question = state.waiting.question if state.waiting is not None else "fix"
        try:
            answer = parse_answer(raw, question, internal=True)
        except InvalidInputError as error:
            by = raw.get("answered_by") if isinstance(raw, Mapping) else None
            answer = rejection(str(error), by if isinstance(by, str) else "")
        store.append(incident_id, answer.answered(), state.next_seq)
        return answer, True

    answer, new = retry_on_conflict(record_once)
    if new and labels is not None and answer.category is not None:
        example = labelled_example(load_state(store, incident_id), answer)
        if example is not None:
            labels.append(example)
    return HumanAnswer(
        decision=answer.decision,  # type: ignore[arg-type]  # parse_answer admits only HumanDecision values
        by=answer.answered_by,
        notes=answer.note or "",
        minutes_to_fix=answer.minutes_to_fix,
        harmful=answer.harmful,
        category=answer.category,
        action=answer.action,
    )


def _from_recorded(answered: Answered) -> Answer:
    return Answer(
        decision=answered.decision,
        category=answered.category,
        action=answered.action,
        note=answered.notes or None,
        answered_by=answered.by,
        minutes_to_fix=answered.minutes_to_fix,
        harmful=answered.harmful,
    )


def labelled_example(state: IncidentState, answer: Answer) -> dict[str, Any] | None:
    """The corpus line for a human's true category: the failed run's (already redacted) message."""
    from selfheal_core.domain.redaction import redact

    message = redact(_message(state))
    if not message or answer.category is None:
        return None
    source = f"human:{state.incident_id}"
    return {
        "message": message,
        "category": answer.category,
        "source": source,
        "group": source,
        "note": (answer.note or f"{answer.decision} by {answer.answered_by or 'a human'}")[:500],
        "hard": False,
    }


def _message(state: IncidentState) -> str:
    detail = state.trigger.get("detail") if isinstance(state.trigger, Mapping) else None
    if isinstance(detail, Mapping) and isinstance(detail.get("message"), str) and detail["message"].strip():
        return str(detail["message"])
    if state.diagnosis is not None and state.diagnosis.evidence:
        return "\n".join(state.diagnosis.evidence)
    return ""
