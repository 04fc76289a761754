"""What every step shares: loading the incident's state from its log."""

from __future__ import annotations

from selfheal_core.domain.incident import IncidentState, fold
from selfheal_core.errors import IncidentNotFoundError
from selfheal_core.ports import EventStore


def load_state(store: EventStore, incident_id: str) -> IncidentState:
    records = store.load(incident_id)
    if not records:
        raise IncidentNotFoundError(f"no event log for incident {incident_id}")
    return fold(records)
