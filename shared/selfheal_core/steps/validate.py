"""Validate: did the run the action started succeed, and did the fix hold?"""

from __future__ import annotations

from typing import Any

from selfheal_core.domain.drift import detect_drift
from selfheal_core.domain.incident import EventType, Incident
from selfheal_core.errors import InvalidInputError, RemediationError
from selfheal_core.ports import EventStore, GlueActions
from selfheal_core.steps.common import load_incident, rollback_targets
from selfheal_core.vocabulary import Action

IN_PROGRESS = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})


def _drift_still_breaking(incident: Incident, glue: GlueActions) -> bool:
    """After a rollback, the restored tables must no longer differ from their baselines in a breaking way."""
    for report in rollback_targets(incident):
        database, _, table = str(report["table"]).partition(".")
        try:
            versions = glue.table_versions(database, table)
        except RemediationError:
            return True
        baseline = next((v for v in versions if v.version_id == str(report.get("baseline_version"))), None)
        current = max(
            versions, key=lambda v: int(v.version_id) if v.version_id.isdigit() else -1, default=None
        )
        if baseline is None or current is None:
            continue
        if detect_drift(report["table"], [baseline, current]).breaking:
            return True
    return False


def run(
    incident_id: str, store: EventStore, glue: GlueActions, max_attempts: int, max_polls: int
) -> dict[str, Any]:
    incident = load_incident(store, incident_id)
    attempt = incident.current_attempt
    if attempt is None or attempt.job_run_id is None:
        raise InvalidInputError(f"incident {incident_id} has no run to validate")
    polls = attempt.polls
    run = glue.get_job_run(incident.job_name, attempt.job_run_id)
    base = {"attempt": attempt.number, "job_run_id": run.run_id, "run_state": run.state}

    if run.state in IN_PROGRESS and polls + 1 < max_polls:
        store.append(incident_id, EventType.VALIDATED, {**base, "final": False})
        return {"status": "RUNNING", "fixed": False, "attempts_left": True}

    fixed = run.state == "SUCCEEDED"
    reason = None if fixed else f"run ended {run.state}"
    if run.state in IN_PROGRESS:
        reason = f"run still {run.state} after {polls + 1} polls"
    if fixed and attempt.action is Action.ROLLBACK and _drift_still_breaking(incident, glue):
        fixed, reason = False, "the run succeeded but the catalog still differs from the baseline"
    elapsed = 0.0
    if run.started_on and run.completed_on:
        elapsed = (run.completed_on - run.started_on).total_seconds()
    # A run still going when polling gives up must never overlap a new one: escalate instead.
    attempts_left = attempt.number < max_attempts and run.state not in IN_PROGRESS
    store.append(
        incident_id,
        EventType.VALIDATED,
        {
            **base,
            "final": True,
            "fixed": fixed,
            "reason": reason,
            "error_message": run.error_message,
            "elapsed_seconds": elapsed,
        },
    )
    return {"status": "SUCCEEDED" if fixed else "FAILED", "fixed": fixed, "attempts_left": attempts_left}
