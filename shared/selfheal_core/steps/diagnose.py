"""Diagnose (read-only): open the incident once per failed run, gather evidence, classify, detect drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from selfheal_core.domain.diagnosis import Classify, Evidence, diagnose
from selfheal_core.domain.drift import TableVersion
from selfheal_core.domain.evidence import bad_record_fraction
from selfheal_core.domain.incident import EventType, incident_id_for
from selfheal_core.domain.windows import BusinessHours, Interval, in_freeze_window
from selfheal_core.errors import RemediationError
from selfheal_core.job_contract import ATTEMPT_ARGUMENT, TABLES_ARGUMENT
from selfheal_core.ports import EventStore, GlueCatalog, JobInfo, LogReader
from selfheal_core.vocabulary import Category


@dataclass(frozen=True)
class Trigger:
    job_name: str
    job_run_id: str
    state: str
    message: str
    kind: str  # "job_state_change" | "data_quality"
    extra: Mapping[str, Any]


DATA_QUALITY_EVENT = "Data Quality Evaluation Results Available"


def trigger_from_event(event: Mapping[str, Any]) -> Trigger:
    """The failed run an event is about. A Glue Data Quality result names it in ``detail.context``
    (``jobName`` and ``jobId``, the job run id), so a DQ failure and the run's own FAILED event for the
    same run open the same incident once."""
    detail = event["detail"]
    if event.get("detail-type") == DATA_QUALITY_EVENT:
        context = detail["context"]
        failed = int(detail.get("rulesFailed", 0))
        total = failed + int(detail.get("rulesSucceeded", 0)) + int(detail.get("rulesSkipped", 0))
        rulesets = ", ".join(detail.get("rulesetNames", [])) or "ruleset"
        result_id = str(detail.get("resultID") or detail.get("resultId") or "")
        return Trigger(
            job_name=str(context["jobName"]),
            job_run_id=str(context.get("jobId") or result_id),
            state=str(detail.get("state", "FAILED")),
            message=(
                f"Glue Data Quality: {failed} of {total} rules failed in {rulesets} "
                f"(score {float(detail.get('score', 0.0)):.2f}, result {result_id})"
            ),
            kind="data_quality",
            extra={"result_id": result_id, "score": detail.get("score"), "rules_failed": failed},
        )
    return Trigger(
        job_name=str(detail["jobName"]),
        job_run_id=str(detail["jobRunId"]),
        state=str(detail.get("state", "FAILED")),
        message=str(detail.get("message", "")),
        kind="job_state_change",
        extra={},
    )


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


@dataclass(frozen=True)
class ChangeWindows:
    now: datetime
    freeze_windows: tuple[Interval, ...] = ()
    business_hours: BusinessHours | None = None


def gather_evidence(
    trigger: Trigger, glue: GlueCatalog, logs: LogReader, windows: ChangeWindows | None = None
) -> tuple[Evidence, dict[str, Any]]:
    notes: list[str] = []
    job: JobInfo | None = None
    try:
        job = glue.get_job(trigger.job_name)
    except RemediationError as error:
        notes.append(f"job not readable: {error}")

    run_error = ""
    log_group_prefix: str | None = None
    last_success: datetime | None = None
    try:
        failed_run = glue.get_job_run(trigger.job_name, trigger.job_run_id)
        run_error, log_group_prefix = failed_run.error_message or "", failed_run.log_group
    except RemediationError as error:
        notes.append(f"failed run not readable: {error}")
    try:
        successes = [r for r in glue.recent_runs(trigger.job_name) if r.state == "SUCCEEDED"]
        stamps = [r.completed_on or r.started_on for r in successes]
        last_success = max((s for s in stamps if s is not None), default=None)
    except RemediationError as error:
        notes.append(f"run history not readable: {error}")

    continuous_group = job.default_arguments.get("--continuous-log-logGroup") if job else None
    log = logs.read_run_logs(trigger.job_run_id, log_group_prefix, continuous_group)
    notes.extend(log.notes)

    versions: dict[str, list[TableVersion]] = {}
    for database, table in declared_tables(job):
        try:
            versions[f"{database}.{table}"] = glue.table_versions(database, table)
        except RemediationError as error:
            notes.append(f"table {database}.{table} not readable: {error}")

    # The event's message first: it is what Glue itself reported, and it survives a missing log.
    text = "\n".join(part for part in (trigger.message, run_error, log.text) if part)
    fraction = bad_record_fraction(text)
    if trigger.kind == "data_quality":
        rows = None
        if trigger.extra.get("result_id"):
            rows = glue.data_quality_rows(str(trigger.extra["result_id"]))
        if rows is not None:
            fraction = rows[0] / rows[1]
        elif fraction is None:
            notes.append("the data quality result exposes no row counts; bad-record fraction unknown")
    evidence = Evidence(
        job_name=trigger.job_name,
        error_log=text,
        tags=dict(job.tags) if job else {},
        table_versions=versions,
        last_success=last_success,
        bad_record_fraction=fraction,
        in_freeze_window=bool(windows and in_freeze_window(windows.now, windows.freeze_windows)),
        in_business_hours=bool(
            windows and windows.business_hours and windows.business_hours.contains(windows.now)
        ),
        reported_category=Category.DATA_QUALITY if trigger.kind == "data_quality" else None,
        reported_evidence=(trigger.message,) if trigger.kind == "data_quality" else (),
        notes=tuple(notes),
    )
    sources = {"log_sources": list(log.sources), "log_truncated": log.truncated}
    return evidence, sources


def handled_elsewhere(trigger: Trigger, glue: GlueCatalog) -> str | None:
    """Why this failed run is not a new incident, if it is not: a run selfheal itself started belongs to
    the incident that started it (its Validate sees the failure), and a run Glue will retry by itself
    (attempt below the job's MaxRetries) is not over yet."""
    if trigger.kind != "job_state_change":
        return None
    try:
        run = glue.get_job_run(trigger.job_name, trigger.job_run_id)
    except RemediationError:
        return None  # an unreadable run is diagnosed (and escalated) like any other
    marker = run.arguments.get(ATTEMPT_ARGUMENT)
    if marker:
        return f"a run selfheal started for {marker.split('#')[0]}, whose execution validates it"
    try:
        max_retries = glue.get_job(trigger.job_name).max_retries
    except RemediationError:
        return None
    if run.attempt < max_retries:
        return f"Glue retries it itself (attempt {run.attempt + 1} of {max_retries + 1})"
    return None


def run(
    event: Mapping[str, Any],
    execution_id: str,
    store: EventStore,
    glue: GlueCatalog,
    logs: LogReader,
    classify: Classify,
    windows: ChangeWindows | None = None,
) -> dict[str, Any]:
    trigger = trigger_from_event(event)
    incident_id = incident_id_for(trigger.job_name, trigger.job_run_id)
    reason = handled_elsewhere(trigger, glue)
    if reason is not None:
        return {
            "incident_id": incident_id,
            "job_name": trigger.job_name,
            "job_run_id": trigger.job_run_id,
            "duplicate": True,
            "reason": reason,
        }
    created, opened = store.open(
        incident_id,
        {
            "job_name": trigger.job_name,
            "job_run_id": trigger.job_run_id,
            "execution_id": execution_id,
            "trigger": dict(event),
        },
    )
    summary: dict[str, Any] = {
        "incident_id": incident_id,
        "job_name": trigger.job_name,
        "job_run_id": trigger.job_run_id,
    }
    if not created and opened.data.get("execution_id") != execution_id:
        # At-least-once delivery: another execution already owns this failed run.
        owner = opened.data.get("execution_id")
        return {**summary, "duplicate": True, "reason": f"execution {owner} owns this failed run"}

    evidence, sources = gather_evidence(trigger, glue, logs, windows)
    diagnosis = diagnose(evidence, classify)
    store.append(incident_id, EventType.DIAGNOSED, {**diagnosis.to_dict(), **sources})
    return {
        **summary,
        "duplicate": False,
        "category": diagnosis.category.value,
        "confidence": round(diagnosis.confidence, 4),
        "signature": diagnosis.signature,
        "drift": diagnosis.drifted,
        "risk": diagnosis.risk,
    }
