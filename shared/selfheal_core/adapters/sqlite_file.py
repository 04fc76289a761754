"""One way to open the local SQLite file that the event log, the Q-table, storm state and run watches share.

Several connections (one per adapter, per worker thread of the local engine, per CLI process) open the
same file at once. Switching a fresh file to WAL needs an exclusive lock, and SQLite answers a contended
lock upgrade with ``SQLITE_BUSY`` at once instead of waiting out the busy timeout (waiting could
deadlock), so the switch is retried here with jitter until the same 30 s budget is spent.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30.0


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _retry_busy(conn: sqlite3.Connection, sql: str, deadline: float) -> None:
    while True:
        try:
            conn.executescript(sql)
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def open_sqlite(path: str | Path, schema: str = "") -> sqlite3.Connection:
    """A connection in WAL mode, autocommit, shareable between threads, with ``schema`` applied."""
    name = str(path)
    if name != ":memory:":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(name, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    if name != ":memory:":
        _retry_busy(conn, "PRAGMA journal_mode=WAL;", deadline)
    if schema:
        _retry_busy(conn, schema, deadline)
    return conn
