"""Runs awaited by event, on the real ASL and handlers (the local engine): the run's Glue Job State Change
event releases "Await Run End" through RunFinished; a lost event falls back to Validate's own look after
the wait; a duplicate or foreign event changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from selfheal.local.engine import EngineOptions, ExecutionResult, LocalEngine
from selfheal.local.replay import DEFAULT_WORLD, PROJECT_EVENTS, load_event
from selfheal.local.world import World

pytestmark = pytest.mark.slow

WORLD = World.load(DEFAULT_WORLD)
EVENT = load_event(PROJECT_EVENTS / "glue" / "transient_network.json")
WAIT_THEN_CHECK = ["Execute", "Run Started?", "Await Run End", "Validate", "Fix Held?", "Learn"]


def _engine(home: Path, **options: Any) -> LocalEngine:
    return LocalEngine(EngineOptions(home=home, world=WORLD, outcome="success", learning=False, **options))


def _run_end(engine: LocalEngine, result: ExecutionResult) -> Any:
    """What "Await Run End" put in ``$.run_end``: the release, or the caught timeout."""
    exited = next(
        e
        for e in result.history
        if str(getattr(e["type"], "value", e["type"])) == "TaskStateExited"
        and e["stateExitedEventDetails"]["name"] == "Await Run End"
    )
    return json.loads(exited["stateExitedEventDetails"]["output"]).get("run_end")


def _path_from_execute(result: ExecutionResult) -> list[str]:
    start = result.path.index("Execute")
    return result.path[start : start + len(WAIT_THEN_CHECK)]


def test_the_run_end_event_releases_the_wait(tmp_path: Path) -> None:
    with _engine(tmp_path) as engine:
        result = engine.run(EVENT)
        assert result.status == "SUCCEEDED"
        assert _path_from_execute(result) == WAIT_THEN_CHECK
        run_end = _run_end(engine, result)
    assert run_end["source"] == "event" and run_end["state"] == "SUCCEEDED"
    assert result.calls.calls["stepfunctions:SendTaskSuccess"] == 1
    # Released by the event, not polled: no Wait state ran, and Validate read the run once.
    assert [kind for kind, _ in result.waits if kind == "wait"] == []
    assert [i.function for i in engine.invocations].count("RunFinished") == 2  # the watch, then the event


def test_a_lost_event_falls_back_to_one_check_after_the_wait(tmp_path: Path) -> None:
    with _engine(tmp_path, run_events="lose", environment={"RUN_WAIT_SECONDS": "1"}) as engine:
        result = engine.run(EVENT)
        run_end = _run_end(engine, result)
    assert result.status == "SUCCEEDED"
    assert run_end["Error"] == "States.Timeout"
    assert _path_from_execute(result) == WAIT_THEN_CHECK
    assert "stepfunctions:SendTaskSuccess" not in result.calls.calls
    summary = result.output or {}
    assert summary.get("outcome") == "resolved"


def test_a_duplicate_event_is_harmless(tmp_path: Path) -> None:
    with _engine(tmp_path, run_events="duplicate") as engine:
        result = engine.run(EVENT)
        functions = [i.function for i in engine.invocations]
    assert result.status == "SUCCEEDED"
    assert _path_from_execute(result) == WAIT_THEN_CHECK
    assert functions.count("RunFinished") == 3
    assert functions.count("Validate") == 1 and functions.count("Learn") == 1


def test_an_event_for_a_run_selfheal_did_not_start_is_ignored(tmp_path: Path) -> None:
    with _engine(tmp_path) as engine:
        foreign = engine.emit_run_event("customer-dim-build", "jr_not_started_by_selfheal", "FAILED")
        result = engine.run(EVENT)
        run_id = _run_end(engine, result)["job_run_id"]
        # The same run's event again, after the incident closed: the wait is over, nothing happens.
        late = engine.emit_run_event("orders-daily-load", run_id, "SUCCEEDED")
    assert (foreign["released"], foreign["reason"]) == (False, "not_ours")
    assert (late["released"], late["reason"]) == (False, "already_released")
    assert result.status == "SUCCEEDED"


def test_the_polling_fallback_still_runs_when_the_wait_cannot_be_recorded(tmp_path: Path) -> None:
    # Every response of the watch is lost (its Retry, then the Catch): the run is polled instead.
    with _engine(tmp_path, faults=_faults("lost:RunFinished always")) as engine:
        result = engine.run(EVENT)
    assert result.status == "SUCCEEDED"
    assert "Wait For Job Run" in result.path
    assert result.path.index("Await Run End") < result.path.index("Wait For Job Run")
    assert (result.output or {}).get("outcome") == "resolved"


def _faults(*specs: str) -> tuple[Any, ...]:
    from selfheal.local.faults import parse

    return tuple(parse(s) for s in specs)
