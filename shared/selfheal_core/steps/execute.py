"""Execute: apply the gated action through the Glue API, recording the intent before touching Glue.

Contract with the jobs (documented in the README):
- every run selfheal starts carries ``--selfheal-attempt <incident>#<attempt>``, which is how a retried
  Execute finds the run it already started instead of starting a second one, and
  ``--selfheal-action <action>``, so the job (and its owner) knows why it runs;
- ``quarantine`` starts the run with ``--selfheal-quarantine-path s3://.../<job>/<incident>/``: the job
  writes records that fail its checks there and loads the rest.
"""

from __future__ import annotations

from dataclasses import replace

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import ExecuteResult
from selfheal_core.domain.events import ActionStarted, Executed, RestoredTable
from selfheal_core.domain.incident import Attempt, IncidentState, evolve
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.errors import InvalidInputError, RemediationError
from selfheal_core.job_contract import ACTION_ARGUMENT, ATTEMPT_ARGUMENT, QUARANTINE_ARGUMENT
from selfheal_core.ports import EventStore, GlueActions
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import GLUE_ACTIONS, Action

# Arguments Glue manages itself (refused or meaningless on StartJobRun), and selfheal's own markers of an
# earlier attempt (a stale quarantine path would turn a plain retry into a quarantine run).
_RESERVED_PREFIXES = ("--JOB_", "--job-bookmark-option-from", "--selfheal-")
# A Glue workflow passes these to the runs it starts; a re-run outside the workflow must not claim to be
# part of that workflow run (the job would read or write the workflow run's properties).
_RESERVED_ARGUMENTS = frozenset({"--WORKFLOW_NAME", "--WORKFLOW_RUN_ID"})


def _inherited(name: str) -> bool:
    return not name.startswith(_RESERVED_PREFIXES) and name not in _RESERVED_ARGUMENTS


def _rollback(state: IncidentState, glue: GlueActions) -> tuple[RestoredTable, ...]:
    """Every drifted table goes back to its baseline in the same attempt: the run needs all of them."""
    targets = state.rollback_targets
    if not targets:
        raise RemediationError("rollback needs a drifted table with a baseline version")
    restored = []
    for target in targets:
        assert target.baseline_version is not None  # rollback_safe requires it
        database, _, table = target.table.partition(".")
        glue.restore_table_version(database, table, target.baseline_version)
        restored.append(RestoredTable(target.table, target.baseline_version))
    return tuple(restored)


def stopped_by(safety: SafetySettings | None) -> str | None:
    """The switches are read again here: a backoff wait may separate the gate from this step."""
    if safety is not None and safety.kill_switch:
        return "kill_switch"
    if safety is not None and safety.mode == Mode.SHADOW:
        return "shadow_mode"
    return None


# Glue emits the run's end event as the run ends; the margin covers its delivery and a run that Glue
# stops a little after its timeout.
RUN_END_MARGIN_SECONDS = 300


def wait_seconds(run_settings: dict[str, object] | None, run_wait_seconds: float) -> int:
    """How long to wait for a run's end event: its Glue timeout (minutes) plus the margin, capped."""
    cap = max(1, int(run_wait_seconds))
    timeout = (run_settings or {}).get("Timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return max(1, min(cap, int(timeout * 60) + RUN_END_MARGIN_SECONDS))
    return cap


def run(
    incident_id: str,
    store: EventStore,
    glue: GlueActions,
    quarantine_uri: str,
    poll_seconds: float,
    safety: SafetySettings | None = None,
    run_wait_seconds: float = 3000.0,
) -> ExecuteResult:
    default_wait = wait_seconds(None, run_wait_seconds)

    def result(executed: Executed, job_name: str, wait: int = default_wait) -> ExecuteResult:
        return ExecuteResult(
            attempt=executed.attempt,
            action=executed.action.value,
            job_run_id=executed.job_run_id,
            awaiting_run=executed.awaiting_run,
            poll_seconds=int(poll_seconds),
            stopped_by=executed.stopped_by,
            restored=tuple(f"{r.table}@{r.version}" for r in executed.restored),
            quarantine_path=executed.quarantine_path,
            wait_seconds=wait,
            job_name=job_name,
        )

    def execute_once() -> ExecuteResult:
        state = load_state(store, incident_id)
        attempt = state.current_attempt
        if attempt is None or attempt.action is None:
            raise InvalidInputError(f"incident {incident_id} has no gated action to execute")
        if attempt.executed is not None:  # a retried Execute: report what was already done
            return result(attempt.executed, state.job_name)
        # Defence in depth: an action held for approval runs only once a human approved it.
        stop = stopped_by(safety) or ("awaiting_approval" if attempt.held else None)
        wait = default_wait
        if stop or attempt.action not in GLUE_ACTIONS:
            executed = Executed(attempt.number, attempt.action, stopped_by=stop)
        else:
            state, executed, settings = _start(state, attempt, store, glue, quarantine_uri)
            wait = wait_seconds(settings, run_wait_seconds)
        store.append(incident_id, executed, state.next_seq)
        return result(executed, state.job_name, wait)

    return retry_on_conflict(execute_once)


def _start(
    state: IncidentState, attempt: Attempt, store: EventStore, glue: GlueActions, quarantine_uri: str
) -> tuple[IncidentState, Executed, dict[str, object] | None]:
    """Start the run (or find the one a retried Execute already started); also the failed run's settings,
    whose Timeout bounds the wait for the new run's end."""
    assert attempt.action is not None
    action = attempt.action
    marker = f"{state.incident_id}#{attempt.number}"
    already_started = attempt.started_marker is not None
    if not already_started:
        intent = ActionStarted(attempt.number, action, marker)
        state = evolve(state, store.append(state.incident_id, intent, state.next_seq))

    executed = Executed(attempt.number, action, awaiting_run=True)
    run_id = _find_marked_run(glue, state.job_name, marker) if already_started else None
    if run_id is not None:
        return state, replace(executed, job_run_id=run_id, reattached=True), None

    failed = glue.get_job_run(state.job_name, state.job_run_id)
    arguments = {k: v for k, v in failed.arguments.items() if _inherited(k)}
    arguments[ATTEMPT_ARGUMENT] = marker
    arguments[ACTION_ARGUMENT] = action.value
    if action is Action.ROLLBACK:
        executed = replace(executed, restored=_rollback(state, glue))
    if action is Action.QUARANTINE:
        root = quarantine_uri.rstrip("/")
        if not root:
            raise RemediationError("quarantine needs QUARANTINE_URI: where the job may put bad records")
        arguments[QUARANTINE_ARGUMENT] = f"{root}/{state.job_name}/{state.incident_id}/"
        executed = replace(executed, quarantine_path=arguments[QUARANTINE_ARGUMENT])
    run_id = glue.start_job_run(state.job_name, arguments, failed.run_settings)
    return state, replace(executed, job_run_id=run_id), dict(failed.run_settings)


def _find_marked_run(glue: GlueActions, job_name: str, marker: str) -> str | None:
    for run in glue.recent_runs(job_name, limit=50):
        if run.arguments.get(ATTEMPT_ARGUMENT) == marker:
            return run.run_id
    return None
