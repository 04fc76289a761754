"""The use cases on in-memory fakes: ordering, idempotency and the records each step leaves behind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fakes import T0, SimulatedCrash, make_deps
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.contracts import (
    DiagnoseResult,
    ExecuteResult,
    GateResult,
    HumanAnswer,
    LearnResult,
    ProposeResult,
    ValidateResult,
)
from selfheal_core.domain.events import (
    Answered,
    Diagnosed,
    DomainEvent,
    Escalated,
    Executed,
    Gated,
    IncidentEvent,
    Learned,
    Notified,
    Proposed,
    RestoredTable,
    Validated,
)
from selfheal_core.domain.incident import Outcome, incident_id_for
from selfheal_core.domain.qlearning import ACTION_INDEX, N_ACTIONS, LearnerSettings, QEntry, state_key
from selfheal_core.domain.reward import RewardWeights
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.errors import InvalidInputError, RemediationError
from selfheal_core.steps import diagnose, escalate, execute, learn, propose, safety_gate, validate
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category

JOB = "orders-daily"
FAILED_RUN = "jr_failed"
MESSAGE = "An error occurred while calling o88.pyWriteDynamicFrame"
EVENT = {
    "id": "evt-1",
    "source": "aws.glue",
    "detail-type": "Glue Job State Change",
    "detail": {"jobName": JOB, "jobRunId": FAILED_RUN, "state": "FAILED", "message": MESSAGE},
}
INCIDENT = incident_id_for(JOB, FAILED_RUN)
SAFE = SafetySettings()


@dataclass(frozen=True)
class Verdict:
    category: Category
    confidence: float = 0.9
    signature: str | None = "sig"
    evidence: tuple[str, ...] = ("the evidence line",)


def classifier(category: Category, confidence: float = 0.9):
    seen: list[str] = []

    def classify(text: str) -> Verdict:
        seen.append(text)
        return Verdict(category, confidence)

    classify.seen = seen  # type: ignore[attr-defined]
    return classify


def seed(deps, *, drift: bool = False, tags=None, log: str | None = "ERROR the failure from the log"):
    """A job that succeeded at T0+1h, whose table changed at T0+2h (when ``drift``) and failed at T0+3h."""
    glue = deps.glue
    glue.add_job(JOB, tags or {"criticality": "medium"}, {"--selfheal-tables": "sales.orders"})
    glue.add_run(JOB, "jr_ok", "SUCCEEDED", started_on=T0, completed_on=T0 + timedelta(hours=1))
    glue.add_table_version("sales", "orders", [("id", "bigint"), ("amount", "double")], updated_at=T0)
    if drift:
        glue.add_table_version(
            "sales", "orders", [("id", "bigint"), ("amount", "string")], updated_at=T0 + timedelta(hours=2)
        )
    glue.add_run(
        JOB,
        FAILED_RUN,
        "FAILED",
        arguments={"--day": "2026-11-01", "--JOB_ID": "j_123", "--job-bookmark-option-from": "x"},
        error_message="run error message",
        started_on=T0 + timedelta(hours=3),
    )
    if log is not None:
        deps.logs.logs[FAILED_RUN] = log


def run_diagnose(
    deps, classify, execution_id: str = "exec-1", event: Mapping[str, Any] = EVENT
) -> DiagnoseResult:
    """Diagnose as its handler calls it: the trigger parsed from the EventBridge event."""
    return diagnose.run(
        trigger_from_event(event), event, execution_id, deps.store, deps.glue, deps.logs, classify
    )


def diagnosed(deps, category: Category, confidence: float = 0.9, **seed_kw) -> str:
    seed(deps, **seed_kw)
    return run_diagnose(deps, classifier(category, confidence)).incident_id


def append(store, event: DomainEvent, incident_id: str = INCIDENT) -> IncidentEvent:
    """Append ``event`` at the next sequence number of the incident's log (as a step would)."""
    return store.append(incident_id, event, load_state(store, incident_id).next_seq)


