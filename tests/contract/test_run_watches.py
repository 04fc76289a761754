"""The run watches (RUN#<run id> -> incident and task token) behave alike on every store, stay out of the
incident log and the Sweeper's view, and a stale release is refused, not raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fakes import REGION, create_events_table
from moto import mock_aws
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore
from selfheal_core.adapters.run_watch import DynamoDbRunWatches, MemoryRunWatches, SqliteRunWatches
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.adapters.stepfunctions import StepFunctionsTasks
from selfheal_core.ports import RunWatch

WATCH = RunWatch(run_id="jr_1", incident_id="inc-0123456789abcdef", job_name="orders", task_token="t1")


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture(params=["sqlite", "dynamodb", "memory"])
def watches(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteRunWatches(tmp_path / "selfheal.sqlite3")
        yield store
        store.close()
    elif request.param == "dynamodb":
        request.getfixturevalue("aws")
        yield DynamoDbRunWatches(
            create_events_table(boto3.client("dynamodb", region_name=REGION)),
            boto3.client("dynamodb", region_name=REGION),
        )
    else:
        yield MemoryRunWatches()


def test_a_watch_is_found_by_its_run_id_and_replaced_by_a_retried_wait(watches: Any) -> None:
    assert watches.find("jr_1") is None
    watches.watch(WATCH)
    assert watches.find("jr_1") == WATCH
    retried = RunWatch("jr_1", WATCH.incident_id, "orders", "t2")
    watches.watch(retried)
    assert watches.find("jr_1") == retried
    assert watches.find("jr_2") is None


def test_a_watch_is_no_incident_on_dynamodb(aws: None) -> None:
    table = create_events_table(boto3.client("dynamodb", region_name=REGION))
    client = boto3.client("dynamodb", region_name=REGION)
    DynamoDbRunWatches(table, client).watch(WATCH)
    store = DynamoDbEventStore(table, client)
    assert store.open_incidents("9999-12-31T00:00:00Z") == []
    assert store.load(WATCH.incident_id) == []


def test_a_watch_is_no_incident_on_sqlite(tmp_path: Any) -> None:
    path = tmp_path / "selfheal.sqlite3"
    store = SqliteEventStore(path)
    SqliteRunWatches(path).watch(WATCH)
    assert store.incident_ids() == []
    assert store.open_incidents("9999-12-31T00:00:00Z") == []


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_a_stale_token_is_refused_not_raised(code: str) -> None:
    from botocore.exceptions import ClientError

    class Client:
        def send_task_success(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "stale"}}, "SendTaskSuccess")

    assert StepFunctionsTasks(Client()).succeed("t1", {"state": "SUCCEEDED"}) is False
