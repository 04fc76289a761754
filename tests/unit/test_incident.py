from __future__ import annotations

import pytest
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import (
    ActionStarted,
    Answered,
    Diagnosed,
    DomainEvent,
    Escalated,
    Executed,
    Gated,
    IncidentEvent,
    Learned,
    Opened,
    Proposed,
    Validated,
)
from selfheal_core.domain.incident import Outcome, evolve, fold, incident_id_for
from selfheal_core.vocabulary import Action, Category, Criticality


def log(*events: DomainEvent) -> list[IncidentEvent]:
    return [IncidentEvent("inc-1", i, f"2026-11-01T00:00:{i:02d}.000Z", e) for i, e in enumerate(events)]


OPENED = Opened("orders", "jr_1", "ex-1", {"id": "e"})
RETRY_PROPOSED = Proposed(1, Action.RETRY)
RETRY_GATED = Gated(1, Action.RETRY, Action.RETRY)


def test_opened_sets_identity():
    state = fold(log(OPENED))
    assert (state.job_name, state.job_run_id, state.execution_id) == ("orders", "jr_1", "ex-1")
    assert state.trigger == {"id": "e"}
    assert state.opened_at == "2026-11-01T00:00:00.000Z"
    assert state.outcome is Outcome.OPEN and state.last_seq == 0 and state.next_seq == 1


def test_diagnosed_keeps_the_typed_diagnosis_and_feeds_the_context():
    diagnosis = Diagnosis("orders", Category.THROTTLING, 0.9, "sig", ("line",), Criticality.HIGH, "high")
    state = fold(log(OPENED, Diagnosed(diagnosis)))
    assert state.diagnosis == diagnosis
    ctx = state.next_context()
    assert (ctx.category, ctx.criticality, ctx.risk, ctx.attempt) == (
        Category.THROTTLING,
        Criticality.HIGH,
        "high",
        1,
    )


def test_an_undiagnosed_incident_is_decided_as_unknown():
    ctx = fold(log(OPENED)).next_context()
    assert ctx.category is Category.UNKNOWN and ctx.confidence == 0.0


def test_proposed_and_gated_build_an_attempt():
    gated = Gated(1, Action.ROLLBACK, Action.ESCALATE, rules_fired=("kill_switch",), shadow=True)
    state = fold(log(OPENED, Proposed(1, Action.ROLLBACK, allowed=(Action.ESCALATE,)), gated))
    attempt = state.current_attempt
    assert attempt is not None and attempt.number == 1
    assert attempt.proposed is Action.ROLLBACK and attempt.action is Action.ESCALATE and attempt.vetoed
    assert attempt.rules_fired == ("kill_switch",) and attempt.shadow
    assert attempt.allowed == (Action.ESCALATE,) and attempt.gated == gated
    assert state.previous_actions == (Action.ESCALATE,)


def test_executed_and_final_validation_resolve():
    running = fold(
        log(
            OPENED,
            RETRY_PROPOSED,
            RETRY_GATED,
            ActionStarted(1, Action.RETRY, "inc-1#1"),
            Executed(1, Action.RETRY, "jr_2", awaiting_run=True),
            Validated(1, "jr_2", "RUNNING", final=False),
        )
    )
    attempt = running.current_attempt
    assert attempt is not None and attempt.job_run_id == "jr_2" and attempt.started_marker == "inc-1#1"
    assert attempt.run_state == "RUNNING" and attempt.fixed is None and attempt.polls == 1
    assert running.outcome is Outcome.OPEN

    resolved = fold(
        log(
            OPENED,
            RETRY_PROPOSED,
            RETRY_GATED,
            Executed(1, Action.RETRY, "jr_2", awaiting_run=True),
            Validated(1, "jr_2", "SUCCEEDED", final=True, fixed=True, elapsed_seconds=90),
        )
    )
    assert resolved.outcome is Outcome.RESOLVED
    assert resolved.current_attempt is not None
    assert resolved.current_attempt.fixed is True and resolved.current_attempt.elapsed_seconds == 90.0
    assert resolved.closed_at == "2026-11-01T00:00:04.000Z"


def test_a_stopped_action_records_the_switch_that_stopped_it():
    state = fold(
        log(OPENED, RETRY_PROPOSED, RETRY_GATED, Executed(1, Action.RETRY, stopped_by="kill_switch"))
    )
    attempt = state.current_attempt
    assert attempt is not None and attempt.kill_switch and "kill_switch" in attempt.rules_fired


def test_failed_validation_is_not_resolved():
    state = fold(
        log(
            OPENED,
            RETRY_PROPOSED,
            RETRY_GATED,
            Executed(1, Action.RETRY, "jr_2", awaiting_run=True),
            Validated(1, "jr_2", "FAILED", final=True, fixed=False),
        )
    )
    assert state.current_attempt is not None and state.current_attempt.fixed is False
    assert state.outcome is Outcome.OPEN


def test_escalated_answered_and_learned():
    state = fold(log(OPENED, Escalated("because"), Answered("fixed", by="me"), Learned("escalated")))
    assert state.outcome is Outcome.ESCALATED and state.escalation_reason == "because"
    assert state.answer == Answered("fixed", by="me")
    assert state.closed_at == "2026-11-01T00:00:02.000Z"
    assert state.learned and state.last_seq == 3 and state.escalated_count == 1


def test_gated_executed_validated_without_an_attempt_are_ignored():
    state = fold(
        log(OPENED, RETRY_GATED, Executed(1, Action.RETRY, "x"), Validated(1, "x", "SUCCEEDED", True, True))
    )
    assert state.attempts == () and state.outcome is Outcome.OPEN


def test_evolve_is_pure():
    records = log(OPENED, RETRY_PROPOSED)
    before = fold(records[:1])
    after = evolve(before, records[1])
    assert before.attempts == () and len(after.attempts) == 1 and before.last_seq == 0


def test_fold_orders_by_seq_and_needs_an_event():
    records = log(OPENED, RETRY_PROPOSED)
    state = fold(reversed(records))
    assert state.current_attempt is not None and state.current_attempt.proposed is Action.RETRY
    with pytest.raises(ValueError):
        fold([])


def test_incident_id_is_deterministic_and_distinct():
    assert incident_id_for("orders", "jr_1") == incident_id_for("orders", "jr_1")
    ids = {
        incident_id_for(j, r)
        for j, r in [("orders", "jr_1"), ("orders", "jr_2"), ("orders2", "jr_1"), ("a", "bc"), ("ab", "c")]
    }
    assert len(ids) == 5
    assert all(i.startswith("inc-") and len(i) == 20 for i in ids)
