"""Approve-then-execute on the real ASL and handlers (moto's interpreter): a rollback on a critical job is
held for approval; approve, reject, silence, an invalid answer and a kill switch pulled during the wait."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.answers import waiting_request
from selfheal_core.domain.events import Answered, AnswerRequested, Escalated, Executed

from selfheal.commands.answer import deliver_locally
from selfheal.local.engine import EngineOptions, LocalEngine
from selfheal.local.replay import DEFAULT_WORLD, PROJECT_EVENTS, load_event, replay
from selfheal.local.world import World

pytestmark = pytest.mark.slow

SAMPLE = PROJECT_EVENTS / "glue" / "schema_drift_critical.json"
WORLD = World.load(DEFAULT_WORLD)
ASK = ["Escalate", "Human Decision Needed?", "Await Approval", "Check Answer", "Approved?"]
FIX = ["Execute", "Run Started?", "Await Run End", "Validate", "Fix Held?", "Learn", "Incident Closed"]


def events_of(home: Path, incident_id: str) -> list[Any]:
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        return store.load(incident_id)
    finally:
        store.close()


def run(home: Path, **options: Any) -> dict[str, Any]:
    with LocalEngine(
        EngineOptions(home=home, world=WORLD, outcome="success", learning=False, **options)
    ) as e:
        return dict(replay(e, load_event(SAMPLE)).data)


def test_an_approved_rollback_runs_and_counts_as_assisted(tmp_path: Path) -> None:
    summary = run(tmp_path, human="approve")
    path = summary["path"]
    assert path[path.index("Gate Decision") + 1 :] == [*ASK, *FIX]
    assert (summary["outcome"], summary["assisted"], summary["final_action"]) == (
        "resolved",
        True,
        "rollback",
    )
    assert summary["approval"] == ["critical_job_low_risk_only"] and summary["notifications"] == 1
    events = [e.event for e in events_of(tmp_path, summary["incident_id"])]
    kinds = [e.kind for e in events]
    # The token is in the log before the answer, and the answer before anything runs.
    assert kinds.index("escalated") < kinds.index("answer_requested") < kinds.index("answered")
    assert kinds.index("answered") < kinds.index("action_started")
    request = next(e for e in events if isinstance(e, AnswerRequested))
    assert request.question == "approval" and request.task_token and request.proposed.value == "rollback"


@pytest.mark.parametrize(("human", "decision"), [("reject", "reject"), ("timeout", "timeout")])
def test_a_rejected_or_unanswered_approval_runs_nothing_and_a_human_owns_it(
    tmp_path: Path, human: str, decision: str
) -> None:
    summary = run(tmp_path, human=human)
    assert "Execute" not in summary["path"] and summary["glue_runs_started"] == 0
    assert summary["catalog_updates"] == 0
    assert (summary["outcome"], summary["assisted"], summary["final_action"]) == (
        "escalated",
        False,
        "escalate",
    )
    assert ("No Approval" in summary["path"]) is (human == "timeout")
    assert summary["path"][-4:] == ["Check Answer", "Approved?", "Learn", "Incident Closed"]
    answered = [e.event for e in events_of(tmp_path, summary["incident_id"]) if isinstance(e.event, Answered)]
    assert [a.decision for a in answered] == [decision]


def answering(home: Path, answer: Callable[[Any, int], str | None]) -> Iterator[None]:
    """A human in another terminal: each new waiting question gets ``answer(request, n)`` through the local
    inbox, as ``selfheal incidents approve|reject|resolve`` delivers it."""
    stop = threading.Event()
    seen: set[str] = set()

    def loop() -> None:
        while not stop.is_set():
            time.sleep(0.05)
            database = home / "selfheal.sqlite3"
            if not database.exists():
                continue
            store = SqliteEventStore(database)
            try:
                waiting = [waiting_request(store.load(i)) for i in store.incident_ids()]
            finally:
                store.close()
            for request in waiting:
                if request is not None and request.task_token not in seen:
                    seen.add(request.task_token)
                    output = answer(request, len(seen))
                    if output is not None:
                        deliver_locally(home, request.task_token, output)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def test_an_invalid_answer_is_recorded_as_a_rejection_and_the_execution_goes_on(tmp_path: Path) -> None:
    for _ in answering(
        tmp_path, lambda request, n: json.dumps({"decision": "approved", "answered_by": "bob"})
    ):
        summary = run(tmp_path, human="wait")
    assert summary["status"] == "SUCCEEDED" and "Learning Failed" not in summary["path"]
    assert "Execute" not in summary["path"] and summary["outcome"] == "escalated"
    (answered,) = [
        e.event for e in events_of(tmp_path, summary["incident_id"]) if isinstance(e.event, Answered)
    ]
    assert answered.decision == "reject" and answered.by == "bob"
    assert answered.notes.startswith("invalid answer: decision must be one of approve, reject, resolved")


def test_a_kill_switch_pulled_during_the_wait_stops_the_approved_action(tmp_path: Path) -> None:
    engine_box: list[LocalEngine] = []

    def answer(request: Any, n: int) -> str:
        if request.question == "approval":
            engine = engine_box[0]
            engine.client("ssm").put_parameter(
                Name=engine.settings_parameter, Value=json.dumps({"kill_switch": True}), Overwrite=True
            )
            return json.dumps({"decision": "approve", "answered_by": "ana"})
        return json.dumps({"decision": "resolved", "category": "schema_drift", "answered_by": "ana"})

    options = EngineOptions(home=tmp_path, world=WORLD, outcome="success", learning=False, human="wait")
    for _ in answering(tmp_path, answer):
        with LocalEngine(options) as engine:
            engine_box.append(engine)
            summary = dict(replay(engine, load_event(SAMPLE)).data)
    assert summary["glue_runs_started"] == 0 and summary["catalog_updates"] == 0
    path = summary["path"]
    assert path[path.index("Approved?") :][:4] == ["Approved?", "Execute", "Run Started?", "Escalate"]
    assert "Await Human Decision" in path and summary["outcome"] == "escalated" and not summary["assisted"]
    events = [e.event for e in events_of(tmp_path, summary["incident_id"])]
    assert next(e for e in events if isinstance(e, Executed)).stopped_by == "kill_switch"
    assert "kill_switch" in [e for e in events if isinstance(e, Escalated)][-1].reason
    assert [e.decision for e in events if isinstance(e, Answered)] == ["approve", "resolved"]
    labelled = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert [(line["category"], line["source"]) for line in labelled] == [
        ("schema_drift", f"human:{summary['incident_id']}")
    ]
