"""In-memory event log and Q-table: the simulator's stores, and the base of the test fakes.

Same semantics as the SQLite and DynamoDB adapters: ``open`` is idempotent, ``append`` takes the
expected sequence number or raises ``ConcurrentUpdateError``, Q-rows are versioned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.qlearning import QEntry, RowUpdate
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


class MemoryQTableStore:
    def __init__(self, rows: Mapping[str, QEntry] | None = None) -> None:
        self._rows: dict[str, QEntry] = {k: _copy(v) for k, v in (rows or {}).items()}
        self._lock = threading.Lock()

    def load_rows(self, keys: Iterable[str]) -> dict[str, QEntry]:
        with self._lock:
            return {k: _copy(self._rows[k]) for k in keys if k in self._rows}

    def all_rows(self) -> dict[str, QEntry]:
        with self._lock:
            return {k: _copy(v) for k, v in self._rows.items()}

    def apply(self, key: str, update: RowUpdate, initial: QEntry) -> QEntry:
        with self._lock:  # one writer at a time: a read-modify-write cannot conflict
            stored = self._rows.get(key)
            base = stored if stored is not None else QEntry(initial.values, initial.visits, 0)
            new = update(_copy(base))
            self._rows[key] = new
            return _copy(new)

    def __len__(self) -> int:
        return len(self._rows)


def _copy(entry: QEntry) -> QEntry:
    return QEntry(entry.values.copy(), entry.visits.copy(), entry.version, entry.applied)
