"""Guards against overlapping runs and against acting after the switches change (review findings)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import make_deps
from selfheal_core.contracts import HumanAnswer, ValidateResult
from selfheal_core.domain.events import Answered, Executed, Gated, Proposed, RestoredTable
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.errors import TransientDependencyError
from selfheal_core.steps import execute
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category
from test_steps import (
    FAILED_RUN,
    INCIDENT,
    JOB,
    SAFE,
    append,
    classifier,
    diagnosed,
    executed,
    finish_run,
    gated,
    run_diagnose,
    seed,
    validated,
)


def test_a_failed_run_that_selfheal_started_opens_no_second_incident():
    deps = make_deps()
    seed(deps)
    deps.glue.set_run(JOB, FAILED_RUN, arguments={"--selfheal-attempt": "inc-0123456789abcdef#1"})
    result = run_diagnose(deps, classifier(Category.THROTTLING), "exec-2")
    assert result.duplicate is True
    assert result.reason is not None and "inc-0123456789abcdef" in result.reason
    assert deps.store.load(INCIDENT) == []


def test_a_failure_glue_will_retry_itself_opens_no_incident_until_the_last_attempt():
    deps = make_deps()
    seed(deps)
    deps.glue.jobs[JOB] = replace(deps.glue.jobs[JOB], max_retries=1)
    first = run_diagnose(deps, classifier(Category.THROTTLING), "exec-1")
    assert first.duplicate is True and first.reason is not None and "Glue retries it itself" in first.reason
    assert deps.store.load(INCIDENT) == []

    deps.glue.set_run(JOB, FAILED_RUN, attempt=1)
    last = run_diagnose(deps, classifier(Category.THROTTLING), "exec-2")
    assert last.duplicate is False


def test_the_kill_switch_pulled_during_the_backoff_stops_execute():
    deps = make_deps()
    diagnosed(deps, Category.THROTTLING)
    assert gated(deps, Action.BACKOFF_RETRY).action == "backoff_retry"
    pulled = SafetySettings(kill_switch=True)
    result = execute.run(INCIDENT, deps.store, deps.glue, "s3://q/", 30, safety=pulled)
    assert result.awaiting_run is False and result.stopped_by == "kill_switch"
    assert deps.glue.started == []
    attempt = load_state(deps.store, INCIDENT).current_attempt
    assert attempt is not None and attempt.kill_switch and "kill_switch" in attempt.rules_fired


def test_shadow_mode_switched_on_after_the_gate_stops_execute():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    gated(deps, Action.RETRY)
    result = execute.run(
        INCIDENT, deps.store, deps.glue, "s3://q/", 30, safety=SafetySettings(mode=Mode.SHADOW)
    )
    assert result.stopped_by == "shadow_mode" and deps.glue.started == []
    attempt = load_state(deps.store, INCIDENT).current_attempt
    assert attempt is not None and attempt.shadow and "shadow_mode" in attempt.rules_fired


def test_a_retry_after_a_quarantine_does_not_inherit_the_quarantine_path():
    deps = make_deps()
    seed(deps, log="214 of 50211 records failed validation", tags={"selfheal:quarantine": "enabled"})
    deps.glue.set_run(
        JOB,
        FAILED_RUN,
        arguments={
            "--day": "2026-11-01",
            "--selfheal-quarantine-path": "s3://q/old/",
            "--selfheal-action": "quarantine",
        },
    )
    run_diagnose(deps, classifier(Category.TRANSIENT_NETWORK))
    append(deps.store, Proposed(attempt=1, action=Action.RETRY))
    append(deps.store, Gated(attempt=1, proposed=Action.RETRY, action=Action.RETRY))
    execute.run(INCIDENT, deps.store, deps.glue, "s3://q/", 30, safety=SAFE)
    execute_args = deps.glue.started[0][1]
    assert "--selfheal-quarantine-path" not in execute_args
    assert execute_args["--selfheal-action"] == "retry" and execute_args["--day"] == "2026-11-01"


def test_a_run_still_going_when_polling_gives_up_is_escalated_not_overlapped():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    executed(deps, Action.RETRY)
    finish_run(deps, "RUNNING")
    for _ in range(4):
        assert validated(deps, max_polls=5).status == "RUNNING"
    final = validated(deps, max_polls=5)
    assert final == ValidateResult(status="FAILED", fixed=False, attempts_left=False)


def test_rollback_restores_every_drifted_table_and_never_an_iceberg_one():
    deps = make_deps()
    seed(deps, drift=True)
    deps.glue.jobs[JOB] = replace(
        deps.glue.jobs[JOB],
        default_arguments={"--selfheal-tables": "sales.orders,sales.customers,sales.events"},
    )
    deps.glue.add_table_version("sales", "customers", [("id", "bigint"), ("email", "string")])
    deps.glue.add_table_version("sales", "customers", [("id", "bigint")])
    deps.glue.add_table_version("sales", "events", [("id", "bigint"), ("ts", "string")])
    deps.glue.add_table_version("sales", "events", [("id", "bigint")])
    iceberg = deps.glue.tables[("sales", "events")]
    deps.glue.tables[("sales", "events")] = [replace(v, table_format="iceberg") for v in iceberg]
    run_diagnose(deps, classifier(Category.SCHEMA_DRIFT))

    result = executed(deps, Action.ROLLBACK)

    assert result.action == "rollback" and result.awaiting_run is True
    assert deps.store.last(INCIDENT, Executed).restored == (
        RestoredTable("sales.customers", "1"),
        RestoredTable("sales.orders", "1"),
    )
    assert sorted(deps.glue.restores) == [("sales", "customers", "1"), ("sales", "orders", "1")]
    state = load_state(deps.store, INCIDENT)
    assert state.diagnosis is not None
    reports = {r.table: r for r in state.diagnosis.drift}
    assert reports["sales.events"].open_table_format is True
    assert reports["sales.events"].rollback_safe is False
    assert state.context(1, ()).rollback_available


def test_a_rerun_keeps_the_failed_runs_capacity_settings():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    settings = {"WorkerType": "G.2X", "NumberOfWorkers": 20, "Timeout": 120, "ExecutionClass": "STANDARD"}
    deps.glue.set_run(JOB, FAILED_RUN, run_settings=settings)
    executed(deps, Action.RETRY)
    assert deps.glue.started_settings == [settings]


class _FailsOnce:
    """A Q store whose ``apply`` fails once after ``after`` successful writes (a throttle mid-Learn)."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after, self.failed = inner, after, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def apply(self, update):
        if not self.failed and self.after == 0:
            self.failed = True
            raise TransientDependencyError("throttled")
        self.after -= 1
        return self.inner.apply(update)


def test_a_learn_retried_after_a_partial_write_applies_each_update_once():
    from fakes import InMemoryQTableStore
    from selfheal_core.domain.qlearning import LearnerSettings
    from selfheal_core.steps import learn

    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    for state in ("FAILED", "SUCCEEDED"):
        executed(deps, Action.RETRY)
        finish_run(deps, state)
        validated(deps)
    store = _FailsOnce(InMemoryQTableStore(), after=2)
    human = HumanAnswer(decision="fixed", by="me")

    with pytest.raises(TransientDependencyError):
        learn.run(INCIDENT, human, deps.store, store, LearnerSettings(), SAFE, True)
    learn.run(INCIDENT, human, deps.store, store, LearnerSettings(), SAFE, True)

    visits = sum(row.total_visits for row in store.inner.all_rows().values())
    assert visits == 4  # 2 transitions x (shared row + job row), each once
    decided = [r.event for r in deps.store.load(INCIDENT) if isinstance(r.event, Answered)]
    assert decided == [Answered(decision="fixed", by="me")]
    assert deps.store.types(INCIDENT).count("learned") == 1
