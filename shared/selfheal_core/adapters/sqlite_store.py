"""Embedded SQLite backends for the event log and the Q-table (the local default).

SQLite serialises writers, so appends take the next sequence number inside one transaction; a Q-update
inserts its record and adds to its row's sums (``x = x + ?``) in one transaction, or does nothing if the
record exists. The contract tests run against both backends.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.adapters.sqlite_file import open_sqlite
from selfheal_core.domain.events import SCHEMA_VERSION, DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.learning import ACTION_INDEX, N_ACTIONS, LearnerSettings, QCell, QRow, QUpdate
from selfheal_core.errors import ConcurrentUpdateError
from selfheal_core.vocabulary import ACTIONS

# The event after which an incident needs nobody: its outcome has been learned.
CLOSING_KIND = "learned"

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
CREATE TABLE IF NOT EXISTS q_cells (
    state TEXT NOT NULL,
    action TEXT NOT NULL,
    prior REAL NOT NULL,
    prior_weight REAL NOT NULL,
    prior_epoch INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    PRIMARY KEY (state, action)
);
CREATE TABLE IF NOT EXISTS q_sums (
    state TEXT NOT NULL,
    action TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    weight REAL NOT NULL,
    weighted REAL NOT NULL,
    PRIMARY KEY (state, action, epoch)
);
CREATE TABLE IF NOT EXISTS q_updates (
    update_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    action TEXT NOT NULL,
    target REAL NOT NULL,
    seen INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    weight REAL NOT NULL,
    at TEXT NOT NULL
);
"""


class _Database:
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.RLock()
        self._conn = open_sqlite(path, _SCHEMA)
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

    def open_incidents(self, opened_before: str, opened_after: str = "") -> list[str]:
        """Incidents opened in [opened_after, opened_before) (ISO-8601 UTC) whose log has no ``learned``
        event, oldest first: what the Sweeper looks at."""
        rows = self._db.execute(
            "SELECT o.incident_id FROM incident_events o WHERE o.seq=0 AND o.at < ? AND o.at >= ? "
            "AND NOT EXISTS (SELECT 1 FROM incident_events l WHERE l.incident_id=o.incident_id "
            "AND l.type=?) ORDER BY o.at, o.incident_id",
            (opened_before, opened_after, CLOSING_KIND),
        )
        return [str(r[0]) for r in rows]

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
    """Q-rows as sums: a cell per (state, action) and its per-epoch sums, plus one record per update."""

    def __init__(self, path: str | Path, learning_rate: float = LearnerSettings.learning_rate) -> None:
        self._db = _Database(path)
        self._migrate(learning_rate)

    def _migrate(self, learning_rate: float) -> None:
        """A table written before rows were sums (``q_rows``: a JSON row and a version) is installed as it
        stood, once, and dropped."""
        with self._db.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='q_rows'"
            ).fetchone():
                return
            for state, row in conn.execute("SELECT state, row FROM q_rows").fetchall():
                data = json.loads(row)
                values = [float(data["values"][a.value]) for a in ACTIONS]
                visits = [int(data["visits"][a.value]) for a in ACTIONS]
                _put_row(conn, str(state), QRow.installed(values, visits, learning_rate))
            conn.execute("DROP TABLE q_rows")

    def load_rows(self, keys: Iterable[str]) -> dict[str, QRow]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._db.transaction() as conn:  # cells and sums from one snapshot
            cells = conn.execute(f"{_CELLS} WHERE state IN ({marks})", wanted).fetchall()
            sums = conn.execute(f"{_SUMS} WHERE state IN ({marks}) ORDER BY epoch", wanted).fetchall()
        return _rows(cells, sums)

    def all_rows(self) -> dict[str, QRow]:
        with self._db.transaction() as conn:
            cells = conn.execute(_CELLS).fetchall()
            sums = conn.execute(f"{_SUMS} ORDER BY epoch").fetchall()
        return _rows(cells, sums)

    def apply(self, update: QUpdate) -> bool:
        with self._db.transaction() as conn:
            inserted = conn.execute(
                "INSERT INTO q_updates (update_id, state, action, target, seen, epoch, weight, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(update_id) DO NOTHING",
                (
                    update.update_id,
                    update.row,
                    update.action.value,
                    update.target,
                    update.seen,
                    update.epoch,
                    update.weight,
                    utc_now_iso(),
                ),
            ).rowcount
            if not inserted:
                return False  # applied before: the record and its increments were committed together
            _put_row(conn, update.row, update.initial, replace=False)
            conn.execute(
                "UPDATE q_cells SET visits = visits + 1 WHERE state=? AND action=?",
                (update.row, update.action.value),
            )
            _add_sums(conn, update.row, update.action.value, update.epoch, update.weight, update.weighted)
        return True

    def install(self, key: str, row: QRow) -> None:
        with self._db.transaction() as conn:
            _put_row(conn, key, row)

    def update_records(self) -> list[dict[str, object]]:
        """Every update record, in the order applied (for audit and tests)."""
        rows = self._db.execute(
            "SELECT update_id, state, action, target, seen, epoch, weight FROM q_updates ORDER BY rowid"
        )
        names = ("update_id", "row", "action", "target", "seen", "epoch", "weight")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def close(self) -> None:
        self._db.close()


