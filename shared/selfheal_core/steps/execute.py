"""Execute: apply the gated action through the Glue API, recording the intent before touching Glue.

Contract with the jobs (documented in the README):
- every run selfheal starts carries ``--selfheal-attempt <incident>#<attempt>``, which is how a retried
  Execute finds the run it already started instead of starting a second one, and
  ``--selfheal-action <action>``, so the job (and its owner) knows why it runs;
- ``quarantine`` starts the run with ``--selfheal-quarantine-path s3://.../<job>/<incident>/``: the job
  writes records that fail its checks there and loads the rest.
"""

from __future__ import annotations

from typing import Any

from selfheal_core.domain.incident import EventType, Incident
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.errors import InvalidInputError, RemediationError
from selfheal_core.job_contract import ACTION_ARGUMENT, ATTEMPT_ARGUMENT, QUARANTINE_ARGUMENT
from selfheal_core.ports import EventStore, GlueActions
from selfheal_core.steps.common import load_incident, rollback_targets
from selfheal_core.vocabulary import GLUE_ACTIONS, Action

# Arguments Glue manages itself (refused or meaningless on StartJobRun), and selfheal's own markers of an
# earlier attempt (a stale quarantine path would turn a plain retry into a quarantine run).
_RESERVED_PREFIXES = ("--JOB_", "--job-bookmark-option-from", "--selfheal-")


def _rollback(incident: Incident, glue: GlueActions) -> dict[str, Any]:
    """Every drifted table goes back to its baseline in the same attempt: the run needs all of them."""
    targets = rollback_targets(incident)
    if not targets:
        raise RemediationError("rollback needs a drifted table with a baseline version")
    restored = []
    for target in targets:
        database, _, table = str(target["table"]).partition(".")
        glue.restore_table_version(database, table, str(target["baseline_version"]))
        restored.append({"table": target["table"], "version": target["baseline_version"]})
    return {"restored": restored}


def run(
    incident_id: str,
    store: EventStore,
    glue: GlueActions,
    quarantine_uri: str,
    poll_seconds: float,
    safety: SafetySettings | None = None,
) -> dict[str, Any]:
    incident = load_incident(store, incident_id)
    attempt = incident.current_attempt
    if attempt is None or attempt.action is None:
        raise InvalidInputError(f"incident {incident_id} has no gated action to execute")
    action = attempt.action

    if attempt.executed is not None:  # a retried Execute: report what was already done
        return {**dict(attempt.executed), "poll_seconds": int(poll_seconds)}

    # The switches are read again here: a backoff wait may separate the gate from this step.
    stopped_by = None
    if safety is not None and safety.kill_switch:
        stopped_by = "kill_switch"
    elif safety is not None and safety.mode == Mode.SHADOW:
        stopped_by = "shadow_mode"
    if stopped_by or action not in GLUE_ACTIONS:
        data: dict[str, Any] = {"attempt": attempt.number, "action": action.value}
        data.update({"job_run_id": None, "awaiting_run": False})
        if stopped_by:
            data["stopped_by"] = stopped_by
        event = store.append(incident_id, EventType.EXECUTED, data)
        return {**dict(event.data), "poll_seconds": int(poll_seconds)}

    marker = f"{incident_id}#{attempt.number}"
    already_started = attempt.started_marker is not None
    if not already_started:
        store.append(
            incident_id,
            EventType.ACTION_STARTED,
            {"attempt": attempt.number, "action": action.value, "marker": marker},
        )

    details: dict[str, Any] = {}
    run_id = _find_marked_run(glue, incident.job_name, marker) if already_started else None
    if run_id is None:
        failed = glue.get_job_run(incident.job_name, incident.job_run_id)
        arguments = {k: v for k, v in failed.arguments.items() if not k.startswith(_RESERVED_PREFIXES)}
        arguments[ATTEMPT_ARGUMENT] = marker
        arguments[ACTION_ARGUMENT] = action.value
        if action is Action.ROLLBACK:
            details = _rollback(incident, glue)
        if action is Action.QUARANTINE:
            root = quarantine_uri.rstrip("/")
            if not root:
                raise RemediationError("quarantine needs QUARANTINE_URI: where the job may put bad records")
            arguments[QUARANTINE_ARGUMENT] = f"{root}/{incident.job_name}/{incident_id}/"
            details = {"quarantine_path": arguments[QUARANTINE_ARGUMENT]}
        run_id = glue.start_job_run(incident.job_name, arguments, failed.run_settings)
    else:
        details = {"reattached": True}

    event = store.append(
        incident_id,
        EventType.EXECUTED,
        {
            "attempt": attempt.number,
            "action": action.value,
            "job_run_id": run_id,
            "awaiting_run": True,
            **details,
        },
    )
    return {**dict(event.data), "poll_seconds": int(poll_seconds)}


def _find_marked_run(glue: GlueActions, job_name: str, marker: str) -> str | None:
    for run in glue.recent_runs(job_name, limit=50):
        if run.arguments.get(ATTEMPT_ARGUMENT) == marker:
            return run.run_id
    return None
