"""Embedded SQLite backends for the event log and the Q-table (the local default).

SQLite serialises writers, so appends take the next sequence number inside one transaction and Q-rows
use the same version check as DynamoDB; the contract tests run against both backends.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.domain.events import SCHEMA_VERSION, DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.qlearning import QEntry, RowUpdate
from selfheal_core.errors import ConcurrentUpdateError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_events (
    incident_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL,
    v INTEGER,
    PRIMARY KEY (incident_id, seq)
);
CREATE TABLE IF NOT EXISTS q_rows (
    state TEXT PRIMARY KEY,
    row TEXT NOT NULL,
    version INTEGER NOT NULL
);
"""


class _Database:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Logs written before typed events have no ``v`` column: their rows load as schema version 1."""
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(incident_events)")}
        if "v" not in columns:
            try:
                self._conn.execute("ALTER TABLE incident_events ADD COLUMN v INTEGER")
            except sqlite3.OperationalError as error:  # another process migrated it in between
                if "duplicate column" not in str(error):
                    raise

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Transaction:
    def __init__(self, db: _Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db._lock.acquire()
        self.db._conn.execute("BEGIN IMMEDIATE")
        return self.db._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.db._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db._lock.release()


class SqliteEventStore:
    def __init__(self, path: str | Path) -> None:
        self._db = _Database(path)

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        record = IncidentEvent(incident_id, 0, utc_now_iso(), opened)
        with self._db.transaction() as conn:
            row = conn.execute(f"{_SELECT} WHERE incident_id=? AND seq=0", (incident_id,)).fetchone()
            if row is not None:
                return False, _event(row)
            _insert(conn, record)
        return True, record

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        record = IncidentEvent(incident_id, expected_seq, utc_now_iso(), event)
        with self._db.transaction() as conn:
            try:
                _insert(conn, record)
            except sqlite3.IntegrityError:
                raise ConcurrentUpdateError(
                    f"incident {incident_id} already has an event at sequence {expected_seq}"
                ) from None
        return record

    def load(self, incident_id: str) -> list[IncidentEvent]:
        rows = self._db.execute(f"{_SELECT} WHERE incident_id=? ORDER BY seq", (incident_id,))
        return [_event(r) for r in rows]

    def incident_ids(self) -> list[str]:
        rows = self._db.execute(
            "SELECT incident_id FROM incident_events WHERE seq=0 ORDER BY at DESC, incident_id"
        )
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        self._db.close()


_SELECT = "SELECT incident_id, seq, type, at, data, v FROM incident_events"


def _insert(conn: sqlite3.Connection, record: IncidentEvent) -> None:
    stored = record.to_record()
    conn.execute(
        "INSERT INTO incident_events (incident_id, seq, type, at, data, v) VALUES (?, ?, ?, ?, ?, ?)",
        (
            record.incident_id,
            record.seq,
            stored["type"],
            record.at,
            json.dumps(stored["data"]),
            SCHEMA_VERSION,
        ),
    )


def _event(row: tuple[Any, ...]) -> IncidentEvent:
    incident_id, seq, type_, at, data, version = row
    return IncidentEvent.from_record(
        {
            "incident_id": incident_id,
            "seq": seq,
            "type": type_,
            "at": at,
            "data": json.loads(data),
            "v": version,
        }
    )


class SqliteQTableStore:
    def __init__(self, path: str | Path) -> None:
        self._db = _Database(path)

    def load_rows(self, keys: Iterable[str]) -> dict[str, QEntry]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(f"SELECT state, row, version FROM q_rows WHERE state IN ({marks})", wanted)
        return {str(s): _entry(row, version) for s, row, version in rows}

    def all_rows(self) -> dict[str, QEntry]:
        rows = self._db.execute("SELECT state, row, version FROM q_rows")
        return {str(s): _entry(row, version) for s, row, version in rows}

    def read(self, key: str) -> QEntry | None:
        return self.load_rows([key]).get(key)

    def write_if_version(self, key: str, entry: QEntry, expected_version: int | None) -> bool:
        """Conditional write: succeeds only if the stored version is still ``expected_version``."""
        payload = json.dumps(entry.to_dict())
        with self._db.transaction() as conn:
            current = conn.execute("SELECT version FROM q_rows WHERE state=?", (key,)).fetchone()
            stored = None if current is None else int(current[0])
            if stored != expected_version:
                return False
            conn.execute(
                "INSERT INTO q_rows (state, row, version) VALUES (?, ?, ?) "
                "ON CONFLICT(state) DO UPDATE SET row=excluded.row, version=excluded.version",
                (key, payload, entry.version),
            )
        return True

    def apply(self, key: str, update: RowUpdate, initial: QEntry) -> QEntry:
        # SQLite serialises writers, so read-modify-write inside one IMMEDIATE transaction cannot conflict.
        with self._db.transaction() as conn:
            row = conn.execute("SELECT row, version FROM q_rows WHERE state=?", (key,)).fetchone()
            base = _entry(row[0], row[1]) if row is not None else QEntry(initial.values, initial.visits, 0)
            new = update(base)
            conn.execute(
                "INSERT INTO q_rows (state, row, version) VALUES (?, ?, ?) "
                "ON CONFLICT(state) DO UPDATE SET row=excluded.row, version=excluded.version",
                (key, json.dumps(new.to_dict()), new.version),
            )
        return new

    def close(self) -> None:
        self._db.close()


def _entry(row: str, version: int) -> QEntry:
    entry = QEntry.from_dict(json.loads(row))
    entry.version = int(version)
    return entry