def proposed(deps, action: Action, attempt: int | None = None) -> None:
    state = load_state(deps.store, INCIDENT)
    number = attempt or len(state.attempts) + 1
    deps.store.append(INCIDENT, Proposed(attempt=number, action=action), state.next_seq)


def gated(deps, action: Action, safety: SafetySettings = SAFE) -> GateResult:
    proposed(deps, action)
    return safety_gate.run(INCIDENT, deps.store, safety, backoff_seconds=60)


def executed(deps, action: Action, safety: SafetySettings = SAFE) -> ExecuteResult:
    gate = gated(deps, action, safety)
    assert gate.action == action.value, gate
    return execute.run(INCIDENT, deps.store, deps.glue, "s3://q/root/", poll_seconds=30)


def validated(deps, max_attempts: int = 3, max_polls: int = 5) -> ValidateResult:
    return validate.run(INCIDENT, deps.store, deps.glue, max_attempts, max_polls)


def do_propose(deps, safety: SafetySettings, explore: bool, learner=None, seed: str = "") -> ProposeResult:
    return propose.run(
        INCIDENT,
        deps.store,
        deps.qtable,
        learner or LearnerSettings(),
        safety,
        explore=explore,
        exploration_seed=seed,
    )


def finish_run(deps, state: str, minutes: float = 10.0) -> None:
    run_id = load_state(deps.store, INCIDENT).current_attempt.job_run_id
    deps.glue.set_run(
        JOB,
        run_id,
        state=state,
        started_on=T0,
        completed_on=T0 + timedelta(minutes=minutes),
        error_message=None if state == "SUCCEEDED" else "still broken",
    )


# -- Diagnose ----------------------------------------------------------------------------------------
def test_diagnose_opens_once_and_another_execution_is_a_duplicate():
    deps = make_deps()
    seed(deps)
    classify = classifier(Category.THROTTLING)
    first = run_diagnose(deps, classify, "exec-1")
    assert first.duplicate is False and first.category == "throttling"
    assert first.incident_id == INCIDENT

    second = run_diagnose(deps, classify, "exec-2")
    assert second.duplicate is True and second.reason is not None and "exec-1" in second.reason
    assert second.category is None and second.confidence is None and second.risk is None

    retry = run_diagnose(deps, classify, "exec-1")
    assert retry.duplicate is False and retry.category == "throttling"
    assert retry == first  # a retried Diagnose reports the diagnosis it already recorded

    assert len(deps.store) == 1
    types = deps.store.types(INCIDENT)
    assert types.count("opened") == 1
    # The duplicate wrote nothing, and the retry kept the recorded diagnosis (no second classification).
    assert types.count("diagnosed") == 1
    assert len(classify.seen) == 1


def test_a_retried_diagnose_keeps_its_diagnosis_even_if_the_classifier_changed():
    deps = make_deps()
    seed(deps)
    first = run_diagnose(deps, classifier(Category.THROTTLING), "exec-1")
    later = classifier(Category.PERMISSION)  # e.g. an operator signature published in between
    retry = run_diagnose(deps, later, "exec-1")
    assert first.category == retry.category == "throttling"
    assert later.seen == []
    assert load_state(deps.store, INCIDENT).diagnosis.category is Category.THROTTLING


def test_diagnose_reads_message_run_error_and_log_in_that_order():
    deps = make_deps()
    seed(deps, log="the log line")
    classify = classifier(Category.THROTTLING)
    run_diagnose(deps, classify)
    assert classify.seen == [f"{MESSAGE}\nrun error message\nthe log line"]
    event = deps.store.last(INCIDENT, Diagnosed)
    assert event.log_sources == (f"/aws-glue/jobs/error:{FAILED_RUN}",)
    assert event.log_truncated is False


def test_diagnose_detects_drift_against_the_last_success():
    deps = make_deps()
    seed(deps, drift=True)
    result = run_diagnose(deps, classifier(Category.TYPE_MISMATCH))
    assert result.drift is True
    report = deps.store.last(INCIDENT, Diagnosed).diagnosis.drift[0]
    assert report.table == "sales.orders"
    assert (report.baseline_version, report.current_version) == ("1", "2")
    assert report.type_changed == (("amount", "double", "string"),)


