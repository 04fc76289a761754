"""No incident stays stuck: the Sweeper escalates incidents whose execution ended or vanished, once; and a
killed replay is closed by ``selfheal incidents sweep``, which a later replay of the event reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import InMemoryEventStore, RecordingNotifier, make_deps
from selfheal_core.domain.events import Escalated, Gated, Notified, Opened, Proposed, Validated
from selfheal_core.domain.incident import Outcome, fold, incident_id_for
from selfheal_core.steps import sweep
from selfheal_core.vocabulary import Action

from selfheal.cli import main
from selfheal.local.replay import PROJECT_EVENTS

ARN = "arn:aws:states:us-east-1:123456789012:execution:selfheal-incidents:run-1"
LATER = datetime.now(UTC) + timedelta(hours=1)


class Executions:
    def __init__(self, statuses: dict[str, str | None]) -> None:
        self.statuses = statuses
        self.asked: list[str] = []

    def status(self, execution_arn: str) -> str | None:
        self.asked.append(execution_arn)
        return self.statuses.get(execution_arn)


def _left_open(store: InMemoryEventStore, run: str, arn: str = ARN) -> str:
    """An incident whose execution stopped after the gate: no resolution, no escalation."""
    incident_id = incident_id_for("orders", run)
    store.open(incident_id, Opened("orders", run, arn))
    store.append(incident_id, Proposed(1, Action.RETRY), 1)
    store.append(incident_id, Gated(1, Action.RETRY, Action.RETRY), 2)
    return incident_id


def _sweep(store: InMemoryEventStore, executions: Executions, notifier: RecordingNotifier, **kw: Any) -> Any:
    options: dict[str, Any] = {"now": LATER, "deadline_seconds": 900, "lookback_seconds": 86400, **kw}
    return sweep.run(store, store, executions, notifier, region="us-east-1", **options)


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED", None])
def test_an_incident_whose_execution_ended_or_vanished_is_escalated_once(status: str | None) -> None:
    store, notifier = InMemoryEventStore(), RecordingNotifier()
    incident_id = _left_open(store, "jr_1")
    result = _sweep(store, Executions({ARN: status}), notifier)
    assert result.swept == [incident_id]
    state = fold(store.load(incident_id))
    assert state.outcome is Outcome.ESCALATED and not state.notification_pending
    escalated = store.last(incident_id, Escalated)
    assert escalated.source == "sweeper" and (status or "vanished").lower() in escalated.reason
    ((_, message),) = notifier.messages
    assert message["dedupe_key"] == escalated.notification_id and message["incident_id"] == incident_id
    # The next run finds nothing to do.
    again = _sweep(store, Executions({ARN: status}), notifier)
    assert again.swept == [] and len(notifier) == 1


def test_a_running_execution_a_young_incident_and_a_closed_one_are_left_alone() -> None:
    store, notifier = InMemoryEventStore(), RecordingNotifier()
    running = _left_open(store, "jr_running")
    resolved = _left_open(store, "jr_resolved", arn=ARN + "-2")
    store.append(resolved, Validated(1, "jr_new", "SUCCEEDED", final=True, fixed=True), 3)
    told = _left_open(store, "jr_told", arn=ARN + "-3")
    store.append(told, Escalated("stopped", f"{told}:escalation:3"), 3)
    store.append(told, Notified("msg-0"), 4)
    executions = Executions({ARN: "RUNNING", ARN + "-2": "SUCCEEDED", ARN + "-3": "SUCCEEDED"})
    result = _sweep(store, executions, notifier)
    assert result.swept == [] and result.still_running == [running] and len(notifier) == 0
    assert result.examined == 3
    young = _sweep(store, executions, notifier, now=datetime.now(UTC))  # opened less than 15 min ago
    assert young.examined == 0


def test_an_escalation_never_delivered_is_resent_under_its_own_key() -> None:
    store, notifier = InMemoryEventStore(), RecordingNotifier()
    incident_id = _left_open(store, "jr_1")
    store.append(incident_id, Escalated("the log went down", f"{incident_id}:escalation:3"), 3)
    result = _sweep(store, Executions({ARN: "FAILED"}), notifier)
    assert result.swept == [incident_id]
    assert [e.kind for e in store.load(incident_id)][-2:] == ["escalated", "notified"]  # no second escalation
    ((_, message),) = notifier.messages
    assert message["dedupe_key"] == f"{incident_id}:escalation:3"


def test_one_failing_incident_does_not_keep_the_others_open() -> None:
    store, notifier = InMemoryEventStore(), RecordingNotifier()
    first = _left_open(store, "jr_1", arn=ARN + "-1")
    second = _left_open(store, "jr_2", arn=ARN + "-2")

    class Flaky(Executions):
        def status(self, execution_arn: str) -> str | None:
            if execution_arn.endswith("-1"):
                raise RuntimeError("DescribeExecution throttled")
            return None

    result = _sweep(store, Flaky({}), notifier)
    assert result.swept == [second] and list(result.failed) == [first]


def test_an_incident_opened_in_the_cutoffs_own_millisecond_is_swept() -> None:
    """The stores cut an event's time down to the millisecond: with a deadline of 0, an incident opened
    earlier in the same millisecond as the sweep is still one opened before it."""
    store, notifier = InMemoryEventStore(), RecordingNotifier()
    store.now = lambda: "2026-12-01T07:00:00.123Z"  # type: ignore[method-assign]
    incident_id = _left_open(store, "jr_1")
    same_millisecond = datetime(2026, 12, 1, 7, 0, 0, 123400, tzinfo=UTC)
    result = _sweep(store, Executions({ARN: "FAILED"}), notifier, now=same_millisecond, deadline_seconds=0)
    assert result.swept == [incident_id]


def test_the_sweeper_function_reports_what_it_swept(load_handler: Any, lambda_context: Any) -> None:
    deps = make_deps()
    incident_id = _left_open(deps.store, "jr_1")
    handler = load_handler("sweeper")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWEEP_AFTER_SECONDS", "0")
        result = handler(
            {"id": "sched-1", "detail-type": "Scheduled Event"},
            lambda_context,
            deps=deps,
            index=deps.store,
            executions=Executions({ARN: "FAILED"}),
        )
    assert result["swept"] == [incident_id] and result["failed"] == {}
    assert len(deps.notifier) == 1


# -- locally: a killed replay ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_killed_replay_is_closed_by_the_sweep_and_a_replay_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    from selfheal.commands.replay import forget_open_stores

    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path))
    event_path = PROJECT_EVENTS / "glue" / "schema_drift.json"
    detail = json.loads(event_path.read_text())["detail"]
    incident_id = incident_id_for(detail["jobName"], detail["jobRunId"])
    # What a replay killed after the gate leaves behind: an open incident whose execution is gone.
    store = SqliteEventStore(tmp_path / "selfheal.sqlite3")
    store.open(incident_id, Opened(detail["jobName"], detail["jobRunId"], ARN))
    store.append(incident_id, Proposed(1, Action.ROLLBACK), 1)
    store.append(incident_id, Gated(1, Action.ROLLBACK, Action.ROLLBACK), 2)
    store.close()

    assert main(["incidents", "sweep", "--json"]) == 0
    swept = json.loads(capsys.readouterr().out)
    assert swept["swept"] == [incident_id] and swept["audit_files_written"] == 5
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert json.loads(line)["message"]["incident_id"] == incident_id
    assert main(["incidents", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)  # one JSON array (issue 10)
    assert listed["outcome"] == "escalated" and listed["swept"] is True and listed["status"] == "closed"

    forget_open_stores()
    assert main(["replay", str(event_path), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["outcome"] == "duplicate" and summary["closed_by"] == "sweeper"
    assert "closed by the sweeper" in captured.err
