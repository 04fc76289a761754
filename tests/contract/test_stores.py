"""One contract, both backends: the SQLite store (local) and the DynamoDB store (AWS, via moto)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from selfheal_core.adapters.audit import AuditedEventStore, DirectoryAuditSink, S3AuditSink
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore, DynamoDbQTableStore
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.incident import EventType
from selfheal_core.domain.qlearning import ACTION_INDEX, N_ACTIONS, QEntry
from selfheal_core.errors import ConcurrentUpdateError
from selfheal_core.vocabulary import Action

REGION = "us-east-1"
THREADS = 8


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


@pytest.fixture(params=["sqlite", "dynamodb"])
def event_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteEventStore(tmp_path / "events.sqlite3")
        yield store
        store.close()
    else:
        request.getfixturevalue("aws")
        client = _dynamodb()
        yield DynamoDbEventStore(_events_table(client), client=SerializedClient(client))


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
def test_open_is_idempotent(event_store):
    created, first = event_store.open("inc-a", {"job_name": "j", "execution_id": "ex-1"})
    again, second = event_store.open("inc-a", {"job_name": "j", "execution_id": "ex-2"})
    assert (created, again) == (True, False)
    assert first.seq == second.seq == 0 and second.type is EventType.OPENED
    assert second.data["execution_id"] == "ex-1"  # the first opener owns the incident
    assert len(event_store.load("inc-a")) == 1


def test_append_assigns_the_next_sequence_number(event_store):
    event_store.open("inc-a", {})
    diagnosed = event_store.append(
        "inc-a", EventType.DIAGNOSED, {"category": "throttling", "drift": [{"a": 1}]}
    )
    proposed = event_store.append("inc-a", EventType.PROPOSED, {"attempt": 1, "action": "retry"})
    assert (diagnosed.seq, proposed.seq) == (1, 2)
    other = event_store.append("inc-b", EventType.ESCALATED, {"reason": "x"})
    assert other.seq == 0  # sequences are per incident


def test_load_is_ordered_and_round_trips_data(event_store):
    event_store.open("inc-a", {"job_name": "j"})
    for i in range(12):
        event_store.append("inc-a", EventType.VALIDATED, {"poll": i, "nested": {"ok": True}, "none": None})
    events = event_store.load("inc-a")
    assert [e.seq for e in events] == list(range(13))
    assert [e.data.get("poll") for e in events[1:]] == list(range(12))
    assert events[5].data["nested"] == {"ok": True} and events[5].data["none"] is None
    assert events[0].type is EventType.OPENED and all(e.incident_id == "inc-a" for e in events)
    assert event_store.load("inc-missing") == []


def test_concurrent_appends_lose_nothing_and_leave_no_gaps(event_store):
    per_thread = 25
    event_store.open("inc-hot", {})
    conflicts: list[int] = []

    def writer(thread: int) -> None:
        for k in range(per_thread):
            while True:  # ConcurrentUpdateError is retryable: the state machine retries the Task
                try:
                    event_store.append("inc-hot", EventType.DIAGNOSED, {"thread": thread, "k": k})
                    break
                except ConcurrentUpdateError:
                    conflicts.append(thread)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))
    events = event_store.load("inc-hot")
    assert [e.seq for e in events] == list(range(THREADS * per_thread + 1))
    written = sorted((e.data["thread"], e.data["k"]) for e in events[1:])
    assert written == [(t, k) for t in range(THREADS) for k in range(per_thread)]


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
    store.open("inc-a", {"job_name": "j"})
    store.open("inc-a", {"job_name": "j"})  # a redelivery: nothing new, nothing audited
    store.append("inc-a", EventType.DIAGNOSED, {"category": "unknown"})
    store.append("inc-a", EventType.ESCALATED, {"reason": "r"})
    assert keys() == [
        "incidents/inc-a/000000-opened.json",
        "incidents/inc-a/000001-diagnosed.json",
        "incidents/inc-a/000002-escalated.json",
    ]
    assert body("incidents/inc-a/000002-escalated.json")["data"] == {"reason": "r"}
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