def test_missing_job_run_and_log_become_notes_not_errors():
    deps = make_deps()  # nothing seeded at all
    result = run_diagnose(deps, classifier(Category.UNKNOWN))
    assert result.category == "unknown" and result.drift is False
    notes = deps.store.last(INCIDENT, Diagnosed).diagnosis.notes
    assert any(n.startswith("job not readable") for n in notes)
    assert any(n.startswith("failed run not readable") for n in notes)
    assert any(n.startswith("run history not readable") for n in notes)
    assert f"no CloudWatch log found for run {FAILED_RUN}" in notes


def test_missing_declared_table_becomes_a_note():
    deps = make_deps()
    deps.glue.add_job(JOB, {}, {"--selfheal-tables": "sales.orders, sales.gone"})
    deps.glue.add_table_version("sales", "orders", [("id", "int")])
    run_diagnose(deps, classifier(Category.SCHEMA_DRIFT))
    diagnosis = deps.store.last(INCIDENT, Diagnosed).diagnosis
    assert any(n.startswith("table sales.gone not readable") for n in diagnosis.notes)
    assert [r.table for r in diagnosis.drift] == ["sales.orders"]


def test_diagnose_only_reads_glue():
    deps = make_deps()
    seed(deps, drift=True)
    run_diagnose(deps, classifier(Category.SCHEMA_DRIFT))
    assert deps.glue.started == [] and deps.glue.restores == []
    assert set(deps.glue.calls) <= {
        "get_job",
        "get_job_run",
        "recent_runs",
        "table_versions",
        "data_quality_rows",
    }


# -- Propose -----------------------------------------------------------------------------------------
def greedy_row_for(action: Action, value: float = 100.0) -> QEntry:
    values = np.full(N_ACTIONS, -50.0)
    values[ACTION_INDEX[action]] = value
    return QEntry(values, np.full(N_ACTIONS, 100, dtype=int), 1)


@pytest.mark.parametrize("seed_value", range(20))
def test_propose_never_proposes_a_masked_action(seed_value):
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    ctx = load_state(deps.store, INCIDENT).context(1, ())
    deps.qtable.put(state_key(ctx), greedy_row_for(Action.RETRY))  # the table loves retry
    learner = LearnerSettings(epsilon=1.0, epsilon_min=1.0)  # always explore
    result = do_propose(deps, SAFE, explore=True, learner=learner, seed=f"seed-{seed_value}")
    assert result.action == "escalate"
    assert deps.store.last(INCIDENT, Proposed).allowed == (Action.ESCALATE,)


def test_propose_follows_the_rulebook_on_an_empty_table_and_counts_attempts():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    first = do_propose(deps, SAFE, explore=False)
    assert first == ProposeResult(attempt=1, action="backoff_retry", explored=False)
    event = deps.store.last(INCIDENT, Proposed)
    assert event.state.startswith("throttling|") and set(event.q_values) == {a.value for a in Action}
    safety_gate.run(INCIDENT, deps.store, SAFE, 60)
    second = do_propose(deps, SAFE, explore=False)
    assert second.attempt == 2
    assert len(deps.qtable) == 0  # proposing reads the table, it never writes it


@pytest.mark.parametrize("seed_value", range(8))
def test_a_retried_propose_before_the_gate_returns_the_same_proposal(seed_value):
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    learner = LearnerSettings(epsilon=1.0, epsilon_min=1.0)  # always explore: a fresh draw could differ
    first = do_propose(deps, SAFE, explore=True, learner=learner, seed=f"seed-{seed_value}")
    retry = do_propose(deps, SAFE, explore=True, learner=learner, seed=f"other-{seed_value}")
    assert retry == first  # the same attempt, action and exploration flag: no attempt is burnt
    assert deps.store.types(INCIDENT).count("proposed") == 1
    state = load_state(deps.store, INCIDENT)
    assert len(state.attempts) == 1 and state.current_attempt.proposed.value == first.action
    safety_gate.run(INCIDENT, deps.store, SAFE, 60)
    assert do_propose(deps, SAFE, explore=False).attempt == 2  # once gated, the next propose is new


