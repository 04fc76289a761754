"""Storm-control state (groups, action budgets, the breaker): SQLite locally, DynamoDB in AWS.

Both implement ``ports.StormStore`` with the same guarantees, checked by ``tests/contract/
test_storm_store.py`` from many threads: one probe per group, exact member and action counts, a limit
never passed, and every write idempotent by the id it carries.

DynamoDB layout (the ``StormTable``, partition key ``pk``; items expire through the ``expires_at`` TTL):
``group\\n<key>`` the open group of a key; ``member\\n<incident>`` the group an incident joined;
``count\\n<window>`` and ``count\\n<window>\\n<job>`` action counters; ``grant\\n<id>`` an action counted;
``failures\\n<window>`` the breaker's count; ``failure\\n<id>`` a failure counted; ``notice\\n<group>`` who
publishes the group's notification. A join or a grant is one TransactWriteItems (the record that makes it
idempotent and the counters together); a cancelled transaction is read back to tell "done before", "over
the limit" and a lost race (retried with jitter).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from selfheal_core.adapters.sqlite_file import open_sqlite
from selfheal_core.adapters.throttling import raise_if_transient
from selfheal_core.domain.storm import GroupRecord, Membership, Role, group_id_for, key_of_group, parse_time
from selfheal_core.errors import ConcurrentUpdateError

# State older than this is of no use to any window or group (the longest is a day).
RETENTION_SECONDS = 2 * 86400
_TRIES = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS storm_groups (
    key TEXT PRIMARY KEY, group_id TEXT NOT NULL, probe TEXT NOT NULL, members INTEGER NOT NULL,
    opened_at TEXT NOT NULL, last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS storm_members (
    incident_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, key TEXT NOT NULL, role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS storm_group_log (
    group_id TEXT PRIMARY KEY, key TEXT NOT NULL, probe TEXT NOT NULL, members INTEGER NOT NULL,
    opened_at TEXT NOT NULL, last_seen TEXT NOT NULL, notified_by TEXT
);
CREATE TABLE IF NOT EXISTS storm_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS storm_marks (id TEXT PRIMARY KEY);
"""


def _elapsed(since: str, now: str) -> float:
    return (parse_time(now) - parse_time(since)).total_seconds()


