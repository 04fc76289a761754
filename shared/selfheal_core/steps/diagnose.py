"""Diagnose (read-only): open the incident once per failed run, gather evidence, classify, detect drift.

A run that is still going (a Data Quality result is published mid-run) is not diagnosed yet: Diagnose
reports ``run_in_progress`` and the state machine calls it again after a wait, up to ``RunWait.max_checks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import DiagnoseResult
from selfheal_core.domain.diagnosis import Classify, Diagnosis, Evidence, diagnose
from selfheal_core.domain.drift import TableVersion
from selfheal_core.domain.events import Diagnosed, Opened
from selfheal_core.domain.evidence import bad_record_fraction
from selfheal_core.domain.fact_checks import JobPaths
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.domain.trigger import RESTARTED_BY_GLUE, RUN_IN_PROGRESS, Trigger, TriggerKind
from selfheal_core.domain.windows import BusinessHours, Interval, in_freeze_window
from selfheal_core.errors import ReadError, RunInProgressError
from selfheal_core.job_contract import ATTEMPT_ARGUMENT, TABLES_ARGUMENT
from selfheal_core.ports import EventStore, GlueCatalog, JobInfo, JobRun, LogRead, LogReader
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Category


def declared_tables(job: JobInfo | None) -> list[tuple[str, str]]:
    """Tables a job reads, declared as the default argument ``--selfheal-tables db.t1,db.t2``."""
    if job is None:
        return []
    raw = str(job.default_arguments.get(TABLES_ARGUMENT, ""))
    tables = []
    for item in raw.replace(" ", ",").split(","):
        if "." in item.strip():
            database, _, table = item.strip().partition(".")
            tables.append((database, table))
    return tables


def _looks_like_path(value: str) -> bool:
    return "://" in value and not value.startswith(("http://", "https://", "jdbc:"))


def job_paths(
    job: JobInfo | None, run: JobRun | None, versions: Mapping[str, list[TableVersion]]
) -> JobPaths | None:
    """What the job is known to touch: its script, the paths its default and run arguments name, the
    storage locations of its declared tables. None when the job could not be read."""
    if job is None:
        return None
    arguments = {**job.default_arguments, **(run.arguments if run else {})}
    paths = tuple(sorted({str(v) for v in arguments.values() if _looks_like_path(str(v))}))
    locations = tuple(sorted({v[-1].location for v in versions.values() if v and v[-1].location}))
    return JobPaths(job.script_location, paths, locations)


def trusted_bad_record_fraction(
    trigger: Trigger, glue: GlueCatalog, notes: list[str]
) -> tuple[float | None, str | None]:
    """The bad-record fraction and where it came from, from Glue Data Quality only: the result the event
    names, else the results the failed run published. Never from log text, which a job (or the data it
    echoes) can write anything into."""
    if trigger.kind is TriggerKind.DATA_QUALITY and trigger.result_id:
        rows = glue.data_quality_rows(trigger.result_id)
        if rows is not None and rows[1] > 0:
            return min(1.0, rows[0] / rows[1]), f"Data Quality result {trigger.result_id}"
    else:
        outcomes = [o for o in glue.run_data_quality(trigger.job_name, trigger.job_run_id)]
        measured = [o for o in outcomes if o.bad_record_fraction is not None]
        if measured:  # the worst ruleset: the gate must see the largest share of bad records
            worst = max(measured, key=lambda o: o.bad_record_fraction or 0.0)
            return worst.bad_record_fraction, f"Data Quality result {worst.result_id}"
    if trigger.kind is TriggerKind.DATA_QUALITY:
        notes.append("the data quality result exposes no row counts; bad-record fraction unknown")
    return None, None


@dataclass(frozen=True)
class ChangeWindows:
    now: datetime
    freeze_windows: tuple[Interval, ...] = ()
    business_hours: BusinessHours | None = None


def gather_evidence(
    trigger: Trigger, glue: GlueCatalog, logs: LogReader, windows: ChangeWindows | None = None
) -> tuple[Evidence, LogRead]:
    notes: list[str] = []
    job: JobInfo | None = None
    try:
        job = glue.get_job(trigger.job_name)
    except ReadError as error:
        notes.append(f"job not readable: {error}")

    run_error = ""
    log_group_prefix: str | None = None
    last_success: datetime | None = None
    failed_run: JobRun | None = None
    try:
        failed_run = glue.get_job_run(trigger.job_name, trigger.job_run_id)
        run_error, log_group_prefix = failed_run.error_message or "", failed_run.log_group
    except ReadError as error:
        notes.append(f"failed run not readable: {error}")
    try:
        successes = [r for r in glue.recent_runs(trigger.job_name) if r.state == "SUCCEEDED"]
        stamps = [r.completed_on or r.started_on for r in successes]
        last_success = max((s for s in stamps if s is not None), default=None)
    except ReadError as error:
        notes.append(f"run history not readable: {error}")

    continuous_group = job.default_arguments.get("--continuous-log-logGroup") if job else None
    log = logs.read_run_logs(trigger.job_run_id, log_group_prefix, continuous_group)
    notes.extend(log.notes)

    versions: dict[str, list[TableVersion]] = {}
    for database, table in declared_tables(job):
        try:
            versions[f"{database}.{table}"] = glue.table_versions(database, table)
        except ReadError as error:
            notes.append(f"table {database}.{table} not readable: {error}")

    # The event's message first: it is what Glue itself reported, and it survives a missing log.
    text = "\n".join(part for part in (trigger.message, run_error, log.text) if part)
    fraction, fraction_source = trusted_bad_record_fraction(trigger, glue, notes)
    claimed = bad_record_fraction(text)
    if claimed is not None and claimed != fraction:
        # Shown to the human, never used: a job (or a record it echoes) can print anything.
        notes.append(f"the log text claims a bad-record fraction of {claimed:.6g}; not used (untrusted)")
    evidence = Evidence(
        job_name=trigger.job_name,
        error_log=text,
        tags=dict(job.tags) if job else {},
        table_versions=versions,
        last_success=last_success,
        bad_record_fraction=fraction,
        bad_record_source=fraction_source,
        in_freeze_window=bool(windows and in_freeze_window(windows.now, windows.freeze_windows)),
        in_business_hours=bool(
            windows and windows.business_hours and windows.business_hours.contains(windows.now)
        ),
        reported_category=Category.DATA_QUALITY if trigger.kind is TriggerKind.DATA_QUALITY else None,
        reported_evidence=(trigger.message,) if trigger.kind is TriggerKind.DATA_QUALITY else (),
        notes=tuple(notes),
        job_paths=job_paths(job, failed_run, versions),
    )
    return evidence, log


@dataclass(frozen=True)
class RunWait:
    """How Diagnose waits for a run that is still going (a Data Quality result can arrive mid-run): the
    state machine calls it again ``poll_seconds`` later, and after ``max_checks`` looks it stops waiting."""

    poll_seconds: int = 60
    max_checks: int = 120
    checks_so_far: int = 0  # from the previous in-progress result; 0 on the first call


def read_run(trigger: Trigger, glue: GlueCatalog) -> JobRun | None:
    try:
        return glue.get_job_run(trigger.job_name, trigger.job_run_id)
    except ReadError:
        return None  # an unreadable run is diagnosed (and escalated) like any other


def handled_elsewhere(trigger: Trigger, glue: GlueCatalog, run: JobRun | None) -> str | None:
    """Why this run is not a new incident, if it is not.

    - A run selfheal itself started belongs to the incident that started it, whichever event reports it
      (its FAILED state change or a Data Quality result): that incident's Validate judges the run, within
      that incident's attempt budget, so a second incident would only start a second budget.
    - A FAILED run that Glue restarts by itself (attempt below the job's MaxRetries) is not over yet. Glue
      restarts FAILED runs only: a TIMEOUT or ERROR run is over, whatever MaxRetries says.
    """
    if run is None:
        return None
    marker = run.arguments.get(ATTEMPT_ARGUMENT)
    if marker:
        return f"a run selfheal started for {marker.split('#')[0]}, whose execution validates it"
    if run.state not in RESTARTED_BY_GLUE:
        return None
    try:
        max_retries = glue.get_job(trigger.job_name).max_retries
    except ReadError:
        return None
    if run.attempt < max_retries:
        return f"Glue retries it itself (attempt {run.attempt + 1} of {max_retries + 1})"
    return None


def run(
    trigger: Trigger,
    raw_event: Mapping[str, Any],
    execution_id: str,
    store: EventStore,
    glue: GlueCatalog,
    logs: LogReader,
    classify: Classify,
    windows: ChangeWindows | None = None,
    wait: RunWait | None = None,
) -> DiagnoseResult:
    incident_id = incident_id_for(trigger.job_name, trigger.job_run_id)
    wait = wait or RunWait()

    def duplicate(reason: str) -> DiagnoseResult:
        job, run_id = trigger.job_name, trigger.job_run_id
        return DiagnoseResult(incident_id, job, run_id, duplicate=True, reason=reason)

    failed_run = read_run(trigger, glue)
    reason = handled_elsewhere(trigger, glue, failed_run)
    if reason is not None:
        return duplicate(reason)
    opened = Opened(trigger.job_name, trigger.job_run_id, execution_id, raw_event)
    created, record = store.open(incident_id, opened)
    owner = record.event.execution_id if isinstance(record.event, Opened) else None
    if not created and owner != execution_id:
        # At-least-once delivery: another execution already owns this failed run.
        return duplicate(f"execution {owner} owns this failed run")

    # Checked at every call, a retried one too: nothing is proposed while the run is still going (a Data
    # Quality result is published before its run ends). The incident is opened first, so the run's own
    # FAILED event, when it comes, is a duplicate of this execution.
    still_going = None
    if failed_run is not None and failed_run.state in RUN_IN_PROGRESS:
        checks = wait.checks_so_far + 1
        if checks < wait.max_checks:
            return DiagnoseResult(
                incident_id,
                trigger.job_name,
                trigger.job_run_id,
                duplicate=False,
                run_in_progress=True,
                in_progress_checks=checks,
                poll_seconds=wait.poll_seconds,
            )
        still_going = (
            f"run {trigger.job_run_id} of {trigger.job_name} is still {failed_run.state} after {checks} "
            f"checks {wait.poll_seconds} s apart; selfheal does not act on a run that is still going"
        )

    def diagnose_once() -> Diagnosis:
        state = load_state(store, incident_id)
        if state.diagnosis is not None:  # a retried Diagnose: the diagnosis stands
            return state.diagnosis
        evidence, log = gather_evidence(trigger, glue, logs, windows)
        if still_going:
            evidence = replace(evidence, notes=(*evidence.notes, still_going))
        diagnosis = diagnose(evidence, classify)
        store.append(incident_id, Diagnosed(diagnosis, log.sources, log.truncated), state.next_seq)
        return diagnosis

    diagnosis = retry_on_conflict(diagnose_once)
    if still_going:  # the diagnosis is recorded for the human the escalation goes to
        raise RunInProgressError(still_going)
    return DiagnoseResult(
        incident_id,
        trigger.job_name,
        trigger.job_run_id,
        duplicate=False,
        category=diagnosis.category.value,
        confidence=round(diagnosis.confidence, 4),
        signature=diagnosis.signature,
        drift=diagnosis.drifted,
        risk=diagnosis.risk,
        checks=tuple(check.to_dict() for check in diagnosis.checks),
    )