# -- SafetyGate --------------------------------------------------------------------------------------
def test_gate_writes_gated_with_the_rules_that_fired():
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    result = gated(deps, Action.RETRY)
    assert result.action == "escalate" and result.proposed == "retry"
    assert "human_only_category" in result.rules_fired and result.wait_seconds == 0
    event = deps.store.last(INCIDENT, Gated)
    assert event.attempt == 1 and event.rules_fired == result.rules_fired
    assert event.action is Action.ESCALATE and event.proposed is Action.RETRY
    assert event.kill_switch is False and event.mode == "auto"


def test_a_retried_gate_returns_its_recorded_verdict():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    first = gated(deps, Action.RETRY)
    assert first.action == "retry"
    # The switches flipped between the two tries: the verdict already recorded stands (Execute re-reads them).
    again = safety_gate.run(INCIDENT, deps.store, replace(SAFE, kill_switch=True), backoff_seconds=60)
    assert again == first
    assert deps.store.types(INCIDENT).count("gated") == 1


def test_backoff_wait_doubles_per_attempt():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    waits = []
    for _ in range(3):
        result = gated(deps, Action.BACKOFF_RETRY)
        assert result.action == "backoff_retry"
        waits.append(result.wait_seconds)
    assert waits == [60, 120, 240]
    recorded = [r.event.wait_seconds for r in deps.store.load(INCIDENT) if isinstance(r.event, Gated)]
    assert recorded == waits


def test_plain_retry_does_not_wait():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    assert gated(deps, Action.RETRY).wait_seconds == 0


def test_gate_needs_a_proposal():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    with pytest.raises(InvalidInputError, match="no proposal"):
        safety_gate.run(INCIDENT, deps.store, SAFE, 60)


def test_gate_in_shadow_mode_records_the_proposal_and_escalates():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    result = gated(deps, Action.BACKOFF_RETRY, replace(SAFE, mode=Mode.SHADOW))
    assert result == GateResult(
        action="escalate",
        proposed="backoff_retry",
        rules_fired=("shadow_mode",),
        shadow=True,
        wait_seconds=0,
    )


def test_gate_with_kill_switch_escalates():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    result = gated(deps, Action.RETRY, replace(SAFE, kill_switch=True))
    assert result.action == "escalate" and result.rules_fired[0] == "kill_switch"


# -- Execute -----------------------------------------------------------------------------------------
def test_execute_records_intent_before_calling_glue_and_passes_the_run_arguments():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    result = executed(deps, Action.RETRY)
    trace = deps.store.trace
    assert (
        trace.index("store.action_started")
        < trace.index("glue.start_job_run")
        < trace.index("store.executed")
    )
    assert len(deps.glue.started) == 1
    job, arguments = deps.glue.started[0]
    assert job == JOB
    assert arguments == {
        "--day": "2026-11-01",
        "--selfheal-attempt": f"{INCIDENT}#1",
        "--selfheal-action": "retry",
    }
    assert result.awaiting_run is True and result.poll_seconds == 30
    assert result.job_run_id == deps.glue.runs[JOB][-1].run_id


def test_execute_quarantine_adds_the_quarantine_path():
    deps = make_deps()
    diagnosed(
        deps,
        Category.DATA_QUALITY,
        log="214 of 50211 records failed validation",
        tags={"criticality": "medium", "selfheal:quarantine": "enabled"},
    )
    result = executed(deps, Action.QUARANTINE)
    path = f"s3://q/root/{JOB}/{INCIDENT}/"
    assert deps.glue.started[0][1]["--selfheal-quarantine-path"] == path
    assert deps.glue.started[0][1]["--selfheal-action"] == "quarantine"
    assert result.action == "quarantine" and result.awaiting_run is True
    assert deps.store.last(INCIDENT, Executed).quarantine_path == path