_ACTION_INDEX = {action.value: index for action, index in ACTION_INDEX.items()}
_CELLS = "SELECT state, action, prior, prior_weight, prior_epoch, visits FROM q_cells"
_SUMS = "SELECT state, action, epoch, weight, weighted FROM q_sums"


def _put_row(conn: sqlite3.Connection, key: str, row: QRow, replace: bool = True) -> None:
    """Write ``row`` as the row ``key``: replacing it, or only if it does not exist (``replace=False``)."""
    if replace:
        conn.execute("DELETE FROM q_cells WHERE state=?", (key,))
        conn.execute("DELETE FROM q_sums WHERE state=?", (key,))
    elif conn.execute("SELECT 1 FROM q_cells WHERE state=? LIMIT 1", (key,)).fetchone():
        return
    for action, cell in zip(ACTIONS, row.cells, strict=True):
        conn.execute(
            "INSERT INTO q_cells (state, action, prior, prior_weight, prior_epoch, visits) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, action.value, cell.prior, cell.prior_weight, cell.prior_epoch, cell.visits),
        )
        for epoch, weight, weighted in cell.sums:
            _add_sums(conn, key, action.value, epoch, weight, weighted)


def _add_sums(
    conn: sqlite3.Connection, key: str, action: str, epoch: int, weight: float, weighted: float
) -> None:
    conn.execute(
        "INSERT INTO q_sums (state, action, epoch, weight, weighted) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(state, action, epoch) DO UPDATE SET "
        "weight = weight + excluded.weight, weighted = weighted + excluded.weighted",
        (key, action, epoch, weight, weighted),
    )


def _rows(cells: list[tuple[Any, ...]], sums: list[tuple[Any, ...]]) -> dict[str, QRow]:
    by_cell: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for state, action, epoch, weight, weighted in sums:  # ordered by epoch
        by_cell.setdefault((str(state), str(action)), []).append((int(epoch), float(weight), float(weighted)))
    found: dict[str, list[QCell | None]] = {}
    for state, action, prior, prior_weight, prior_epoch, visits in cells:
        index = _ACTION_INDEX.get(str(action))
        if index is None:  # an action no longer in the vocabulary
            continue
        slots = found.setdefault(str(state), [None] * N_ACTIONS)
        slots[index] = QCell(
            float(prior),
            float(prior_weight),
            int(prior_epoch),
            int(visits),
            tuple(by_cell.get((str(state), str(action)), ())),
        )
    return {
        state: QRow(tuple(c for c in slots if c is not None))
        for state, slots in found.items()
        if all(c is not None for c in slots)
    }