class SqliteStormStore:
    """One SQLite file (the local store's); every operation is one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.RLock()
        self._conn = open_sqlite(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def join(self, key: str, incident_id: str, now: str, window_seconds: int) -> Membership:
        def work(conn: sqlite3.Connection) -> Membership:
            member = conn.execute(
                "SELECT group_id, role FROM storm_members WHERE incident_id = ?", (incident_id,)
            ).fetchone()
            if member is not None:
                record = _group_row(conn, member[0])
                assert record is not None
                return Membership(
                    record.group_id,
                    record.key,
                    Role(member[1]),
                    record.probe,
                    record.members,
                    record.opened_at,
                )
            row = conn.execute(
                "SELECT group_id, probe, members, opened_at, last_seen FROM storm_groups WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None and _elapsed(row[4], now) <= window_seconds:
                group_id, probe, members, opened_at, last_seen = row
                members += 1
                last_seen = max(last_seen, now)
                conn.execute(
                    "UPDATE storm_groups SET members = ?, last_seen = ? WHERE key = ?",
                    (members, last_seen, key),
                )
                conn.execute(
                    "UPDATE storm_group_log SET members = ?, last_seen = ? WHERE group_id = ?",
                    (members, last_seen, group_id),
                )
                role = Role.FOLLOWER
            else:
                group_id, probe, members, opened_at = group_id_for(key, now), incident_id, 1, now
                conn.execute(
                    "INSERT OR REPLACE INTO storm_groups VALUES (?, ?, ?, 1, ?, ?)",
                    (key, group_id, incident_id, now, now),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO storm_group_log VALUES (?, ?, ?, 1, ?, ?, NULL)",
                    (group_id, key, incident_id, now, now),
                )
                role = Role.PROBE
            conn.execute(
                "INSERT INTO storm_members VALUES (?, ?, ?, ?)", (incident_id, group_id, key, role.value)
            )
            return Membership(group_id, key, role, probe, members, opened_at)

        return self._transaction(work)

    def group(self, group_id: str) -> GroupRecord | None:
        with self._lock:
            return _group_row(self._conn, group_id)

    def replace_probe(self, group_id: str, old_probe: str, new_probe: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            conn.execute(
                "UPDATE storm_group_log SET probe = ? WHERE group_id = ? AND probe = ?",
                (new_probe, group_id, old_probe),
            )
            conn.execute(
                "UPDATE storm_groups SET probe = ? WHERE group_id = ? AND probe = ?",
                (new_probe, group_id, old_probe),
            )
            if conn.execute("SELECT changes()").fetchone()[0]:
                conn.execute(
                    "UPDATE storm_members SET role = ? WHERE incident_id = ?", (Role.PROBE.value, new_probe)
                )
            record = _group_row(conn, group_id)
            return record is not None and record.probe == new_probe

        return self._transaction(work)

    def take_action(
        self, grant_id: str, window: str, job_name: str, max_actions: int, max_per_job: int
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            mark = f"grant\n{grant_id}"
            if conn.execute("SELECT 1 FROM storm_marks WHERE id = ?", (mark,)).fetchone():
                return True
            total, per_job = _count(conn, window), _count(conn, f"{window}\n{job_name}")
            if total >= max_actions or per_job >= max_per_job:
                return False
            _add(conn, window)
            _add(conn, f"{window}\n{job_name}")
            conn.execute("INSERT INTO storm_marks VALUES (?)", (mark,))
            return True

        return self._transaction(work)

    def actions(self, window: str, job_name: str | None = None) -> int:
        with self._lock:
            return _count(self._conn, window if job_name is None else f"{window}\n{job_name}")

    def record_failure(self, failure_id: str, window: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            mark = f"failure\n{failure_id}"
            if not conn.execute("SELECT 1 FROM storm_marks WHERE id = ?", (mark,)).fetchone():
                conn.execute("INSERT INTO storm_marks VALUES (?)", (mark,))
                _add(conn, f"failures\n{window}")
            return _count(conn, f"failures\n{window}")

        return self._transaction(work)

    def failures(self, window: str) -> int:
        with self._lock:
            return _count(self._conn, f"failures\n{window}")

    def claim_notification(self, group_id: str, incident_id: str) -> str:
        def work(conn: sqlite3.Connection) -> str:
            # A group that exists only to share a notification (the breaker's) gets its log row here.
            conn.execute(
                "INSERT OR IGNORE INTO storm_group_log VALUES (?, ?, ?, 0, '', '', NULL)",
                (group_id, key_of_group(group_id), incident_id),
            )
            conn.execute(
                "UPDATE storm_group_log SET notified_by = ? WHERE group_id = ? AND notified_by IS NULL",
                (incident_id, group_id),
            )
            owner = conn.execute(
                "SELECT notified_by FROM storm_group_log WHERE group_id = ?", (group_id,)
            ).fetchone()
            return str(owner[0])

        return self._transaction(work)


T = TypeVar("T")


def _group_row(conn: sqlite3.Connection, group_id: str) -> GroupRecord | None:
    row = conn.execute(
        "SELECT group_id, key, probe, members, opened_at, last_seen, notified_by FROM storm_group_log "
        "WHERE group_id = ?",
        (group_id,),
    ).fetchone()
    if row is None:
        return None
    return GroupRecord(row[0], row[1], row[2], int(row[3]), row[4], row[5], row[6])


def _count(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT n FROM storm_counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def _add(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(
        "INSERT INTO storm_counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET n = n + 1", (name,)
    )


# -- DynamoDB ----------------------------------------------------------------------------------------
def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(int(value))}


class DynamoDbStormStore:
    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        import boto3

        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self._sleep = sleep
        self._now = now

    def _expires(self) -> dict[str, str]:
        return _n(self._now() + RETENTION_SECONDS)

    def _get(self, pk: str) -> Mapping[str, Any] | None:
        try:
            item = self.client.get_item(TableName=self.table_name, Key={"pk": _s(pk)}, ConsistentRead=True)
        except ClientError as error:
            raise_if_transient(error, "DynamoDB GetItem (storm)")
            raise
        found: Mapping[str, Any] | None = item.get("Item")
        return found

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction applied, else the cancellation code of each item."""
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise_if_transient(error, "DynamoDB TransactWriteItems (storm)")
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [str(r.get("Code") or "None") for r in reasons]
            return codes or ["TransactionConflict"]

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))

    def _retrying(self, work: Callable[[], T | None], what: str) -> T:
        for attempt in range(_TRIES):
            result = work()
            if result is not None:
                return result
            self._backoff(attempt)
        raise ConcurrentUpdateError(f"storm store: {what} kept losing races")

    # -- groups --------------------------------------------------------------------------------
    def join(self, key: str, incident_id: str, now: str, window_seconds: int) -> Membership:
        def attempt() -> Membership | None:
            member = self._get(f"member\n{incident_id}")
            if member is not None:
                record = self.group(member["group_id"]["S"])
                if record is None:
                    return None
                role = Role(member["role"]["S"])
                return Membership(record.group_id, key, role, record.probe, record.members, record.opened_at)
            current = self._get(f"group\n{key}")
            member_put = {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            if current is not None and _elapsed(current["last_seen"]["S"], now) <= window_seconds:
                group_id = current["group_id"]["S"]
                member_put["Put"]["Item"] = self._member_item(incident_id, group_id, key, Role.FOLLOWER)
                items = [
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"pk": _s(f"group\n{key}")},
                            "UpdateExpression": "ADD members :one SET last_seen = :now",
                            "ConditionExpression": "group_id = :gid",
                            "ExpressionAttributeValues": {
                                ":one": _n(1),
                                ":now": _s(now),
                                ":gid": _s(group_id),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"pk": _s(f"log\n{group_id}")},
                            "UpdateExpression": "ADD members :one SET last_seen = :now",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":one": _n(1), ":now": _s(now)},
                        }
                    },
                    member_put,
                ]
                if self._transact(items) is not None:
                    return None
                record = self.group(group_id)
                if record is None:
                    return None
                return Membership(
                    group_id, key, Role.FOLLOWER, record.probe, record.members, record.opened_at
                )
            group_id = group_id_for(key, now)
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
            if current is not None:
                condition = {
                    "ConditionExpression": "group_id = :old",
                    "ExpressionAttributeValues": {":old": current["group_id"]},
                }
            group_fields = {
                "group_id": _s(group_id),
                "key": _s(key),
                "probe": _s(incident_id),
                "members": _n(1),
                "opened_at": _s(now),
                "last_seen": _s(now),
                "expires_at": self._expires(),
            }
            member_put["Put"]["Item"] = self._member_item(incident_id, group_id, key, Role.PROBE)
            items = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {"pk": _s(f"group\n{key}"), **group_fields},
                        **condition,
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {"pk": _s(f"log\n{group_id}"), **group_fields},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                member_put,
            ]
            if self._transact(items) is not None:
                return None
            return Membership(group_id, key, Role.PROBE, incident_id, 1, now)

        return self._retrying(attempt, "join")

    def _member_item(self, incident_id: str, group_id: str, key: str, role: Role) -> dict[str, Any]:
        return {
            "pk": _s(f"member\n{incident_id}"),
            "group_id": _s(group_id),
            "key": _s(key),
            "role": _s(role.value),
            "expires_at": self._expires(),
        }

    def group(self, group_id: str) -> GroupRecord | None:
        item = self._get(f"log\n{group_id}")
        if item is None:
            return None
        return GroupRecord(
            group_id=group_id,
            key=item["key"]["S"],
            probe=item["probe"]["S"],
            members=int(item["members"]["N"]),
            opened_at=item["opened_at"]["S"],
            last_seen=item["last_seen"]["S"],
            notified_by=item["notified_by"]["S"] if "notified_by" in item else None,
        )

    def replace_probe(self, group_id: str, old_probe: str, new_probe: str) -> bool:
        record = self.group(group_id)
        if record is None:
            return False
        items = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": _s(f"log\n{group_id}")},
                    "UpdateExpression": "SET probe = :new",
                    "ConditionExpression": "probe = :old",
                    "ExpressionAttributeValues": {":new": _s(new_probe), ":old": _s(old_probe)},
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": _s(f"member\n{new_probe}")},
                    "UpdateExpression": "SET #role = :probe",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#role": "role"},
                    "ExpressionAttributeValues": {":probe": _s(Role.PROBE.value)},
                }
            },
        ]
        for attempt in range(_TRIES):
            codes = self._transact(items)
            if codes is None or "ConditionalCheckFailed" in codes:
                break
            self._backoff(attempt)
        current = self.group(group_id)
        return current is not None and current.probe == new_probe

    # -- budgets and the breaker ------------------------------------------------------------------
    def take_action(
        self, grant_id: str, window: str, job_name: str, max_actions: int, max_per_job: int
    ) -> bool:
        def counter(name: str, limit: int) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": _s(f"count\n{name}")},
                    "UpdateExpression": "ADD n :one SET expires_at = :exp",
                    "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                    "ExpressionAttributeValues": {
                        ":one": _n(1),
                        ":limit": _n(limit),
                        ":exp": self._expires(),
                    },
                }
            }

        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {"pk": _s(f"grant\n{grant_id}"), "expires_at": self._expires()},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            counter(window, max_actions),
            counter(f"{window}\n{job_name}", max_per_job),
        ]

        def attempt() -> bool | None:
            codes = self._transact(items)
            if codes is None:
                return True
            if codes[0] == "ConditionalCheckFailed":
                return True  # granted by an earlier call
            if "ConditionalCheckFailed" in codes[1:]:
                return False  # a limit would be passed
            return None

        return self._retrying(attempt, "take_action")

    def actions(self, window: str, job_name: str | None = None) -> int:
        item = self._get(f"count\n{window}" if job_name is None else f"count\n{window}\n{job_name}")
        return int(item["n"]["N"]) if item and "n" in item else 0

    def record_failure(self, failure_id: str, window: str) -> int:
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {"pk": _s(f"failure\n{failure_id}"), "expires_at": self._expires()},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": _s(f"failures\n{window}")},
                    "UpdateExpression": "ADD n :one SET expires_at = :exp",
                    "ExpressionAttributeValues": {":one": _n(1), ":exp": self._expires()},
                }
            },
        ]

        def attempt() -> bool | None:
            codes = self._transact(items)
            return True if codes is None or codes[0] == "ConditionalCheckFailed" else None

        self._retrying(attempt, "record_failure")
        return self.failures(window)

    def failures(self, window: str) -> int:
        item = self._get(f"failures\n{window}")
        return int(item["n"]["N"]) if item and "n" in item else 0

    def claim_notification(self, group_id: str, incident_id: str) -> str:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": _s(f"notice\n{group_id}"),
                    "owner": _s(incident_id),
                    "expires_at": self._expires(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return incident_id
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise_if_transient(error, "DynamoDB PutItem (storm notice)")
                raise
        item = self._get(f"notice\n{group_id}")
        return item["owner"]["S"] if item else incident_id