def test_execute_rollback_restores_the_baseline_version_then_reruns():
    deps = make_deps()
    diagnosed(deps, Category.TYPE_MISMATCH, drift=True)
    result = executed(deps, Action.ROLLBACK)
    assert deps.glue.restores == [("sales", "orders", "1")]
    assert result.action == "rollback" and result.awaiting_run is True
    assert deps.store.last(INCIDENT, Executed).restored == (RestoredTable("sales.orders", "1"),)
    assert deps.store.trace.index("glue.restore_table_version") < deps.store.trace.index("glue.start_job_run")
    assert len(deps.glue.started) == 1


def test_a_retried_execute_after_it_finished_reports_the_same_run():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    first = executed(deps, Action.RETRY)
    again = execute.run(INCIDENT, deps.store, deps.glue, "s3://q/root/", poll_seconds=30)
    assert again.job_run_id == first.job_run_id
    assert again == first
    assert len(deps.glue.started) == 1
    assert deps.store.types(INCIDENT).count("executed") == 1


@pytest.mark.parametrize(
    "crash",
    [
        "glue:start_job_run:after",  # the run started, the Lambda died before recording it
        "glue:get_job_run:before",  # died between action_started and the start
        "store:executed",  # the run started, recording it failed
    ],
)
def test_a_crashed_execute_retried_never_starts_a_second_run(crash):
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    gated(deps, Action.RETRY)
    where, *what = crash.split(":")
    if where == "glue":
        deps.glue.crash(what[0], what[1])
    else:
        deps.store.crash_before_append(Executed)
    with pytest.raises(SimulatedCrash):
        execute.run(INCIDENT, deps.store, deps.glue, "", poll_seconds=30)
    result = execute.run(INCIDENT, deps.store, deps.glue, "", poll_seconds=30)
    again = execute.run(INCIDENT, deps.store, deps.glue, "", poll_seconds=30)
    assert len(deps.glue.started) == 1
    assert result.job_run_id == again.job_run_id == deps.glue.runs[JOB][-1].run_id
    types = deps.store.types(INCIDENT)
    assert types.count("action_started") == 1 and types.count("executed") == 1


@pytest.mark.parametrize("action", [Action.ESCALATE, Action.LOG_AND_WAIT])
def test_execute_without_a_glue_action_touches_nothing(action):
    deps = make_deps()
    diagnosed(deps, Category.SOURCE_NOT_READY)
    result = executed(deps, action)
    assert result.awaiting_run is False and result.job_run_id is None
    assert "start_job_run" not in deps.glue.calls
    assert "action_started" not in deps.store.types(INCIDENT)


def test_execute_without_a_gated_action_is_invalid():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    proposed(deps, Action.RETRY)
    with pytest.raises(InvalidInputError):
        execute.run(INCIDENT, deps.store, deps.glue, "", poll_seconds=30)


def test_execute_on_a_deleted_job_is_a_remediation_error():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    gated(deps, Action.RETRY)
    del deps.glue.jobs[JOB]
    with pytest.raises(RemediationError):
        execute.run(INCIDENT, deps.store, deps.glue, "", poll_seconds=30)


# -- Validate ----------------------------------------------------------------------------------------
def test_validate_running_then_succeeded():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    executed(deps, Action.RETRY)
    assert validated(deps) == ValidateResult(status="RUNNING", fixed=False, attempts_left=True)
    finish_run(deps, "SUCCEEDED", minutes=12)
    assert validated(deps) == ValidateResult(status="SUCCEEDED", fixed=True, attempts_left=True)
    state = load_state(deps.store, INCIDENT)
    assert state.outcome is Outcome.RESOLVED
    assert state.current_attempt.elapsed_seconds == 720.0


def test_validate_failed_is_not_fixed_and_counts_attempts_left():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    executed(deps, Action.RETRY)
    finish_run(deps, "FAILED")
    assert validated(deps, max_attempts=3) == ValidateResult(status="FAILED", fixed=False, attempts_left=True)
    event = deps.store.last(INCIDENT, Validated)
    assert event.reason == "run ended FAILED" and event.error_message == "still broken"
    assert event.final is True and event.fixed is False
    assert validated(deps, max_attempts=1).attempts_left is False


