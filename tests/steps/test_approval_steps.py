"""Approve-then-execute on in-memory fakes: the held proposal, the message that asks for it, the token in
the log, the checked answer, and what Execute and Learn make of it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import T0, make_deps
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.domain import decisions
from selfheal_core.domain.decisions import LearningTerms
from selfheal_core.domain.events import Answered, AnswerRequested, Escalated, Executed, Learned, Proposed
from selfheal_core.domain.incident import Outcome, incident_id_for
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.steps import answers, diagnose, escalate, execute, learn, safety_gate, validate
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category

JOB = "revenue-close"
RUN = "jr_failed"
EVENT = {
    "id": "evt-1",
    "source": "aws.glue",
    "detail-type": "Glue Job State Change",
    "detail": {"jobName": JOB, "jobRunId": RUN, "state": "FAILED", "message": "cannot resolve 'amount'"},
}
INCIDENT = incident_id_for(JOB, RUN)
ASKING = SafetySettings(ask_approval=True)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class Verdict:
    category = Category.SCHEMA_DRIFT
    confidence = 0.95
    signature = "drift"
    evidence = ("cannot resolve 'amount'",)


class LabelSink:
    def __init__(self) -> None:
        self.lines: list[Mapping[str, Any]] = []

    def append(self, record: Mapping[str, Any]) -> None:
        self.lines.append(dict(record))


class NoLinks:
    def links(self, incident_id: str, question: str, expires_at: str) -> Mapping[str, str]:
        return {"approve": f"https://answers.example/{incident_id}/approve?until={expires_at}"}


def held_rollback(criticality: str = "critical", safety: SafetySettings = ASKING) -> Any:
    """A critical job whose table dropped a column: diagnosed, rollback proposed, gated."""
    deps = make_deps({"APPROVALS": "true"})
    glue = deps.glue
    glue.add_job(JOB, {"criticality": criticality}, {"--selfheal-tables": "fin.revenue"})
    glue.add_run(JOB, "jr_ok", "SUCCEEDED", started_on=T0, completed_on=T0 + timedelta(hours=1))
    glue.add_table_version("fin", "revenue", [("id", "bigint"), ("amount", "double")], updated_at=T0)
    glue.add_table_version("fin", "revenue", [("id", "bigint")], updated_at=T0 + timedelta(hours=2))
    glue.add_run(JOB, RUN, "FAILED", started_on=T0 + timedelta(hours=3))
    deps.logs.logs[RUN] = "AnalysisException: cannot resolve 'amount'"
    diagnose.run(
        trigger_from_event(EVENT), EVENT, "exec-1", deps.store, deps.glue, deps.logs, lambda _: Verdict()
    )
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=1, action=Action.ROLLBACK), state.next_seq)
    gate = safety_gate.run(INCIDENT, deps.store, safety, backoff_seconds=60)
    return deps, gate


def escalated(deps: Any, links: Any = None) -> Any:
    return escalate.run(
        {"incident_id": INCIDENT},
        None,
        deps.store,
        deps.notifier,
        False,
        86400,
        "us-east-1",
        approval_timeout_seconds=1800,
        answer_links=links,
        now=lambda: NOW,
    )


def test_the_gate_holds_the_rollback_and_says_why() -> None:
    _, gate = held_rollback()
    assert (gate.action, gate.needs_approval, gate.approval) == (
        "rollback",
        True,
        ("critical_job_low_risk_only",),
    )


def test_escalate_asks_for_the_approval_in_a_message_a_human_can_act_on() -> None:
    deps, _ = held_rollback()
    result = escalated(deps, NoLinks())
    assert (result.question, result.await_human, result.timeout_seconds) == ("approval", True, 1800)
    ((subject, message),) = deps.notifier.messages
    assert subject == f"selfheal: approve rollback on {JOB}? (schema_drift)" and len(subject) <= 100
    text = message["text"]
    assert f"selfheal asks for your approval to run rollback on job {JOB} (run {RUN})" in text
    assert "Held by:      critical_job_low_risk_only" in text
    assert "Attempt 1:    proposed rollback, gated rollback: held for your approval" in text
    assert f"selfheal incidents approve {INCIDENT}" in text and "2026-12-01T02:30:00Z" in text
    assert "fin.revenue (version" in text and "removed amount" in text
    assert "Bad records:  not measured" in text
    assert f"approve: https://answers.example/{INCIDENT}/approve" in text
    assert "execution" in message["links"] or "glue_run" in message["links"]
    assert message["approval_rules"] == ["critical_job_low_risk_only"]
    assert message["question"] == "approval" and message["expires_at"] == "2026-12-01T02:30:00Z"


def test_the_wait_records_its_token_once() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)  # a retried invocation
    requests = [r.event for r in deps.store.load(INCIDENT) if isinstance(r.event, AnswerRequested)]
    assert requests == [
        AnswerRequested(
            "approval", Action.ROLLBACK, ("critical_job_low_risk_only",), "token-1", "2026-12-01T02:30:00Z"
        )
    ]


def test_an_invalid_answer_is_recorded_as_a_rejection_and_nothing_runs() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    human = answers.record(INCIDENT, {"decision": "approved", "answered_by": "bob"}, deps.store)
    assert human.decision == "reject" and "did you mean approve" in human.notes and human.by == "bob"
    state = load_state(deps.store, INCIDENT)
    assert state.waiting is None and state.current_attempt is not None and state.current_attempt.held
    # Defence in depth: Execute refuses an action held for an approval that was not given.
    result = execute.run(INCIDENT, deps.store, deps.glue, "s3://q/", poll_seconds=30)
    assert result.stopped_by == "awaiting_approval" and result.job_run_id is None
    assert deps.glue.started == []
    assert deps.store.last(INCIDENT, Executed).stopped_by == "awaiting_approval"


def test_an_approved_rollback_that_holds_is_an_assisted_resolution_and_a_success_for_the_learner() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    human = answers.record(INCIDENT, {"decision": "approve", "answered_by": "ana"}, deps.store)
    assert human.decision == "approve"
    ran = execute.run(INCIDENT, deps.store, deps.glue, "s3://q/", poll_seconds=30)
    assert ran.job_run_id and ran.restored
    deps.glue.set_run(JOB, ran.job_run_id, state="SUCCEEDED", completed_on=T0 + timedelta(hours=4))
    assert validate.run(INCIDENT, deps.store, deps.glue, 3, 5).fixed
    result = learn.run(INCIDENT, human, deps.store, deps.qtable, deps.config.learner, ASKING, True)
    state = load_state(deps.store, INCIDENT)
    assert result.outcome == "resolved" and state.assisted and state.outcome is Outcome.RESOLVED
    assert [r.event.decision for r in deps.store.load(INCIDENT) if isinstance(r.event, Answered)] == [
        "approve"
    ]
    (transition,) = decisions.transitions(state, SafetyGate(ASKING), LearningTerms())
    assert transition.action is Action.ROLLBACK and transition.next_state is None
    assert transition.reward > reward_after({"decision": "timeout"})  # the fix's success, not a human's


def reward_after(answer: Mapping[str, Any]) -> float:
    """The held rollback's reward when the approval was answered with ``answer``."""
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    answers.record(INCIDENT, answer, deps.store)
    (transition,) = decisions.transitions(
        load_state(deps.store, INCIDENT), SafetyGate(ASKING), LearningTerms()
    )
    return transition.reward


