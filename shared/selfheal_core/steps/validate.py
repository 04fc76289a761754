"""Validate: did the run the action started succeed, and did the fix hold?"""

from __future__ import annotations

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import ValidateResult
from selfheal_core.domain.drift import detect_drift
from selfheal_core.domain.events import Validated
from selfheal_core.domain.fact_checks import CONFIRMED, FactCheck
from selfheal_core.domain.incident import IncidentState
from selfheal_core.domain.run_checks import RUN_STATE, data_quality_check, false_success, insights_check
from selfheal_core.domain.trigger import RUN_IN_PROGRESS
from selfheal_core.errors import InvalidInputError, ReadError
from selfheal_core.ports import EventStore, GlueActions, JobRun, LogReader
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action

IN_PROGRESS = RUN_IN_PROGRESS


def _drift_still_breaking(state: IncidentState, glue: GlueActions) -> bool:
    """After a rollback, the restored tables must no longer differ from their baselines in a breaking way."""
    for report in state.rollback_targets:
        database, _, table = report.table.partition(".")
        try:
            versions = glue.table_versions(database, table)
        except ReadError:
            return True
        baseline = next((v for v in versions if v.version_id == report.baseline_version), None)
        current = max(
            versions, key=lambda v: int(v.version_id) if v.version_id.isdigit() else -1, default=None
        )
        if baseline is None or current is None:
            continue
        if detect_drift(report.table, [baseline, current]).breaking:
            return True
    return False


def success_checks(
    job_name: str, run: JobRun, action: Action | None, glue: GlueActions, logs: LogReader | None
) -> tuple[FactCheck, ...]:
    """The checks that a SUCCEEDED run really fixed the failure (``domain.run_checks``)."""
    text: str | None = None
    sources: tuple[str, ...] = ()
    if logs is not None:
        read = logs.read_run_logs(run.run_id, run.log_group)
        text, sources = read.text, read.sources
    outcomes = () if action is Action.QUARANTINE else glue.run_data_quality(job_name, run.run_id)
    return (
        FactCheck(RUN_STATE, CONFIRMED, "Glue reports the run SUCCEEDED"),
        insights_check(text, sources),
        data_quality_check(outcomes, action),
    )


def run(
    incident_id: str,
    store: EventStore,
    glue: GlueActions,
    max_attempts: int,
    max_polls: int,
    logs: LogReader | None = None,
) -> ValidateResult:
    def validate_once() -> ValidateResult:
        state = load_state(store, incident_id)
        attempt = state.current_attempt
        if attempt is None or attempt.job_run_id is None:
            raise InvalidInputError(f"incident {incident_id} has no run to validate")
        run = glue.get_job_run(state.job_name, attempt.job_run_id)
        if run.state in IN_PROGRESS and attempt.polls + 1 < max_polls:
            store.append(
                incident_id, Validated(attempt.number, run.run_id, run.state, final=False), state.next_seq
            )
            return ValidateResult(status="RUNNING", fixed=False, attempts_left=True)

        fixed = run.state == "SUCCEEDED"
        reason = None if fixed else f"run ended {run.state}"
        if run.state in IN_PROGRESS:
            reason = f"run still {run.state} after {attempt.polls + 1} polls"
        checks: tuple[FactCheck, ...] = ()
        if fixed:
            checks = success_checks(state.job_name, run, attempt.action, glue, logs)
            failed = false_success(checks)
            if failed is not None:
                fixed, reason = False, f"the run succeeded but {failed.name}: {failed.evidence}"
        if fixed and attempt.action is Action.ROLLBACK and _drift_still_breaking(state, glue):
            fixed, reason = False, "the run succeeded but the catalog still differs from the baseline"
        elapsed = 0.0
        if run.started_on and run.completed_on:
            elapsed = (run.completed_on - run.started_on).total_seconds()
        verdict = Validated(
            attempt.number,
            run.run_id,
            run.state,
            final=True,
            fixed=fixed,
            reason=reason,
            error_message=run.error_message,
            elapsed_seconds=elapsed,
            checks=checks,
        )
        store.append(incident_id, verdict, state.next_seq)
        # A run still going when polling gives up must never overlap a new one: escalate instead.
        attempts_left = attempt.number < max_attempts and run.state not in IN_PROGRESS
        return ValidateResult(
            status="SUCCEEDED" if fixed else "FAILED", fixed=fixed, attempts_left=attempts_left
        )

    return retry_on_conflict(validate_once)
