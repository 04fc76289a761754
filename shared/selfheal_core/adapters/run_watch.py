"""Where selfheal records the runs it waits for, keyed by run id (``ports.RunWatches``).

DynamoDB: an item in the incident events table under partition key ``RUN#<run id>`` and sort key ``-1``,
so it never looks like an incident's event (those start at 0, and the Sweeper's scan keeps seq 0 and
``learned`` items only). The item is overwritten by a retried wait (a new token) and expires with
``expires_at`` once the table has TTL on it. SQLite: a table of its own in the local store.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from selfheal_core.adapters.sqlite_file import open_sqlite
from selfheal_core.adapters.throttling import raise_if_transient
from selfheal_core.ports import RunWatch

KEY_PREFIX = "RUN#"
WATCH_SEQ = -1
KIND = "run_watch"
# A watch outlives any wait (the longest is RunWaitSeconds, under an hour) by far.
KEEP_SECONDS = 7 * 24 * 3600


class DynamoDbRunWatches:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def watch(self, watch: RunWatch) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "incident_id": {"S": KEY_PREFIX + watch.run_id},
                    "seq": {"N": str(WATCH_SEQ)},
                    "type": {"S": KIND},
                    "watched_incident": {"S": watch.incident_id},
                    "job_name": {"S": watch.job_name},
                    "task_token": {"S": watch.task_token},
                    "expires_at": {"N": str(int(time.time()) + KEEP_SECONDS)},
                },
            )
        except ClientError as error:
            raise_if_transient(error, f"DynamoDB put into {self.table_name}")
            raise

    def find(self, run_id: str) -> RunWatch | None:
        try:
            item = self.client.get_item(
                TableName=self.table_name,
                Key={"incident_id": {"S": KEY_PREFIX + run_id}, "seq": {"N": str(WATCH_SEQ)}},
                ConsistentRead=True,
            ).get("Item")
        except ClientError as error:
            raise_if_transient(error, f"DynamoDB get from {self.table_name}")
            raise
        if not item:
            return None
        return RunWatch(
            run_id=run_id,
            incident_id=item["watched_incident"]["S"],
            job_name=item["job_name"]["S"],
            task_token=item["task_token"]["S"],
        )


class SqliteRunWatches:
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._conn = open_sqlite(
            path,
            "CREATE TABLE IF NOT EXISTS run_watches (run_id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, "
            "job_name TEXT NOT NULL, task_token TEXT NOT NULL);",
        )

    def watch(self, watch: RunWatch) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO run_watches VALUES (?, ?, ?, ?)",
                (watch.run_id, watch.incident_id, watch.job_name, watch.task_token),
            )

    def find(self, run_id: str) -> RunWatch | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT run_id, incident_id, job_name, task_token FROM run_watches WHERE run_id=?", (run_id,)
            ).fetchone()
        return RunWatch(*row) if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class MemoryRunWatches:
    """For tests and the in-process simulator."""

    def __init__(self) -> None:
        self.watches: dict[str, RunWatch] = {}

    def watch(self, watch: RunWatch) -> None:
        self.watches[watch.run_id] = watch

    def find(self, run_id: str) -> RunWatch | None:
        return self.watches.get(run_id)
