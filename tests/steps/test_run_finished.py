"""RunFinished: the wait for a run's end is released exactly when the run has ended, once, and only for
runs selfheal waits for (steps/run_finished.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from fakes import FakeGlue
from selfheal_core.adapters.run_watch import MemoryRunWatches
from selfheal_core.errors import InvalidInputError
from selfheal_core.steps import run_finished


class RecordingRelease:
    """Step Functions' side: a token can be released once; later releases are refused as stale."""

    def __init__(self) -> None:
        self.released: list[tuple[str, dict[str, Any]]] = []

    def succeed(self, task_token: str, output: Mapping[str, Any]) -> bool:
        if any(token == task_token for token, _ in self.released):
            return False
        self.released.append((task_token, dict(output)))
        return True


def _watch_payload(run_id: str, token: str = "token-1") -> dict[str, Any]:
    return {
        "watch": {"incident_id": "inc-0123456789abcdef", "job_name": "orders", "job_run_id": run_id},
        "task_token": token,
    }


def _event(run_id: str, state: str) -> dict[str, Any]:
    return {
        "source": "aws.glue",
        "detail-type": "Glue Job State Change",
        "detail": {"jobName": "orders", "jobRunId": run_id, "state": state},
    }


@pytest.fixture
def glue() -> FakeGlue:
    fake = FakeGlue()
    fake.add_job("orders")
    return fake


def test_a_running_run_is_watched_and_its_end_event_releases_the_wait(glue: FakeGlue) -> None:
    run_id = glue.add_run("orders", state="RUNNING")
    watches, release = MemoryRunWatches(), RecordingRelease()
    outcome = run_finished.watch(_watch_payload(run_id), watches, glue, release)
    assert (outcome.released, outcome.reason) == (False, "still_running")
    assert release.released == []
    ended = run_finished.finished(_event(run_id, "SUCCEEDED"), watches, release)
    assert (ended.released, ended.incident_id) == (True, "inc-0123456789abcdef")
    assert release.released == [("token-1", {"job_run_id": run_id, "state": "SUCCEEDED", "source": "event"})]


def test_a_run_that_ended_before_the_watch_is_released_by_the_watch(glue: FakeGlue) -> None:
    run_id = glue.add_run("orders", state="FAILED")
    watches, release = MemoryRunWatches(), RecordingRelease()
    # Its event came first and found no watch: ignored.
    assert run_finished.finished(_event(run_id, "FAILED"), watches, release).reason == "not_ours"
    outcome = run_finished.watch(_watch_payload(run_id), watches, glue, release)
    assert (outcome.released, outcome.state) == (True, "FAILED")
    assert release.released[0][1]["source"] == "watch"


def test_a_duplicate_or_late_event_is_harmless(glue: FakeGlue) -> None:
    run_id = glue.add_run("orders", state="RUNNING")
    watches, release = MemoryRunWatches(), RecordingRelease()
    run_finished.watch(_watch_payload(run_id), watches, glue, release)
    assert run_finished.finished(_event(run_id, "SUCCEEDED"), watches, release).released
    again = run_finished.finished(_event(run_id, "SUCCEEDED"), watches, release)
    assert (again.released, again.reason) == (False, "already_released")
    assert len(release.released) == 1


def test_a_retried_wait_is_released_with_its_new_token(glue: FakeGlue) -> None:
    run_id = glue.add_run("orders", state="RUNNING")
    watches, release = MemoryRunWatches(), RecordingRelease()
    run_finished.watch(_watch_payload(run_id, "token-1"), watches, glue, release)
    run_finished.watch(_watch_payload(run_id, "token-2"), watches, glue, release)
    run_finished.finished(_event(run_id, "TIMEOUT"), watches, release)
    assert [token for token, _ in release.released] == ["token-2"]


@pytest.mark.parametrize("state", ["RUNNING", "STARTING", "STOPPING", "WAITING"])
def test_a_run_that_has_not_ended_releases_nothing(glue: FakeGlue, state: str) -> None:
    run_id = glue.add_run("orders", state="RUNNING")
    watches, release = MemoryRunWatches(), RecordingRelease()
    run_finished.watch(_watch_payload(run_id), watches, glue, release)
    assert run_finished.finished(_event(run_id, state), watches, release).reason == "not_terminal"
    assert release.released == []


def test_a_run_selfheal_did_not_start_is_ignored() -> None:
    release = RecordingRelease()
    outcome = run_finished.finished(_event("jr_someone_elses", "FAILED"), MemoryRunWatches(), release)
    assert (outcome.released, outcome.reason) == (False, "not_ours")
    assert release.released == []


@pytest.mark.parametrize(
    "payload",
    [
        {"watch": {"incident_id": "inc-1", "job_name": "orders"}, "task_token": "t"},
        {"watch": "nope", "task_token": "t"},
        {"watch": {"incident_id": "inc-1", "job_name": "orders", "job_run_id": "jr_1"}, "task_token": ""},
    ],
)
def test_a_malformed_watch_is_a_clear_error(glue: FakeGlue, payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        run_finished.watch(payload, MemoryRunWatches(), glue, RecordingRelease())


@pytest.mark.parametrize("event", [{}, {"detail": "x"}, {"detail": {"state": "FAILED"}}])
def test_a_malformed_event_is_a_clear_error(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        run_finished.finished(event, MemoryRunWatches(), RecordingRelease())
