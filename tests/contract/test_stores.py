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
import numpy as np
import pytest
from moto import mock_aws
from selfheal_core.adapters.audit import AuditedEventStore, DirectoryAuditSink, S3AuditSink
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore, DynamoDbQTableStore
from selfheal_core.adapters.memory import MemoryEventStore
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
from selfheal_core.domain.qlearning import ACTION_INDEX, N_ACTIONS, QEntry
from selfheal_core.errors import ConcurrentUpdateError
from selfheal_core.vocabulary import Action, Category, Criticality

REGION = "us-east-1"
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


def _events_table(client: Any) -> str:
    client.create_table(
        TableName="selfheal-events",
        KeySchema=[
            {"AttributeName": "incident_id", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "incident_id", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return "selfheal-events"


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
        yield DynamoDbEventStore(_events_table(client), client=SerializedClient(client))
    else:
        yield MemoryEventStore()


@pytest.fixture(params=["sqlite", "dynamodb"])
def q_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteQTableStore(tmp_path / "q.sqlite3")
        yield store
        store.close()
    else:
        request.getfixturevalue("aws")
        client = _dynamodb()
        yield DynamoDbQTableStore(_q_table(client), client=SerializedClient(client))


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
    table = _events_table(client)
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
    table = _events_table(client)
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


# -- Q-table -----------------------------------------------------------------------------------------
def initial() -> QEntry:
    return QEntry(np.full(N_ACTIONS, -15.0), np.zeros(N_ACTIONS, dtype=int), 0)


def visit(action: Action):
    index = ACTION_INDEX[action]

    def update(row: QEntry) -> QEntry:
        values, visits = row.values.copy(), row.visits.copy()
        values[index] += 0.5
        visits[index] += 1
        return QEntry(values, visits, row.version + 1)

    return update


def test_apply_creates_the_row_from_initial(q_store):
    written = q_store.apply("s1", visit(Action.RETRY), initial())
    assert written.version == 1
    row = q_store.load_rows(["s1", "missing"])
    assert set(row) == {"s1"}
    assert row["s1"].visits[ACTION_INDEX[Action.RETRY]] == 1
    assert row["s1"].values[ACTION_INDEX[Action.RETRY]] == pytest.approx(-14.5)
    assert row["s1"].values[ACTION_INDEX[Action.ESCALATE]] == pytest.approx(-15.0)
    assert set(q_store.all_rows()) == {"s1"}


def test_concurrent_apply_loses_no_update(q_store):
    per_thread = 20

    def learner(_: int) -> None:
        for _ in range(per_thread):
            q_store.apply("hot", visit(Action.ROLLBACK), initial())

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(learner, range(THREADS)))
    row = q_store.all_rows()["hot"]
    assert int(row.visits[ACTION_INDEX[Action.ROLLBACK]]) == THREADS * per_thread
    assert row.version == THREADS * per_thread
    assert row.values[ACTION_INDEX[Action.ROLLBACK]] == pytest.approx(-15.0 + 0.5 * THREADS * per_thread)


def test_write_if_version_rejects_a_stale_version(q_store):
    q_store.apply("s1", visit(Action.RETRY), initial())
    q_store.apply("s1", visit(Action.RETRY), initial())
    current = q_store.read("s1")
    assert current.version == 2
    stale = QEntry(current.values, current.visits, 2)
    assert q_store.write_if_version("s1", stale, expected_version=1) is False
    assert q_store.write_if_version("s1", stale, expected_version=None) is False  # the row exists
    assert q_store.read("s1").version == 2
    fresh = QEntry(current.values, current.visits, 3)
    assert q_store.write_if_version("s1", fresh, expected_version=2) is True
    assert q_store.read("s1").version == 3
    assert q_store.write_if_version("new", fresh, expected_version=None) is True
