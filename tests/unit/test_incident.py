from __future__ import annotations

import pytest
from selfheal_core.domain.incident import EventType, IncidentEvent, Outcome, fold, incident_id_for
from selfheal_core.vocabulary import Action


def log(*items: tuple[EventType, dict]) -> list[IncidentEvent]:
    return [
        IncidentEvent("inc-1", i, t, f"2026-11-01T00:00:{i:02d}.000Z", d) for i, (t, d) in enumerate(items)
    ]


OPENED = (
    EventType.OPENED,
    {"job_name": "orders", "job_run_id": "jr_1", "execution_id": "ex-1", "trigger": {"id": "e"}},
)


def test_opened_sets_identity():
    incident = fold(log(OPENED))
    assert (incident.job_name, incident.job_run_id, incident.execution_id) == ("orders", "jr_1", "ex-1")
    assert incident.trigger == {"id": "e"}
    assert incident.opened_at == "2026-11-01T00:00:00.000Z"
    assert incident.outcome is Outcome.OPEN and incident.last_seq == 0


def test_diagnosed_keeps_the_diagnosis():
    incident = fold(log(OPENED, (EventType.DIAGNOSED, {"category": "throttling"})))
    assert incident.diagnosis == {"category": "throttling"}


def test_proposed_gated_executed_validated_build_an_attempt():
    incident = fold(
        log(
            OPENED,
            (EventType.PROPOSED, {"attempt": 1, "action": "rollback"}),
            (
                EventType.GATED,
                {"attempt": 1, "action": "escalate", "rules_fired": ["kill_switch"], "shadow": True},
            ),
        )
    )
    attempt = incident.current_attempt
    assert attempt is not None and attempt.number == 1
    assert attempt.proposed is Action.ROLLBACK and attempt.action is Action.ESCALATE
    assert attempt.rules_fired == ("kill_switch",) and attempt.shadow
    assert incident.previous_actions == (Action.ESCALATE,)


def test_executed_and_final_validation_resolve():
    incident = fold(
        log(
            OPENED,
            (EventType.PROPOSED, {"attempt": 1, "action": "retry"}),
            (EventType.GATED, {"attempt": 1, "action": "retry"}),
            (EventType.ACTION_STARTED, {"attempt": 1}),
            (EventType.EXECUTED, {"attempt": 1, "job_run_id": "jr_2"}),
            (EventType.VALIDATED, {"attempt": 1, "run_state": "RUNNING", "final": False}),
        )
    )
    assert incident.current_attempt.job_run_id == "jr_2"
    assert incident.current_attempt.run_state == "RUNNING" and incident.current_attempt.fixed is None
    assert incident.outcome is Outcome.OPEN
    assert incident.executed_attempts == 1

    resolved = fold(
        log(
            OPENED,
            (EventType.PROPOSED, {"attempt": 1, "action": "retry"}),
            (EventType.GATED, {"attempt": 1, "action": "retry"}),
            (EventType.EXECUTED, {"attempt": 1, "job_run_id": "jr_2"}),
            (
                EventType.VALIDATED,
                {"run_state": "SUCCEEDED", "final": True, "fixed": True, "elapsed_seconds": 90},
            ),
        )
    )
    assert resolved.outcome is Outcome.RESOLVED
    assert resolved.current_attempt.fixed is True and resolved.current_attempt.elapsed_seconds == 90.0
    assert resolved.closed_at == "2026-11-01T00:00:04.000Z"


def test_failed_validation_is_not_resolved():
    incident = fold(
        log(
            OPENED,
            (EventType.PROPOSED, {"attempt": 1, "action": "retry"}),
            (EventType.GATED, {"attempt": 1, "action": "retry"}),
            (EventType.EXECUTED, {"attempt": 1, "job_run_id": "jr_2"}),
            (EventType.VALIDATED, {"run_state": "FAILED", "final": True, "fixed": False}),
        )
    )
    assert incident.current_attempt.fixed is False and incident.outcome is Outcome.OPEN


def test_escalated_human_decided_and_learned():
    incident = fold(
        log(
            OPENED,
            (EventType.ESCALATED, {"reason": "because"}),
            (EventType.HUMAN_DECIDED, {"decision": "fixed"}),
            (EventType.LEARNED, {}),
        )
    )
    assert incident.outcome is Outcome.ESCALATED and incident.escalation_reason == "because"
    assert incident.human_decision == {"decision": "fixed"}
    assert incident.closed_at == "2026-11-01T00:00:02.000Z"
    assert incident.learned and incident.last_seq == 3


def test_gated_executed_validated_without_an_attempt_are_ignored():
    incident = fold(
        log(
            OPENED,
            (EventType.GATED, {"action": "retry"}),
            (EventType.EXECUTED, {"job_run_id": "x"}),
            (EventType.VALIDATED, {"final": True, "fixed": True}),
        )
    )
    assert incident.attempts == [] and incident.outcome is Outcome.OPEN


def test_fold_orders_by_seq_and_needs_an_event():
    events = log(OPENED, (EventType.PROPOSED, {"attempt": 1, "action": "retry"}))
    assert fold(reversed(events)).current_attempt.proposed is Action.RETRY
    with pytest.raises(ValueError):
        fold([])


def test_event_round_trips_through_dict():
    event = IncidentEvent("inc-1", 3, EventType.GATED, "t", {"a": 1})
    assert IncidentEvent.from_dict(event.to_dict()) == event


def test_incident_id_is_deterministic_and_distinct():
    assert incident_id_for("orders", "jr_1") == incident_id_for("orders", "jr_1")
    ids = {
        incident_id_for(j, r)
        for j, r in [("orders", "jr_1"), ("orders", "jr_2"), ("orders2", "jr_1"), ("a", "bc"), ("ab", "c")]
    }
    assert len(ids) == 5
    assert all(i.startswith("inc-") and len(i) == 20 for i in ids)