def test_validate_gives_up_after_max_polls():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    executed(deps, Action.RETRY)
    results = [validated(deps, max_polls=3) for _ in range(3)]
    assert [r.status for r in results] == ["RUNNING", "RUNNING", "FAILED"]
    assert "still RUNNING after 3 polls" in deps.store.last(INCIDENT, Validated).reason


def test_validate_rollback_that_held():
    deps = make_deps()
    diagnosed(deps, Category.TYPE_MISMATCH, drift=True)
    executed(deps, Action.ROLLBACK)
    finish_run(deps, "SUCCEEDED")
    assert validated(deps).fixed is True


def test_validate_rollback_that_still_shows_drift_is_not_fixed():
    deps = make_deps()
    diagnosed(deps, Category.TYPE_MISMATCH, drift=True)
    executed(deps, Action.ROLLBACK)
    # the producer re-applied its change after the restore
    deps.glue.add_table_version("sales", "orders", [("id", "bigint"), ("amount", "string")])
    finish_run(deps, "SUCCEEDED")
    result = validated(deps)
    assert result == ValidateResult(status="FAILED", fixed=False, attempts_left=True)
    assert "catalog still differs" in deps.store.last(INCIDENT, Validated).reason


def test_validate_without_a_run_is_invalid():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    gated(deps, Action.RETRY)
    with pytest.raises(InvalidInputError):
        validated(deps)


# -- Escalate ----------------------------------------------------------------------------------------
def test_escalate_opens_an_incident_when_diagnose_failed_early():
    deps = make_deps()
    state = {**EVENT, "error": {"Error": "InvalidInputError", "Cause": "invalid diagnose input at event"}}
    result = escalate.run(
        state,
        trigger_from_event(state),
        deps.store,
        deps.notifier,
        await_human=True,
        human_timeout_seconds=60,
        region="us-east-1",
    )
    assert result.incident_id == INCIDENT and result.await_human is True
    assert deps.store.types(INCIDENT) == ["opened", "escalated", "notified"]
    assert len(deps.notifier) == 1
    subject, message = deps.notifier.messages[0]
    assert JOB in subject
    assert "InvalidInputError" in message["reason"] and "invalid diagnose input" in message["reason"]
    assert message["job_run_id"] == FAILED_RUN and message["category"] == "unknown"


def test_a_retried_escalate_publishes_once() -> None:
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    gated(deps, Action.RETRY)
    first = escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    again = escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    assert len(deps.notifier.messages) == 1 and again == first
    assert deps.store.types(INCIDENT).count("escalated") == 1


def test_an_escalation_recorded_but_not_sent_is_sent_by_the_retry() -> None:
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    gated(deps, Action.RETRY)
    deps.store.crash_before_append(Notified)  # the Lambda died after publishing, before recording it
    with pytest.raises(SimulatedCrash):
        escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    # At least once: the message whose delivery was not recorded is sent again, the escalation is not,
    # and both carry the dedupe key recorded with the escalation.
    assert len(deps.notifier.messages) == 2
    assert deps.store.types(INCIDENT).count("escalated") == 1
    assert deps.store.types(INCIDENT)[-1] == "notified"
    key = deps.store.last(INCIDENT, Escalated).notification_id
    assert key and [m["dedupe_key"] for _, m in deps.notifier.messages] == [key, key]


def test_a_published_escalation_the_log_cannot_record_is_not_published_again() -> None:
    """The store fails after the publish: the step does not fail (its retry would publish again)."""
    from selfheal_core.errors import TransientDependencyError

    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    gated(deps, Action.RETRY)
    original = deps.store.append

    def append(incident_id: str, event: Any, expected_seq: int) -> Any:
        if isinstance(event, Notified):
            raise TransientDependencyError("DynamoDB put: ProvisionedThroughputExceededException")
        return original(incident_id, event, expected_seq)

    deps.store.append = append  # type: ignore[method-assign]
    result = escalate.run(
        {"incident_id": INCIDENT},
        None,
        deps.store,
        deps.notifier,
        True,
        60,
        "us-east-1",
        sleep=lambda s: None,
    )
    assert result.incident_id == INCIDENT and len(deps.notifier.messages) == 1
    assert deps.store.types(INCIDENT)[-1] == "escalated"  # pending: the Sweeper re-sends it if need be


