"""The storm-control store on SQLite and on DynamoDB (moto): one probe per group, exact counts and limits
from many threads at once, and every write idempotent by its id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from fakes import REGION
from moto import mock_aws
from selfheal_core.adapters.storm_store import DynamoDbStormStore, SqliteStormStore
from selfheal_core.domain.storm import Role
from test_stores import SerializedClient

THREADS = 16
T = "2026-11-26T02:00:00.000Z"


def _storm_table(client: Any) -> str:
    client.create_table(
        TableName="selfheal-storm",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "selfheal-storm"


@pytest.fixture(params=["sqlite", "dynamodb"])
def storm_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        store = SqliteStormStore(tmp_path / "storm.sqlite3")
        yield store
        store.close()
    else:
        request.getfixturevalue("aws_env")
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            yield DynamoDbStormStore(
                _storm_table(client), client=SerializedClient(client), sleep=lambda s: None
            )


def _at(second: int) -> str:
    return f"2026-11-26T02:{second // 60:02d}:{second % 60:02d}.000Z"


def test_concurrent_joins_make_one_probe_and_count_every_member(storm_store) -> None:
    incidents = [f"inc-{n:016x}" for n in range(120)]
    with ThreadPoolExecutor(THREADS) as pool:
        members = list(pool.map(lambda i: storm_store.join("source:s3://lake/orders", i, T, 900), incidents))
    roles = Counter(m.role for m in members)
    assert roles[Role.PROBE] == 1 and roles[Role.FOLLOWER] == 119
    assert len({m.group_id for m in members}) == 1
    probe = next(m.probe for m in members if m.role is Role.PROBE)
    assert {m.probe for m in members} == {probe}
    record = storm_store.group(members[0].group_id)
    assert record is not None and record.members == 120 and record.probe == probe


def test_a_repeated_join_returns_the_first_answer_and_counts_once(storm_store) -> None:
    first = storm_store.join("signature:x", "inc-a", T, 900)
    with ThreadPoolExecutor(THREADS) as pool:
        again = list(pool.map(lambda _: storm_store.join("signature:x", "inc-a", _at(30), 900), range(40)))
    assert all(m.role is Role.PROBE and m.group_id == first.group_id for m in again)
    record = storm_store.group(first.group_id)
    assert record is not None and record.members == 1


def test_a_group_past_its_window_gives_way_to_a_new_one(storm_store) -> None:
    old = storm_store.join("throttle:account", "inc-a", _at(0), 60)
    follower = storm_store.join("throttle:account", "inc-b", _at(50), 60)
    assert follower.role is Role.FOLLOWER and follower.group_id == old.group_id
    # 60 s after the LAST member (b at 50 s): still open at 110 s, a new group at 111 s.
    assert storm_store.join("throttle:account", "inc-c", _at(110), 60).group_id == old.group_id
    new = storm_store.join("throttle:account", "inc-d", _at(171), 60)
    assert new.role is Role.PROBE and new.group_id != old.group_id and new.probe == "inc-d"


def test_replacing_the_probe_succeeds_once(storm_store) -> None:
    group = storm_store.join("source:db.t", "inc-probe", T, 900)
    followers = [f"inc-{n}" for n in range(20)]
    for incident in followers:
        storm_store.join("source:db.t", incident, T, 900)
    with ThreadPoolExecutor(THREADS) as pool:
        won = list(pool.map(lambda i: storm_store.replace_probe(group.group_id, "inc-probe", i), followers))
    assert sum(won) == 1
    record = storm_store.group(group.group_id)
    assert record is not None and record.probe == followers[won.index(True)]


def test_the_action_budget_is_never_passed_under_concurrency(storm_store) -> None:
    # 200 grants asked for 10 jobs, at most 50 in the window and 3 per job: exactly 30 granted.
    asks = [(f"inc-{n}#1", f"job-{n % 10}") for n in range(200)]
    with ThreadPoolExecutor(THREADS) as pool:
        granted = list(pool.map(lambda a: storm_store.take_action(a[0], "budget/600/1", a[1], 50, 3), asks))
    assert sum(granted) == 30
    assert storm_store.actions("budget/600/1") == 30
    assert all(storm_store.actions("budget/600/1", f"job-{j}") == 3 for j in range(10))
    # The global limit binds when the per-job one does not.
    more = [(f"inc-x{n}#1", f"other-{n}") for n in range(40)]
    with ThreadPoolExecutor(THREADS) as pool:
        extra = list(pool.map(lambda a: storm_store.take_action(a[0], "budget/600/1", a[1], 50, 3), more))
    assert sum(extra) == 20 and storm_store.actions("budget/600/1") == 50


def test_a_grant_asked_again_is_still_granted_and_counted_once(storm_store) -> None:
    assert storm_store.take_action("inc-a#1", "budget/600/2", "job", 1, 1)
    with ThreadPoolExecutor(THREADS) as pool:
        again = list(
            pool.map(lambda _: storm_store.take_action("inc-a#1", "budget/600/2", "job", 1, 1), range(30))
        )
    assert all(again)
    assert not storm_store.take_action("inc-b#1", "budget/600/2", "job", 1, 1)
    assert storm_store.actions("budget/600/2") == 1


def test_failures_are_counted_once_each(storm_store) -> None:
    ids = [f"inc-{n % 60}#1" for n in range(180)]  # each failure reported three times
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: storm_store.record_failure(i, "breaker/1800/5"), ids))
    assert storm_store.failures("breaker/1800/5") == 60
    assert storm_store.failures("breaker/1800/4") == 0


def test_one_incident_claims_the_group_notification(storm_store) -> None:
    group = storm_store.join("source:db.t", "inc-0", T, 900)
    incidents = [f"inc-{n}" for n in range(50)]
    with ThreadPoolExecutor(THREADS) as pool:
        owners = list(pool.map(lambda i: storm_store.claim_notification(group.group_id, i), incidents))
    assert len(set(owners)) == 1 and owners[0] in incidents
    assert storm_store.claim_notification(group.group_id, "inc-late") == owners[0]
    # A group that only shares a notification (the breaker's) works the same way.
    assert storm_store.claim_notification("breaker:breaker/1800/5", "inc-7") == "inc-7"
    assert storm_store.claim_notification("breaker:breaker/1800/5", "inc-8") == "inc-7"
