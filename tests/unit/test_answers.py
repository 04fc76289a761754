"""A human's answer: what it may say, the clear error when it says something else, the waiting token."""

from __future__ import annotations

import pytest
from selfheal_core.domain.answers import parse_answer, rejection, waiting_request
from selfheal_core.domain.events import Answered, AnswerRequested, IncidentEvent, Opened
from selfheal_core.domain.incident import Outcome, fold
from selfheal_core.errors import InvalidInputError
from selfheal_core.vocabulary import Action


def test_a_valid_answer_carries_the_true_category_and_what_was_done() -> None:
    answer = parse_answer(
        {
            "decision": "resolved",
            "category": "schema_drift",
            "action": "rollback",
            "note": " restored ",
            "answered_by": "ana",
        },
        "fix",
    )
    assert (answer.decision, answer.category, answer.action, answer.note) == (
        "resolved",
        "schema_drift",
        "rollback",
        "restored",
    )
    assert answer.answered() == Answered(
        "resolved", by="ana", notes="restored", category="schema_drift", action="rollback"
    )
    assert answer.to_payload()["answered_by"] == "ana"


@pytest.mark.parametrize(
    ("data", "question", "message"),
    [
        ({"decision": "approved"}, "approval", "did you mean approve?"),
        ({"decision": "approve"}, "fix", "decision must be one of reject, resolved for a fix question"),
        ({"decision": "timeout"}, "approval", "decision must be one of"),
        ({"decision": "reject", "category": "schema_drfit"}, "approval", "unknown category 'schema_drfit'"),
        ({"decision": "reject", "action": "reboot"}, "approval", "unknown action 'reboot'"),
        ({"decision": "reject", "note": 3}, "approval", "note must be a string"),
        ({"decision": "reject", "note": "x" * 2001}, "approval", "at most 2000"),
        ({"decision": "reject", "extra": 1}, "approval", "unknown field(s) in the answer: extra"),
        ("approve", "approval", "must be a JSON object"),
        ({"decision": "resolved", "minutes_to_fix": -1}, "fix", "minutes_to_fix"),
    ],
)
def test_an_invalid_answer_is_a_clear_error(data: object, question: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_answer(data, question)
    assert message in str(raised.value)


def test_the_state_machine_also_accepts_its_own_and_older_decisions() -> None:
    for decision in ("timeout", "failed", "fixed", "rejected", "timed_out"):
        assert parse_answer({"decision": decision}, "approval", internal=True).decision == decision


def test_an_invalid_answer_is_recorded_as_a_rejection_with_the_reason() -> None:
    answered = rejection("decision must be ...", by="bob").answered()
    assert answered.decision == "reject" and answered.notes.startswith("invalid answer: decision")


def _log(*events: object) -> list[IncidentEvent]:
    return [
        IncidentEvent("inc-0123456789abcdef", i, f"2026-12-01T00:00:0{i}Z", e) for i, e in enumerate(events)
    ]  # type: ignore[arg-type]


def test_the_waiting_token_is_the_latest_request_with_no_answer_after_it() -> None:
    first = AnswerRequested(
        "approval", Action.ROLLBACK, ("critical_job_low_risk_only",), "t1", "2026-12-01T01:00:00Z"
    )
    second = AnswerRequested("fix", None, ("why",), "t2", "2026-12-02T01:00:00Z")
    opened = Opened("job", "run")
    assert waiting_request(_log(opened, first)) == first
    assert waiting_request(_log(opened, first, Answered("approve"))) is None
    assert waiting_request(_log(opened, first, Answered("approve"), second)) == second


def test_an_approval_keeps_the_incident_open_and_a_rejection_hands_it_to_a_human() -> None:
    request = AnswerRequested("approval", Action.ROLLBACK, ("critical_job_low_risk_only",), "t1", "x")
    approved = fold(_log(Opened("job", "run"), request, Answered("approve")))
    assert approved.waiting is None and approved.closed_at is None and approved.outcome is Outcome.OPEN
    rejected = fold(_log(Opened("job", "run"), request, Answered("reject")))
    assert rejected.closed_at is not None


def test_answer_requested_round_trips_with_its_token() -> None:
    request = AnswerRequested(
        "approval", Action.ROLLBACK, ("a", "b"), "token-" + "x" * 900, "2026-12-01T01:00:00Z"
    )
    assert AnswerRequested.from_data(request.to_data()) == request
