"""One contract, every backend: the SQLite store (local), the DynamoDB store (AWS, via moto) and the
in-memory store (the simulator's, and the base of the test fakes)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes import REGION, create_events_table
from moto import mock_aws
from selfheal_core.adapters.audit import AuditedEventStore, DirectoryAuditSink, S3AuditSink
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore, DynamoDbQTableStore
from selfheal_core.adapters.memory import MemoryEventStore, MemoryQTableStore
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.events import (
    SCHEMA_VERSION,
    Answered,
    Diagnosed,
    DomainEvent,
    Escalated,
    Executed,
    Gated,
    Opened,
    Proposed,
    RestoredTable,
    Validated,
)
from selfheal_core.domain.incident import Outcome, fold
from selfheal_core.domain.learning import N_ACTIONS, QRow, QUpdate
from selfheal_core.domain.learning import fold as fold_updates
from selfheal_core.errors import ConcurrentUpdateError
from selfheal_core.vocabulary import Action, Category, Criticality

THREADS = 8
V1_LOG = Path(__file__).resolve().parents[1] / "data" / "event_log_v1.json"


class SerializedClient:
    """moto evaluates a ConditionExpression and writes the item in two steps that another thread can
    interleave, so two conditional puts can both win. DynamoDB itself applies a conditional write
    atomically; serialising each API call restores that guarantee without hiding any client-side race
    (the read-then-write races of the stores still happen between calls)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in ("get_paginator", "can_paginate"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


class RecordingClient:
    """A boto3 client proxy that records every API call and its arguments."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(*args, **kwargs)

        return call


@pytest.fixture
def aws(aws_env) -> Iterator[None]:
    with mock_aws():
        yield


def _dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def _q_table(client: Any) -> str:
    client.create_table(
        TableName="selfheal-q",
        KeySchema=[{"AttributeName": "state", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "state", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "selfheal-q"


@pytest.fixture(params=["sqlite", "dynamodb", "memory"])
def event_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteEventStore(tmp_path / "events.sqlite3")
        yield store
        store.close()
    elif request.param == "dynamodb":
        request.getfixturevalue("aws")
        client = _dynamodb()
        yield DynamoDbEventStore(create_events_table(client), client=SerializedClient(client))
    else:
        yield MemoryEventStore()


@pytest.fixture(params=["sqlite", "dynamodb", "memory"])
def q_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteQTableStore(tmp_path / "q.sqlite3")
        yield store
        store.close()
    elif request.param == "dynamodb":
        request.getfixturevalue("aws")
        client = _dynamodb()
        yield DynamoDbQTableStore(_q_table(client), client=SerializedClient(client))
    else:
        yield MemoryQTableStore()


# -- event log ---------------------------------------------------------------------------------------
DRIFT = DriftReport("sales.orders", "1", "2", type_changed=(("amount", "double", "string"),))
DIAGNOSIS = Diagnosis(
    "orders", Category.TYPE_MISMATCH, 0.9, "sig", ("the line",), Criticality.HIGH, "high", (DRIFT,)
)


def test_open_is_idempotent(event_store):
    created, first = event_store.open("inc-a", Opened("j", "jr_1", "ex-1"))
    again, second = event_store.open("inc-a", Opened("j", "jr_1", "ex-2"))
    assert (created, again) == (True, False)
    assert first.seq == second.seq == 0 and second.kind == "opened"
    assert isinstance(second.event, Opened)
    assert second.event.execution_id == "ex-1"  # the first opener owns the incident
    assert len(event_store.load("inc-a")) == 1


def test_append_takes_the_expected_sequence_number(event_store):
    event_store.open("inc-a", Opened("j", "jr_1"))
    diagnosed = event_store.append("inc-a", Diagnosed(DIAGNOSIS), 1)
    proposed = event_store.append("inc-a", Proposed(1, Action.RETRY), 2)
    assert (diagnosed.seq, proposed.seq) == (1, 2)
    assert diagnosed.incident_id == "inc-a" and diagnosed.event == Diagnosed(DIAGNOSIS)
    other = event_store.append("inc-b", Escalated("x"), 0)
    assert other.seq == 0  # sequences are per incident
    assert [r.seq for r in event_store.load("inc-a")] == [0, 1, 2]


def test_append_at_a_taken_sequence_number_raises_and_changes_nothing(event_store):
    event_store.open("inc-a", Opened("j", "jr_1"))
    event_store.append("inc-a", Proposed(1, Action.RETRY), 1)
    before = event_store.load("inc-a")
    for taken in (0, 1):  # a writer that folded a stale log
        with pytest.raises(ConcurrentUpdateError):
            event_store.append("inc-a", Escalated("a stale writer"), taken)
    assert event_store.load("inc-a") == before
    # re-read, decided again: the append at the new end succeeds
    assert event_store.append("inc-a", Escalated("re-read"), fold(before).next_seq).seq == 2


def test_load_is_ordered_and_round_trips_every_field(event_store):
    opened = Opened("orders", "jr_1", "ex-1", {"detail": {"jobName": "orders", "nested": {"ok": True}}})
    event_store.open("inc-a", opened)
    events: list[DomainEvent] = [
        Diagnosed(DIAGNOSIS, ("/aws-glue/jobs/error:jr_1",), True),
        Proposed(
            1, Action.ROLLBACK, True, "learned", (Action.ROLLBACK, Action.ESCALATE), "k", {"rollback": -1.5}
        ),
        Gated(1, Action.ROLLBACK, Action.ROLLBACK, (), {"quarantine": ("no_quarantine",)}, ("c",)),
        Executed(1, Action.ROLLBACK, "jr_2", True, restored=(RestoredTable("sales.orders", "1"),)),
        *[Validated(1, "jr_2", "RUNNING", final=False) for _ in range(7)],
        Validated(1, "jr_2", "FAILED", True, False, None, None, 0.0),  # None fields stay None
        Answered("fixed", "me", minutes_to_fix=None),
    ]
    for seq, event in enumerate(events, start=1):
        event_store.append("inc-a", event, seq)
    records = event_store.load("inc-a")
    assert [r.seq for r in records] == list(range(len(events) + 1))  # ordered past seq 9, not as text
    assert [r.event for r in records] == [opened, *events]
    assert records[0].kind == "opened" and all(r.incident_id == "inc-a" for r in records)
    assert event_store.load("inc-missing") == []


def test_concurrent_appends_lose_nothing_and_leave_no_gaps(event_store):
    per_thread = 25
    event_store.open("inc-hot", Opened("j", "jr_1"))
    conflicts: list[int] = []

    def writer(thread: int) -> None:
        expected = 1  # every writer starts from the same read of the log: all but one lose seq 1
        for k in range(per_thread):
            while True:
                try:
                    event_store.append("inc-hot", Escalated(reason=f"{thread}:{k}"), expected)
                    expected += 1
                    break
                except ConcurrentUpdateError:
                    # Lost the race: that seq is taken. (A step re-reads the log; skipping ahead keeps
                    # the moto run short and checks the same thing: one winner per seq, no gaps.)
                    conflicts.append(thread)
                    expected += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))
    assert len(conflicts) >= THREADS - 1
    records = event_store.load("inc-hot")
    assert [r.seq for r in records] == list(range(THREADS * per_thread + 1))
    written = []
    for record in records[1:]:
        assert isinstance(record.event, Escalated)
        thread, k = record.event.reason.split(":")
        written.append((int(thread), int(k)))
    assert sorted(written) == [(t, k) for t in range(THREADS) for k in range(per_thread)]


def test_a_dynamodb_append_is_one_conditional_put_at_the_expected_seq(aws):
    client = _dynamodb()
    table = create_events_table(client)
    recording = RecordingClient(client)
    store = DynamoDbEventStore(table, client=recording)
    store.open("inc-a", Opened("j", "jr_1"))

    recording.calls.clear()
    store.append("inc-a", Escalated("r"), 1)
    assert [name for name, _ in recording.calls] == ["put_item"]  # no query for the last seq
    put = recording.calls[0][1]
    assert put["ConditionExpression"] == "attribute_not_exists(seq)"
    assert put["Item"]["seq"] == {"N": "1"} and put["Item"]["v"] == {"N": str(SCHEMA_VERSION)}

    recording.calls.clear()
    with pytest.raises(ConcurrentUpdateError):
        store.append("inc-a", Escalated("lost the race"), 1)
    assert [name for name, _ in recording.calls] == ["put_item"]
    item = client.get_item(TableName=table, Key={"incident_id": {"S": "inc-a"}, "seq": {"N": "1"}})["Item"]
    assert json.loads(item["data"]["S"])["reason"] == "r"


# -- logs written before typed events (schema v1) ------------------------------------------------------
V1_SQLITE_SCHEMA = """
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE TABLE q_rows (
    state TEXT PRIMARY KEY,
    row TEXT NOT NULL,
    version INTEGER NOT NULL
);
"""


def _v1_log() -> list[dict[str, Any]]:
    """The longest incident recorded by selfheal 0.1.0 that a human answered (``human_decided``)."""
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for record in json.loads(V1_LOG.read_text())["events"]:
        by_incident.setdefault(record["incident_id"], []).append(record)
    answered = [log for log in by_incident.values() if any(r["type"] == "human_decided" for r in log)]
    log = max(answered, key=len)
    assert all("v" not in r for r in log)
    return log


@pytest.fixture(params=["sqlite", "dynamodb"])
def v1_store(request, tmp_path) -> Iterator[tuple[Any, list[dict[str, Any]], Any]]:
    """(a store over a log written with schema v1, that log, a function reading each row's raw ``v``).
    The memory store keeps typed events only: it has no stored form to upcast."""
    log = _v1_log()
    if request.param == "sqlite":
        path = tmp_path / "v1.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.executescript(V1_SQLITE_SCHEMA)
            conn.executemany(
                "INSERT INTO incident_events (incident_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)",
                [(r["incident_id"], r["seq"], r["type"], r["at"], json.dumps(r["data"])) for r in log],
            )
        conn.close()

        def sqlite_versions() -> dict[int, int | None]:
            raw = sqlite3.connect(path)
            try:
                return dict(raw.execute("SELECT seq, v FROM incident_events").fetchall())
            finally:
                raw.close()

        store = SqliteEventStore(path)  # opening an old database adds the ``v`` column
        yield store, log, sqlite_versions
        store.close()
        return
    request.getfixturevalue("aws")
    client = _dynamodb()
    table = create_events_table(client)
    for r in log:
        client.put_item(
            TableName=table,
            Item={
                "incident_id": {"S": r["incident_id"]},
                "seq": {"N": str(r["seq"])},
                "type": {"S": r["type"]},
                "at": {"S": r["at"]},
                "data": {"S": json.dumps(r["data"])},
            },
        )

    def dynamodb_versions() -> dict[int, int | None]:
        items = client.scan(TableName=table)["Items"]
        return {int(i["seq"]["N"]): int(i["v"]["N"]) if "v" in i else None for i in items}

    yield DynamoDbEventStore(table, client=client), log, dynamodb_versions


def test_a_v1_log_loads_folds_and_grows_in_the_current_schema(v1_store):
    store, log, versions = v1_store
    incident_id = log[0]["incident_id"]

    records = store.load(incident_id)

    assert [r.seq for r in records] == [r["seq"] for r in log]
    assert [r.kind for r in records] == [
        "answered" if r["type"] == "human_decided" else r["type"] for r in log
    ]
    state = fold(records)
    assert state.job_name == log[0]["data"]["job_name"]
    assert state.diagnosis is not None and state.diagnosis.category.value == log[1]["data"]["category"]
    assert len(state.attempts) == sum(r["type"] == "proposed" for r in log) > 1
    human = next(r for r in log if r["type"] == "human_decided")["data"]
    assert state.answer is not None and state.answer.decision == human["decision"]
    assert state.outcome is Outcome.ESCALATED and state.learned is True

    appended = store.append(incident_id, Escalated("after the upgrade"), state.next_seq)
    assert appended.seq == len(log)
    with pytest.raises(ConcurrentUpdateError):
        store.append(incident_id, Escalated("stale"), len(log) - 1)
    assert store.load(incident_id)[-1] == appended
    assert versions() == {**{r["seq"]: None for r in log}, len(log): SCHEMA_VERSION}


@pytest.fixture(params=["s3", "directory"])
def audit(request, tmp_path):
    """(sink, a function listing the audit keys written)."""
    if request.param == "s3":
        request.getfixturevalue("aws")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="selfheal-audit")

        def keys() -> list[str]:
            return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="selfheal-audit").get("Contents", []))

        def body(key: str) -> dict:
            return json.loads(s3.get_object(Bucket="selfheal-audit", Key=key)["Body"].read())

        return S3AuditSink("selfheal-audit", client=s3), keys, body
    root = tmp_path / "audit"

    def files() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*.json"))

    return DirectoryAuditSink(root), files, lambda key: json.loads((root / key).read_text())


def test_audited_store_writes_each_new_event_once(event_store, audit):
    sink, keys, body = audit
    store = AuditedEventStore(event_store, sink)
    store.open("inc-a", Opened("j", "jr_1"))
    store.open("inc-a", Opened("j", "jr_1", "ex-2"))  # a redelivery: nothing new, nothing audited
    store.append("inc-a", Diagnosed(Diagnosis.unknown("j")), 1)
    store.append("inc-a", Escalated("r"), 2)
    with pytest.raises(ConcurrentUpdateError):
        store.append("inc-a", Escalated("lost the race"), 2)  # a lost race is not audited
    assert keys() == [
        "incidents/inc-a/000000-opened.json",
        "incidents/inc-a/000001-diagnosed.json",
        "incidents/inc-a/000002-escalated.json",
    ]
    escalated = body("incidents/inc-a/000002-escalated.json")
    assert escalated["data"] == {"reason": "r", "notification_id": "", "await_human": False}
    assert (escalated["type"], escalated["seq"], escalated["v"]) == ("escalated", 2, SCHEMA_VERSION)
    assert [e.seq for e in store.load("inc-a")] == [0, 1, 2]


# -- Q-table ---------------------------------------------------------------------------------------
RATE = 0.1


def initial() -> QRow:
    return QRow.initial([-15.0] * N_ACTIONS, RATE)


def update(store: Any, update_id: str, key: str, action: Action, target: float) -> QUpdate:
    """The update a Learn computes on the row as it reads it now."""
    row = store.load_rows([key]).get(key, initial())
    return QUpdate.of(update_id, key, row, action, target, RATE)


def test_apply_creates_the_row_from_initial(q_store):
    assert q_store.apply(update(q_store, "inc-a#0#s1", "s1", Action.RETRY, -1.0)) is True
    rows = q_store.load_rows(["s1", "missing"])
    assert set(rows) == {"s1"}
    row = rows["s1"]
    assert row.cell(Action.RETRY).visits == 1 and row.total_visits == 1
    assert row.cell(Action.RETRY).value == pytest.approx((-15.0 - 1.0) / 2)
    assert row.cell(Action.ESCALATE).value == -15.0
    assert set(q_store.all_rows()) == {"s1"}  # update records are not rows


def test_an_update_is_applied_once_however_late_it_is_retried(q_store):
    """The per-row memory of applied updates was bounded (64): a Learn retried after more than that many
    others applied twice. Records are kept, so a retry any time later changes nothing."""
    first = update(q_store, "inc-first#0#hot", "hot", Action.RETRY, -30.0)
    assert q_store.apply(first) is True
    for n in range(100):
        assert q_store.apply(update(q_store, f"inc-{n}#0#hot", "hot", Action.RETRY, -1.0)) is True
    before = q_store.load_rows(["hot"])["hot"]
    retried = update(q_store, "inc-first#0#hot", "hot", Action.RETRY, -30.0)  # recomputed on the fresh row
    assert retried.seen == 101
    assert q_store.apply(retried) is False
    assert q_store.apply(first) is False
    after = q_store.load_rows(["hot"])["hot"]
    assert after.cell(Action.RETRY).visits == 101
    assert after.cell(Action.RETRY).value == pytest.approx(before.cell(Action.RETRY).value, rel=1e-12)


def test_install_replaces_the_row_and_learning_continues_from_it(q_store):
    q_store.apply(update(q_store, "inc-a#0#s1", "s1", Action.RETRY, -1.0))
    trained = QRow.installed([-2.0] * N_ACTIONS, [20] * N_ACTIONS, RATE)
    q_store.install("s1", trained)
    assert q_store.load_rows(["s1"])["s1"].values == trained.values
    q_store.apply(update(q_store, "inc-b#0#s1", "s1", Action.RETRY, -12.0))
    row = q_store.load_rows(["s1"])["s1"]
    assert row.cell(Action.RETRY).visits == 21
    assert row.cell(Action.RETRY).value == pytest.approx(-2.0 + RATE * (-12.0 + 2.0), rel=1e-12)


def test_rows_with_updates_in_several_epochs_read_back_the_same(q_store):
    row = QRow.installed(
        [-5.0] * N_ACTIONS, [400] * N_ACTIONS, RATE
    )  # epoch 2 at this rate (131 visits each)
    q_store.install("old", row)
    expected = row
    for n in range(150):  # crosses into epochs 3 and 4
        u = update(q_store, f"inc-{n}#0#old", "old", Action.QUARANTINE, -float(n % 9))
        assert q_store.apply(u) is True
        expected = expected.plus(u)
    stored = q_store.load_rows(["old"])["old"]
    assert {e for e, _, _ in stored.cell(Action.QUARANTINE).sums} == {2, 3, 4}
    assert stored.visits == expected.visits
    assert stored.cell(Action.QUARANTINE).value == pytest.approx(
        expected.cell(Action.QUARANTINE).value, rel=1e-12
    )


def test_concurrent_updates_of_one_row_are_each_applied_exactly_once(q_store):
    per_thread = 20
    targets = {
        f"inc-{t}-{n}#0#hot": -float((t * per_thread + n) % 13)
        for t in range(THREADS)
        for n in range(per_thread)
    }
    applied: list[QUpdate] = []
    lock = threading.Lock()

    def learner(thread: int) -> None:
        for n in range(per_thread):
            update_id = f"inc-{thread}-{n}#0#hot"
            u = update(q_store, update_id, "hot", Action.ROLLBACK, targets[update_id])
            if q_store.apply(u):
                with lock:
                    applied.append(u)
            retry = update(q_store, update_id, "hot", Action.ROLLBACK, targets[update_id])
            assert q_store.apply(retry) is False  # a retried Learn: already applied

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(learner, range(THREADS)))
    row = q_store.all_rows()["hot"]
    assert sorted(u.update_id for u in applied) == sorted(targets)
    assert row.cell(Action.ROLLBACK).visits == THREADS * per_thread
    assert row.cell(Action.ROLLBACK).value == pytest.approx(
        fold_updates(initial(), applied).cell(Action.ROLLBACK).value, rel=1e-9
    )


# -- open incidents (the Sweeper's query) ------------------------------------------------------------
def test_open_incidents_are_those_opened_in_the_window_and_not_learned(event_store):
    import time

    from selfheal_core.adapters.clock import utc_now_iso
    from selfheal_core.domain.events import Learned

    before_any = utc_now_iso()
    event_store.open("inc-open", Opened("j", "jr_1", "ex-1"))
    event_store.open("inc-learned", Opened("j", "jr_2", "ex-2"))
    event_store.append("inc-learned", Escalated("a human fixed it"), 1)
    event_store.append("inc-learned", Learned("escalated"), 2)
    event_store.open("inc-escalated", Opened("j", "jr_3", "ex-3"))
    event_store.append("inc-escalated", Escalated("left open"), 1)
    time.sleep(0.002)  # the times have millisecond resolution
    after_all = utc_now_iso()
    later = "9999-12-31T23:59:59Z"

    expected = ["inc-escalated", "inc-open"]
    assert sorted(event_store.open_incidents(later)) == expected
    assert sorted(event_store.open_incidents(later, opened_after=before_any)) == expected
    assert event_store.open_incidents(before_any) == []  # none opened before the cutoff
    assert event_store.open_incidents(later, opened_after=after_all) == []  # none inside the lookback


# -- Q-tables written before rows were sums ------------------------------------------------------------
def test_a_sqlite_q_table_of_versioned_rows_is_installed_once_when_opened(tmp_path):
    path = tmp_path / "old.sqlite3"
    values = {a.value: -3.0 - i for i, a in enumerate(Action)}
    visits = {a.value: 12 for a in Action}
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE q_rows (state TEXT PRIMARY KEY, row TEXT NOT NULL, version INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO q_rows VALUES (?, ?, ?)",
            ("s1", json.dumps({"values": values, "visits": visits, "version": 7, "applied": ["x#0"]}), 7),
        )
    store = SqliteQTableStore(path)
    row = store.load_rows(["s1"])["s1"]
    assert row.values == tuple(values.values()) and row.visits == (12,) * N_ACTIONS
    store.apply(update(store, "inc-a#0#s1", "s1", Action.RETRY, -13.0))
    assert store.load_rows(["s1"])["s1"].cell(Action.RETRY).value == pytest.approx(
        -3.0 + RATE * (-13.0 + 3.0)
    )
    store.close()
    assert SqliteQTableStore(path).load_rows(["s1"])["s1"].cell(Action.RETRY).visits == 13  # migrated once


def test_a_dynamodb_row_item_of_the_versioned_form_is_converted_by_its_next_update(aws):
    client = _dynamodb()
    store = DynamoDbQTableStore(_q_table(client), client=client)
    values = {a.value: {"N": str(-3.0 - i)} for i, a in enumerate(Action)}
    client.put_item(
        TableName="selfheal-q",
        Item={
            "state": {"S": "s1"},
            "version": {"N": "7"},
            "values": {"M": values},
            "visits": {"M": {a.value: {"N": "12"} for a in Action}},
            "applied": {"L": [{"S": "x#0"}]},
        },
    )
    assert store.load_rows(["s1"])["s1"].visits == (12,) * N_ACTIONS
    assert store.apply(update(store, "inc-a#0#s1", "s1", Action.RETRY, -13.0)) is True
    row = store.load_rows(["s1"])["s1"]
    assert row.cell(Action.RETRY).visits == 13 and row.cell(Action.ROLLBACK).visits == 12
    assert row.cell(Action.RETRY).value == pytest.approx(-3.0 + RATE * (-13.0 + 3.0))
    assert row.cell(Action.ROLLBACK).value == -5.0
