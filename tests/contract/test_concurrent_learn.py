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
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed, Executed, Gated, Opened, Proposed, Validated
from selfheal_core.domain.incident import Outcome, incident_id_for
from selfheal_core.domain.qlearning import LearnerSettings, state_key
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.steps import learn
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category, Criticality
from test_stores import SerializedClient

INCIDENTS = 24


def _resolved_incident(store: SqliteEventStore, n: int) -> str:
    job, run_id, new_run = "orders-nightly", f"jr_{n}", f"jr_new_{n}"
    incident_id = incident_id_for(job, run_id)
    store.open(incident_id, Opened(job, run_id))
    diagnosis = Diagnosis(job, Category.TRANSIENT_NETWORK, 1.0, None, (), Criticality.MEDIUM, "medium")
    for seq, event in enumerate(
        [
            Diagnosed(diagnosis),
            Proposed(attempt=1, action=Action.RETRY),
            Gated(attempt=1, proposed=Action.RETRY, action=Action.RETRY),
            Executed(attempt=1, action=Action.RETRY, job_run_id=new_run, awaiting_run=True),
            Validated(1, new_run, "SUCCEEDED", final=True, fixed=True, elapsed_seconds=600.0),
        ],
        start=1,
    ):
        store.append(incident_id, event, seq)
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
    key = state_key(load_state(store, incidents[0]).context(1, ()))
    row = qtable.all_rows()[key]
    assert int(row.to_dict()["visits"]["retry"]) == INCIDENTS
    assert row.version == INCIDENTS
    for incident_id in incidents:
        state = load_state(store, incident_id)
        assert state.outcome is Outcome.RESOLVED and state.learned
        assert [r.kind for r in store.load(incident_id)].count("learned") == 1
