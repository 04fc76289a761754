"""Every SQLite adapter opens the shared local file safely when many open it at once.

The local engine's worker threads, the on-call simulator and the CLI each open their own connection to
``selfheal.sqlite3``; the first ones race to switch a fresh file to WAL. CI once lost an incident to
``database is locked`` raised by that switch.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.adapters.run_watch import SqliteRunWatches
from selfheal_core.adapters.sqlite_file import open_sqlite
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.adapters.storm_store import SqliteStormStore

OPENERS: tuple[Callable[[Path], Any], ...] = (
    SqliteEventStore,
    SqliteStormStore,
    SqliteRunWatches,
    SqliteQTableStore,
)


def test_many_adapters_opening_one_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    failures: list[str] = []
    for trial in range(20):
        path = tmp_path / f"trial{trial}" / "selfheal.sqlite3"
        start = threading.Barrier(8)

        def open_one(
            index: int, path: Path = path, start: threading.Barrier = start, trial: int = trial
        ) -> None:
            start.wait()
            try:
                OPENERS[index % len(OPENERS)](path)
            except Exception as error:  # the assertion below reports it
                failures.append(f"trial {trial}: {OPENERS[index % len(OPENERS)].__name__}: {error!r}")

        threads = [threading.Thread(target=open_one, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_the_file_is_in_wal_mode_and_carries_the_schema(tmp_path: Path) -> None:
    conn = open_sqlite(tmp_path / "a.sqlite3", "CREATE TABLE IF NOT EXISTS t (x INTEGER);")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == [("t",)]


def test_an_error_that_is_not_contention_is_raised_at_once(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="syntax"):
        open_sqlite(tmp_path / "b.sqlite3", "CREATE TABLE oops (;")