def test_escalation_message_has_links_reason_and_evidence():
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    gated(deps, Action.RETRY)
    result = escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, False, 60, "eu-west-1")
    _, message = deps.notifier.messages[0]
    assert "human_only_category" in message["reason"] and message["reason"] == result.reason
    assert message["safety_rules"] and message["proposal"] == "retry"
    assert message["evidence"] == ["the evidence line"] and message["category"] == "permission"
    links = message["links"]
    assert set(links) == {"glue_run", "error_log", "execution"}
    assert links["glue_run"].startswith("https://eu-west-1.console.aws.amazon.com/")
    assert JOB in links["glue_run"] and FAILED_RUN in links["error_log"] and "exec-1" in links["execution"]
    escalated = deps.store.last(INCIDENT, Escalated)
    assert escalated.reason == result.reason and escalated.await_human is False
    assert deps.store.last(INCIDENT, Notified).notification_id == "msg-1"
    assert deps.store.types(INCIDENT)[-2:] == ["escalated", "notified"]
    assert load_state(deps.store, INCIDENT).outcome is Outcome.ESCALATED


def test_log_and_wait_does_not_await_a_human():
    deps = make_deps()
    diagnosed(deps, Category.SOURCE_NOT_READY)
    executed(deps, Action.LOG_AND_WAIT)
    result = escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    assert result.await_human is False
    assert "wait for the next scheduled run" in result.reason
    assert deps.notifier.messages[0][1]["awaiting_decision"] is False


def test_failed_fix_escalation_says_how_many_attempts():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    executed(deps, Action.RETRY)
    finish_run(deps, "FAILED")
    validated(deps)
    result = escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    assert result.await_human is True and "after 1 automated attempt" in result.reason


# -- Learn -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Learning:
    """What Learn returned, and the episode's return as its ``learned`` event records it."""

    result: LearnResult
    total_return: float


def learned(
    deps, safety: SafetySettings = SAFE, enabled: bool = True, human: HumanAnswer | None = None
) -> Learning:
    result = learn.run(INCIDENT, human, deps.store, deps.qtable, LearnerSettings(), safety, enabled)
    return Learning(result, deps.store.last(INCIDENT, Learned).total_return)


def resolved_after(deps, failures: int) -> Learning:
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    for _ in range(failures):
        executed(deps, Action.RETRY)
        finish_run(deps, "FAILED")
        validated(deps)
    executed(deps, Action.RETRY)
    finish_run(deps, "SUCCEEDED")
    validated(deps)
    return learned(deps)


def test_learn_rewards_a_first_try_fix_over_wasted_runs():
    first = make_deps()
    quick = resolved_after(first, failures=0)
    second = make_deps()
    slow = resolved_after(second, failures=1)
    assert quick.result.outcome == slow.result.outcome == "resolved"
    assert quick.result.final_action == "retry"
    assert quick.total_return > slow.total_return
    # the wasted run costs at least its penalty on top of the time
    assert quick.total_return - slow.total_return >= RewardWeights().wasted_run_hours
    # shared + per-job row per step
    assert quick.result.row_updates == 2 and slow.result.row_updates == 4
    assert (quick.result.attempts, slow.result.attempts) == (1, 2)


def test_learn_writes_row_updates_through_the_store():
    deps = make_deps()
    resolved_after(deps, failures=0)
    ctx = load_state(deps.store, INCIDENT).context(1, ())
    assert deps.qtable.applied == [state_key(ctx), f"{JOB}::{state_key(ctx)}"]
    row = deps.qtable.read(state_key(ctx))
    assert row is not None and row.version == 1
    assert row.visits[ACTION_INDEX[Action.RETRY]] == 1 and row.visits.sum() == 1


