"""In-memory event log and Q-table: the simulator's stores, and the base of the test fakes.

Same semantics as the SQLite and DynamoDB adapters: ``open`` is idempotent, ``append`` takes the
expected sequence number or raises ``ConcurrentUpdateError``, a Q-update is applied once per update id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.learning import QRow, QUpdate
from selfheal_core.errors import ConcurrentUpdateError


class MemoryEventStore:
    def __init__(self) -> None:
        self._events: dict[str, list[IncidentEvent]] = {}
        self._lock = threading.Lock()

    def now(self) -> str:
        return utc_now_iso()

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        with self._lock:
            existing = self._events.get(incident_id)
            if existing:
                return False, existing[0]
            record = IncidentEvent(incident_id, 0, self.now(), opened)
            self._events[incident_id] = [record]
            return True, record

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        with self._lock:
            events = self._events.setdefault(incident_id, [])
            if expected_seq != len(events):
                raise ConcurrentUpdateError(
                    f"incident {incident_id} is at sequence {len(events)}, not {expected_seq}"
                )
            record = IncidentEvent(incident_id, expected_seq, self.now(), event)
            events.append(record)
            return record

    def load(self, incident_id: str) -> list[IncidentEvent]:
        with self._lock:
            return list(self._events.get(incident_id, []))

    def incident_ids(self) -> list[str]:
        with self._lock:
            return list(self._events)

    def open_incidents(self, opened_before: str, opened_after: str = "") -> list[str]:
        """Incidents opened in [opened_after, opened_before) with no ``learned`` event, oldest first."""
        with self._lock:
            found = [
                (events[0].at, incident_id)
                for incident_id, events in self._events.items()
                if events
                and opened_after <= events[0].at < opened_before
                and not any(e.kind == "learned" for e in events)
            ]
        return [incident_id for _, incident_id in sorted(found)]


class MemoryQTableStore:
    """Q-rows as sums and the record of every update applied (kept for the store's lifetime)."""

    def __init__(self, rows: Mapping[str, QRow] | None = None) -> None:
        self._rows: dict[str, QRow] = dict(rows or {})
        self._updates: dict[str, QUpdate] = {}
        self._lock = threading.Lock()

    def load_rows(self, keys: Iterable[str]) -> dict[str, QRow]:
        with self._lock:  # rows are immutable: no copy needed
            return {k: self._rows[k] for k in keys if k in self._rows}

    def all_rows(self) -> dict[str, QRow]:
        with self._lock:
            return dict(self._rows)

    def apply(self, update: QUpdate) -> bool:
        with self._lock:  # the record and the row change together
            if update.update_id in self._updates:
                return False
            self._updates[update.update_id] = update
            self._rows[update.row] = self._rows.get(update.row, update.initial).plus(update)
            return True

    def install(self, key: str, row: QRow) -> None:
        with self._lock:
            self._rows[key] = row

    def updates(self) -> list[QUpdate]:
        """Every update record, in the order applied."""
        with self._lock:
            return list(self._updates.values())

    def __len__(self) -> int:
        return len(self._rows)