def test_a_rejected_proposal_is_a_veto_and_a_human_owns_the_incident() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    human = answers.record(INCIDENT, {"decision": "reject", "note": "not during close"}, deps.store)
    learn.run(INCIDENT, human, deps.store, deps.qtable, deps.config.learner, ASKING, True)
    state = load_state(deps.store, INCIDENT)
    assert state.outcome is Outcome.ESCALATED and not state.assisted
    assert deps.store.last(INCIDENT, Learned).outcome == "escalated"
    (transition,) = decisions.transitions(state, SafetyGate(ASKING), LearningTerms())
    # A rejection is the human's veto; silence says nothing of the proposal.
    assert transition.reward < reward_after({"decision": "timeout"})


def test_a_true_category_becomes_a_labelled_example_in_the_corpus_format() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    labels = LabelSink()
    answers.record(
        INCIDENT,
        {
            "decision": "resolved",
            "category": "type_mismatch",
            "action": "rollback",
            "note": "AKIAABCDEFGHIJKLMNOP",
        },
        deps.store,
        labels,
    )
    (line,) = labels.lines
    assert set(line) == {"message", "category", "source", "group", "note", "hard"}
    assert (line["category"], line["source"], line["group"]) == (
        "type_mismatch",
        f"human:{INCIDENT}",
        f"human:{INCIDENT}",
    )
    assert line["message"] == "cannot resolve 'amount'"
    assert deps.store.last(INCIDENT, Answered).category == "type_mismatch"


def test_the_reason_names_the_kill_switch_not_the_policy() -> None:
    deps, _ = held_rollback(safety=SafetySettings(ask_approval=True, kill_switch=True))
    result = escalated(deps)
    assert result.question is None
    assert "kill_switch (the kill switch is on" in result.reason
    ((_, message),) = deps.notifier.messages
    assert message["safety_rules"][0] == "kill_switch"


def test_an_escalate_proposal_names_the_rules_that_left_no_automated_action() -> None:
    deps = make_deps()
    deps.glue.add_job(JOB, {"criticality": "medium"}, {})
    deps.glue.add_run(JOB, RUN, "FAILED", started_on=T0)

    class Denied(Verdict):
        category = Category.PERMISSION

    diagnose.run(
        trigger_from_event(EVENT), EVENT, "exec-1", deps.store, deps.glue, deps.logs, lambda _: Denied()
    )
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=1, action=Action.ESCALATE), state.next_seq)
    safety_gate.run(INCIDENT, deps.store, SafetySettings(), backoff_seconds=60)
    result = escalated(deps)
    assert "no automated action was allowed: human_only_category" in result.reason
    assert "policy judged" not in result.reason
    assert deps.store.last(INCIDENT, Escalated).reason == result.reason


def test_an_incident_asks_for_one_approval_at_most() -> None:
    deps, _ = held_rollback()
    escalated(deps)
    answers.request(INCIDENT, "approval", "token-1", 1800, deps.store, NOW)
    answers.record(INCIDENT, {"decision": "approve"}, deps.store)
    ran = execute.run(INCIDENT, deps.store, deps.glue, "s3://q/", poll_seconds=30)
    deps.glue.set_run(JOB, ran.job_run_id, state="FAILED", completed_on=T0 + timedelta(hours=4))
    assert validate.run(INCIDENT, deps.store, deps.glue, 3, 5).attempts_left
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=2, action=Action.ROLLBACK), state.next_seq)
    second = safety_gate.run(INCIDENT, deps.store, ASKING, backoff_seconds=60)
    assert (second.action, second.needs_approval) == ("escalate", False)
    assert second.rules_fired == ("critical_job_low_risk_only",)
