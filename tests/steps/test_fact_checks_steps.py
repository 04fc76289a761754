"""Diagnose checks the text's claims against facts, takes gate inputs from trusted sources only, and
Validate does not call a SUCCEEDED run fixed when Glue's own records say the failure persisted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import T0, make_deps
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.classification.classifier import classify
from selfheal_core.domain.events import Diagnosed, Proposed, Validated
from selfheal_core.domain.evidence import DataQualityOutcome
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.steps import diagnose, execute, safety_gate, validate
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category

JOB = "orders-daily"
RUN = "jr_failed"
INCIDENT = incident_id_for(JOB, RUN)
DQ_MESSAGE = (
    "An error occurred while calling o201.pyWriteDynamicFrame. "
    "java.lang.NullPointerException: Null value appeared in non-nullable field: sku"
)
FORGED = (
    "bad_record_fraction=0.001\n"
    "Error Category: THROTTLING_ERROR; Failed Reason: Rate exceeded\n"
    "2026-11-01 05:40:22,902 WARN [main] selfheal.evidence: 1 of 1000000 records failed validation"
)


def event(message: str) -> dict[str, object]:
    detail = {"jobName": JOB, "jobRunId": RUN, "state": "FAILED", "message": message}
    return {"id": "evt-1", "source": "aws.glue", "detail-type": "Glue Job State Change", "detail": detail}


def seed(deps, *, log: str, arguments=None, tables: bool = True, script: str = "s3://scripts/orders.py"):
    defaults = {"--selfheal-tables": "sales.orders"} if tables else {}
    job = deps.glue.add_job(JOB, {"criticality": "medium", "selfheal:quarantine": "enabled"}, defaults)
    deps.glue.jobs[JOB] = type(job)(job.name, job.tags, job.default_arguments, script_location=script)
    deps.glue.add_run(JOB, "jr_ok", "SUCCEEDED", started_on=T0, completed_on=T0 + timedelta(hours=1))
    deps.glue.add_table_version("sales", "orders", [("id", "bigint"), ("amount", "double")], updated_at=T0)
    deps.glue.add_run(JOB, RUN, "FAILED", arguments=dict(arguments or {}), started_on=T0 + timedelta(hours=3))
    deps.logs.logs[RUN] = log


def diagnosed(deps, message: str):
    evt = event(message)
    diagnose.run(trigger_from_event(evt), evt, "exec-1", deps.store, deps.glue, deps.logs, classify)
    return load_state(deps.store, INCIDENT).diagnosis


def gate_inputs(diagnosis) -> tuple[object, ...]:
    ctx = diagnosis.context()
    return (ctx.bad_record_fraction, ctx.drift, ctx.rollback_available, ctx.risk, ctx.criticality)


# -- forged evidence ---------------------------------------------------------------------------------
def test_text_in_a_message_changes_no_gate_input():
    clean, forged = make_deps(), make_deps()
    for deps, text in ((clean, DQ_MESSAGE), (forged, f"{DQ_MESSAGE}\n{FORGED}")):
        seed(deps, log=text)
        deps.glue.run_dq[RUN] = (DataQualityOutcome("dqresult-1", 2, 21_000, 50_000),)
    a, b = diagnosed(clean, DQ_MESSAGE), diagnosed(forged, f"{DQ_MESSAGE}\n{FORGED}")
    assert gate_inputs(a) == gate_inputs(b)
    assert b.bad_record_fraction == 0.42  # the Data Quality result's 42%, not the text's 0.001
    assert any("claims a bad-record fraction of 0.001; not used" in note for note in b.notes)


def test_a_forged_fraction_cannot_open_the_gate_to_a_quarantine():
    deps = make_deps()
    seed(deps, log=f"{DQ_MESSAGE}\n{FORGED}")
    deps.glue.run_dq[RUN] = (DataQualityOutcome("dqresult-1", 2, 21_000, 50_000),)
    diagnosed(deps, f"{DQ_MESSAGE}\n{FORGED}")
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=1, action=Action.QUARANTINE), state.next_seq)
    gate = safety_gate.run(INCIDENT, deps.store, SafetySettings(), backoff_seconds=60)
    assert gate.action == "escalate" and "quarantine_fraction_limit" in gate.rules_fired


def test_without_a_data_quality_result_the_fraction_is_unmeasured_whatever_the_log_says():
    deps = make_deps()
    seed(deps, log=f"{DQ_MESSAGE}\nbad_record_fraction=0.001")
    diagnosis = diagnosed(deps, DQ_MESSAGE)
    assert diagnosis.category is Category.DATA_QUALITY and diagnosis.bad_record_fraction is None
    check = next(c for c in diagnosis.checks if c.name == "bad_record_fraction")
    assert check.verdict == "not_checked" and "unmeasured" in check.evidence


# -- claims checked against facts --------------------------------------------------------------------
def test_drift_looking_error_without_catalog_drift_is_not_schema_drift():
    deps = make_deps()
    message = "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN] `amount_usd` cannot be resolved"
    seed(deps, log=message)
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.UNKNOWN
    check = next(c for c in diagnosis.checks if c.name == "catalog_drift")
    assert check.verdict == "refuted" and "sales.orders" in check.evidence


def test_drift_looking_error_with_catalog_drift_stays_schema_drift():
    deps = make_deps()
    message = "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN] `amount` cannot be resolved"
    seed(deps, log=message)
    deps.glue.add_table_version(
        "sales", "orders", [("id", "bigint"), ("amount_usd", "double")], updated_at=T0 + timedelta(hours=2)
    )
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.SCHEMA_DRIFT and diagnosis.drifted
    assert [(c.name, c.verdict) for c in diagnosis.checks] == [("catalog_drift", "confirmed")]


GENERIC = "An error occurred while calling o98.pyWriteDynamicFrame."  # names no cause


def renamed_since_last_success(deps) -> None:
    deps.glue.add_table_version(
        "sales", "orders", [("order_id", "bigint"), ("amount", "double")], updated_at=T0 + timedelta(hours=2)
    )


def gated(deps, action: Action, settings: SafetySettings):
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=1, action=action), state.next_seq)
    return safety_gate.run(INCIDENT, deps.store, settings, backoff_seconds=60)


def test_when_the_text_names_no_cause_a_breaking_catalog_change_does_and_a_human_approves():
    deps = make_deps()
    seed(deps, log=GENERIC)
    renamed_since_last_success(deps)
    diagnosis = diagnosed(deps, GENERIC)
    assert (diagnosis.category, diagnosis.cause_from_facts) == (Category.SCHEMA_DRIFT, True)
    assert diagnosis.confidence == 0.6 and diagnosis.signature == "facts:cause_from_facts"
    check = next(c for c in diagnosis.checks if c.name == "cause_from_facts")
    assert check.verdict == "confirmed" and "sales.orders: column_renamed" in check.evidence
    assert diagnosis.evidence[0] == check.evidence  # the escalation shows the lead first
    unattended = gated(deps, Action.ROLLBACK, SafetySettings())
    assert unattended.action == "escalate" and unattended.rules_fired == ("cause_from_facts",)


@pytest.mark.parametrize("allowed", [True, False])
def test_a_cause_from_facts_is_asked_for_only_when_the_operator_allows_it(allowed):
    deps = make_deps()
    seed(deps, log=GENERIC)
    renamed_since_last_success(deps)
    diagnosed(deps, GENERIC)
    settings = SafetySettings(ask_approval=True, approve_causes_from_facts=allowed)
    held = gated(deps, Action.ROLLBACK, settings)
    if allowed:
        assert (held.action, held.needs_approval, held.approval) == ("rollback", True, ("cause_from_facts",))
    else:
        assert (held.action, held.needs_approval, held.rules_fired) == (
            "escalate",
            False,
            ("cause_from_facts",),
        )


def test_a_failing_data_quality_result_names_the_cause_when_the_text_does_not():
    deps = make_deps()
    seed(deps, log=GENERIC)
    deps.glue.run_dq[RUN] = (DataQualityOutcome("dqresult-1", 1, 40, 10_000),)
    diagnosis = diagnosed(deps, GENERIC)
    assert (diagnosis.category, diagnosis.cause_from_facts) == (Category.DATA_QUALITY, True)
    assert diagnosis.bad_record_fraction == 0.004


@pytest.mark.parametrize(
    "message",
    [
        "java.net.UnknownHostException: db.internal",  # a cause the text names, for a human
        "User: arn:aws:iam::1:role/glue is not authorized to perform: s3:GetObject",
    ],
)
def test_facts_never_replace_a_cause_the_text_named(message):
    deps = make_deps()
    seed(deps, log=message)
    renamed_since_last_success(deps)
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category in (Category.UNKNOWN, Category.PERMISSION) and not diagnosis.cause_from_facts
    assert "cause_from_facts" not in [c.name for c in diagnosis.checks]


def test_without_facts_a_text_that_names_no_cause_stays_unknown():
    deps = make_deps()
    seed(deps, log=GENERIC)
    diagnosis = diagnosed(deps, GENERIC)
    assert (diagnosis.category, diagnosis.cause_from_facts) == (Category.UNKNOWN, False)


def test_a_column_the_error_suggests_points_to_code():
    deps = make_deps()
    message = (
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `o`.`amount` cannot be "
        "resolved. Did you mean one of the following? [`orders`.`amount`, `orders`.`id`]"
    )
    seed(deps, log=message)
    deps.glue.add_table_version(  # even with drift in the catalog: the column is there
        "sales", "orders", [("id", "bigint"), ("amount", "string")], updated_at=T0 + timedelta(hours=2)
    )
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.CODE_ERROR
    assert ("column_exists", "refuted") in [(c.name, c.verdict) for c in diagnosis.checks]


def test_a_path_on_a_bucket_the_job_never_reads_points_to_configuration():
    deps = make_deps()
    message = "AnalysisException: Path does not exist: s3://prod-landing-typo/orders/dt=2026-11-01/"
    seed(deps, log=message, arguments={"--input": "s3://prod-landing/orders/"})
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.CODE_ERROR
    check = next(c for c in diagnosis.checks if c.name == "path_scheme")
    assert check.verdict == "refuted" and "prod-landing-typo" in check.evidence


def test_a_path_the_job_reads_stays_source_not_ready():
    deps = make_deps()
    message = "AnalysisException: Path does not exist: s3://prod-landing/orders/dt=2026-11-01/"
    seed(deps, log=message, arguments={"--input": "s3://prod-landing/orders/"})
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.SOURCE_NOT_READY
    assert [(c.name, c.verdict) for c in diagnosis.checks] == [("path_scheme", "confirmed")]


def test_a_scheme_the_job_never_reads_points_to_configuration():
    deps = make_deps()
    message = "java.io.FileNotFoundException: File file:/tmp/orders/input.csv does not exist"
    seed(deps, log=message)
    diagnosis = diagnosed(deps, message)
    assert diagnosis.category is Category.CODE_ERROR
    assert any(c.name == "path_scheme" and c.verdict == "refuted" for c in diagnosis.checks)


def test_diagnose_result_names_every_check():
    deps = make_deps()
    message = "AnalysisException: Path does not exist: s3://prod-landing/orders/dt=2026-11-01/"
    seed(deps, log=message, arguments={"--input": "s3://prod-landing/orders/"})
    evt = event(message)
    result = diagnose.run(trigger_from_event(evt), evt, "exec-1", deps.store, deps.glue, deps.logs, classify)
    assert result.checks == (
        {"name": "path_scheme", "verdict": "confirmed", "evidence": result.checks[0]["evidence"]},
    )
    recorded = deps.store.last(INCIDENT, Diagnosed).to_data()["checks"]
    assert recorded == [dict(c) for c in result.checks]


# -- false success -----------------------------------------------------------------------------------
INSIGHTS = (
    '{"Failure Reason": "Traceback (most recent call last):\\n  File \\"/tmp/orders.py\\", line 41\\n'
    'AnalysisException: Path does not exist: s3://prod-landing/orders/", "Stack Trace": [], '
    '"Last Executed Line number": 41, "script": "orders.py"}'
)


def rerun(deps, action: Action = Action.RETRY) -> str:
    seed(deps, log="ERROR Connection reset")
    diagnose.run(
        trigger_from_event(event("Connection reset")),
        event("x"),
        "e",
        deps.store,
        deps.glue,
        deps.logs,
        classify,
    )
    state = load_state(deps.store, INCIDENT)
    deps.store.append(INCIDENT, Proposed(attempt=1, action=action), state.next_seq)
    assert safety_gate.run(INCIDENT, deps.store, SafetySettings(), backoff_seconds=60).action == action.value
    execute.run(INCIDENT, deps.store, deps.glue, "s3://q/root/", poll_seconds=30)
    new_run = load_state(deps.store, INCIDENT).current_attempt.job_run_id
    deps.glue.set_run(JOB, new_run, state="SUCCEEDED", started_on=T0, completed_on=T0 + timedelta(minutes=5))
    return new_run


def validated(deps):
    return validate.run(INCIDENT, deps.store, deps.glue, 3, 5, deps.logs)


def test_a_succeeded_run_with_a_job_failure_analysis_is_not_fixed():
    deps = make_deps()
    new_run = rerun(deps)
    deps.logs.logs[new_run] = INSIGHTS
    deps.logs.sources[new_run] = (f"/aws-glue/jobs/logs-v2:{new_run}-job-insights-rca-driver",)
    result = validated(deps)
    assert result.fixed is False and result.status == "FAILED"
    event_ = deps.store.last(INCIDENT, Validated)
    assert event_.run_state == "SUCCEEDED" and "insights_failure" in (event_.reason or "")
    assert [(c.name, c.verdict) for c in event_.checks][:2] == [
        ("run_state", "confirmed"),
        ("insights_failure", "refuted"),
    ]


def test_a_glue_exception_analysis_event_in_the_error_log_is_a_failure():
    deps = make_deps()
    new_run = rerun(deps)
    deps.logs.logs[new_run] = (
        "2026-11-01 05:00:00,000 ERROR [main] glue.GlueExceptionAnalysisListener: [Glue Exception Analysis] "
        '{"Event":"GlueETLJobExceptionEvent","Timestamp":1,"Failure Reason":"Connection reset"}'
    )
    assert validated(deps).fixed is False


def test_the_jobs_own_failure_reason_text_outside_glues_records_does_not_count():
    deps = make_deps()
    new_run = rerun(deps)
    deps.logs.logs[new_run] = (
        'INFO [main] orders: previous run {"Failure Reason": "Connection reset"} handled'
    )
    assert validated(deps).fixed is True


def test_a_succeeded_run_whose_data_quality_result_still_fails_is_not_fixed():
    deps = make_deps()
    new_run = rerun(deps)
    deps.glue.run_dq[new_run] = (DataQualityOutcome("dqresult-9", 1, 10, 1000),)
    result = validated(deps)
    assert result.fixed is False
    assert "data_quality_result" in (deps.store.last(INCIDENT, Validated).reason or "")


def test_a_clean_succeeded_run_is_fixed_with_its_checks_recorded():
    deps = make_deps()
    new_run = rerun(deps)
    deps.logs.logs[new_run] = "INFO [main] orders: wrote 50211 records"
    deps.glue.run_dq[new_run] = (DataQualityOutcome("dqresult-9", 0, 0, 1000),)
    assert validated(deps).fixed is True
    checks = deps.store.last(INCIDENT, Validated).checks
    assert [(c.name, c.verdict) for c in checks] == [
        ("run_state", "confirmed"),
        ("insights_failure", "confirmed"),
        ("data_quality_result", "confirmed"),
    ]
