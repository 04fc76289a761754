"""RunFinished: the end of a run selfheal started releases the execution waiting for it.

Two inputs, one function:

- ``watch``: the state machine's "Await Run End" task (``lambda:invoke.waitForTaskToken``) records the
  run id with the task token, then looks at the run once: a run that ended before the watch was written
  (its event came first, and found no watch) is released from here. Either way exactly one of the two
  sees the end; when both do, the second release is refused as stale and ignored.
- ``finished``: the Glue Job State Change event of a run in a terminal state (the EventBridge rule)
  releases the token recorded for that run id. A run selfheal did not start has no watch and is ignored;
  a late or repeated event finds the wait over (``TaskRelease.succeed`` returns False) and is ignored.

Validate then reads the run once (GetJobRun) whatever released the wait, so the outcome never depends on
the event's content, and a lost event only costs the wait's timeout, after which Validate checks anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from selfheal_core.contracts import RunEnd
from selfheal_core.errors import InvalidInputError
from selfheal_core.ports import GlueCatalog, RunWatch, RunWatches, TaskRelease

# Glue's terminal run states (the EventBridge rule matches the same list).
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"})


@dataclass(frozen=True)
class Outcome:
    run_id: str
    released: bool
    reason: str  # "released" | "still_running" | "not_terminal" | "not_ours" | "already_released"
    incident_id: str | None = None
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "released": self.released,
            "reason": self.reason,
            "incident_id": self.incident_id,
            "state": self.state,
        }


def _text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise InvalidInputError(f"{what} needs a non-empty string {key!r}")
    return value


def _release(release: TaskRelease, watch: RunWatch, state: str, source: Literal["event", "watch"]) -> Outcome:
    released = release.succeed(watch.task_token, RunEnd(watch.run_id, state, source).to_json())
    return Outcome(
        watch.run_id,
        released,
        "released" if released else "already_released",
        watch.incident_id,
        state,
    )


def watch(
    payload: Mapping[str, Any], watches: RunWatches, glue: GlueCatalog, release: TaskRelease
) -> Outcome:
    """Record the wait for the run, then release it at once if the run has already ended."""
    token = _text(payload, "task_token", "a run watch")
    spec = payload.get("watch")
    if not isinstance(spec, Mapping):
        raise InvalidInputError("a run watch needs 'watch': {incident_id, job_name, job_run_id}")
    watched = RunWatch(
        run_id=_text(spec, "job_run_id", "a run watch"),
        incident_id=_text(spec, "incident_id", "a run watch"),
        job_name=_text(spec, "job_name", "a run watch"),
        task_token=token,
    )
    watches.watch(watched)
    run = glue.get_job_run(watched.job_name, watched.run_id)
    if run.state not in TERMINAL_STATES:
        return Outcome(watched.run_id, False, "still_running", watched.incident_id, run.state)
    return _release(release, watched, run.state, "watch")


def finished(event: Mapping[str, Any], watches: RunWatches, release: TaskRelease) -> Outcome:
    """A Glue Job State Change event: release the wait for that run, if selfheal waits for it."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInputError("a Glue Job State Change event needs a 'detail' object")
    run_id = _text(detail, "jobRunId", "a Glue Job State Change event")
    state = _text(detail, "state", "a Glue Job State Change event")
    if state not in TERMINAL_STATES:
        return Outcome(run_id, False, "not_terminal", state=state)
    found = watches.find(run_id)
    if found is None:
        return Outcome(run_id, False, "not_ours", state=state)
    return _release(release, found, state, "event")


def is_watch(payload: Mapping[str, Any]) -> bool:
    return "watch" in payload and "task_token" in payload
