"""Parallel incidents learning at once never lose a Q-update, on either Q-table backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from selfheal_core.adapters.dynamodb_store import DynamoDbQTableStore
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.incident import EventType, incident_id_for
from selfheal_core.domain.qlearning import LearnerSettings, state_key
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.steps import learn
from selfheal_core.steps.common import context_for, load_incident
from test_stores import SerializedClient

INCIDENTS = 24


def _resolved_incident(store: SqliteEventStore, n: int) -> str:
    incident_id = incident_id_for("orders-nightly", f"jr_{n}")
    store.open(incident_id, {"job_name": "orders-nightly", "job_run_id": f"jr_{n}"})
    store.append(
        incident_id,
        EventType.DIAGNOSED,
        {"category": "transient_network", "confidence": 1.0, "criticality": "medium", "risk": "medium"},
    )
    store.append(incident_id, EventType.PROPOSED, {"attempt": 1, "action": "retry"})
    store.append(incident_id, EventType.GATED, {"attempt": 1, "proposed": "retry", "action": "retry"})
    store.append(
        incident_id, EventType.EXECUTED, {"attempt": 1, "action": "retry", "job_run_id": f"jr_new_{n}"}
    )
    store.append(
        incident_id,
        EventType.VALIDATED,
        {"attempt": 1, "final": True, "fixed": True, "run_state": "SUCCEEDED", "elapsed_seconds": 600},
    )
    return incident_id


@pytest.fixture(params=["sqlite", "dynamodb"])
def qtable(request: pytest.FixtureRequest, tmp_path: Path, aws_env: None) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SqliteQTableStore(tmp_path / "q.sqlite3")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="q",
            KeySchema=[{"AttributeName": "state", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "state", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDbQTableStore("q", client=SerializedClient(client))


def test_parallel_learn_calls_keep_every_update(tmp_path: Path, qtable: Any) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    incidents = [_resolved_incident(store, n) for n in range(INCIDENTS)]
    errors: list[BaseException] = []

    def learn_one(incident_id: str) -> None:
        try:
            learn.run(incident_id, None, store, qtable, LearnerSettings(), SafetySettings(), True)
        except BaseException as error:  # surfaced below; a thread must not swallow it
            errors.append(error)

    threads = [threading.Thread(target=learn_one, args=(i,)) for i in incidents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    key = state_key(context_for(load_incident(store, incidents[0]), 1, ()))
    row = qtable.all_rows()[key]
    assert int(row.to_dict()["visits"]["retry"]) == INCIDENTS
    assert row.version == INCIDENTS