def test_a_vetoed_proposal_carries_the_penalty():
    vetoed = make_deps()
    diagnosed(vetoed, Category.PERMISSION)
    gated(vetoed, Action.RETRY)  # vetoed to escalate
    escalate.run({"incident_id": INCIDENT}, None, vetoed.store, vetoed.notifier, False, 60, "us-east-1")
    straight = make_deps()
    diagnosed(straight, Category.PERMISSION)
    gated(straight, Action.ESCALATE)
    escalate.run({"incident_id": INCIDENT}, None, straight.store, straight.notifier, False, 60, "us-east-1")

    a, b = learned(vetoed), learned(straight)
    assert b.total_return - a.total_return == pytest.approx(RewardWeights().veto_penalty_hours)
    ctx = load_state(vetoed.store, INCIDENT).context(1, ())
    row = vetoed.qtable.read(state_key(ctx))
    assert row.visits[ACTION_INDEX[Action.RETRY]] == 1  # the policy's choice is what is learned
    assert row.visits[ACTION_INDEX[Action.ESCALATE]] == 0


def test_shadow_mode_learns_nothing():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    shadow = replace(SAFE, mode=Mode.SHADOW)
    do_propose(deps, shadow, explore=False)
    assert safety_gate.run(INCIDENT, deps.store, shadow, 60).shadow is True
    escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, False, 60, "us-east-1")
    result = learned(deps, shadow)
    assert result.result.row_updates == 0 and len(deps.qtable) == 0
    assert deps.store.last(INCIDENT, Learned).row_updates == 0


def test_a_proposal_vetoed_by_the_kill_switch_teaches_nothing():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    gated(deps, Action.RETRY, replace(SAFE, kill_switch=True))
    escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, False, 60, "us-east-1")
    assert learned(deps).result.row_updates == 0 and len(deps.qtable) == 0


def test_kill_switch_learns_nothing_through_the_real_flow():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    killed = replace(SAFE, kill_switch=True)
    do_propose(deps, killed, explore=True)
    assert safety_gate.run(INCIDENT, deps.store, killed, 60).action == "escalate"
    escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, False, 60, "us-east-1")
    assert learned(deps, killed).result.row_updates == 0
    assert len(deps.qtable) == 0


def test_shadow_mode_learns_nothing_even_when_the_policy_escalates():
    deps = make_deps()
    diagnosed(deps, Category.PERMISSION)
    shadow = replace(SAFE, mode=Mode.SHADOW)
    do_propose(deps, shadow, explore=False)
    safety_gate.run(INCIDENT, deps.store, shadow, 60)
    escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, False, 60, "us-east-1")
    assert learned(deps, shadow).result.row_updates == 0


def test_learning_disabled_or_already_learned_writes_nothing():
    deps = make_deps()
    resolved_after(deps, failures=0)
    rows_before = deps.qtable.all_rows()
    again = learned(deps)
    assert again.result.row_updates == 0
    assert deps.qtable.all_rows() == rows_before
    assert deps.store.types(INCIDENT).count("learned") == 1  # a retried Learn records nothing new

    off = make_deps()
    diagnosed(off, Category.TRANSIENT_NETWORK)
    executed(off, Action.RETRY)
    finish_run(off, "SUCCEEDED")
    validated(off)
    assert learned(off, enabled=False).result.row_updates == 0 and len(off.qtable) == 0
    assert off.store.last(INCIDENT, Learned).outcome == "resolved"


def test_human_minutes_to_fix_replace_the_default_human_cost():
    fast, slow = make_deps(), make_deps()
    for deps in (fast, slow):
        diagnosed(deps, Category.CODE_ERROR)
        gated(deps, Action.ESCALATE)
        escalate.run({"incident_id": INCIDENT}, None, deps.store, deps.notifier, True, 60, "us-east-1")
    a = learned(fast, human=HumanAnswer(decision="fixed", minutes_to_fix=30))
    b = learned(slow)
    assert a.result.outcome == "escalated" and a.result.final_action == "escalate"
    assert a.total_return > b.total_return
    assert "answered" in fast.store.types(INCIDENT) and "answered" not in slow.store.types(INCIDENT)
    assert fast.store.last(INCIDENT, Answered) == Answered(decision="fixed", minutes_to_fix=30.0)
