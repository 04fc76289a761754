"""The local audit trail, written from the event log after each execution (never inside a step).

In AWS the AuditWriter function writes each new item of the events table's stream to the audit bucket;
locally the engine does the same from the SQLite log once an execution has ended. Either way a failing
audit write cannot block or fail a remediation, and a write that failed is made by the next pass (the
next execution, or ``selfheal incidents sweep``), so the trail ends up complete.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from selfheal_core.adapters.audit import DirectoryAuditSink, audit_key
from selfheal_core.domain.events import IncidentEvent
from selfheal_core.runtime.observability import logger


def write_missing(root: Path, logs: Mapping[str, Sequence[IncidentEvent]]) -> int:
    """Write every event not yet in the audit directory; returns how many were written."""
    sink = DirectoryAuditSink(root)
    written = 0
    for incident_id, events in logs.items():
        for event in events:
            if (root / audit_key(event)).exists():
                continue
            try:
                sink.write(event)
            except Exception as error:  # any failure: the next pass writes it
                logger.warning(
                    "audit write deferred",
                    extra={"incident_id": incident_id, "seq": event.seq, "error": type(error).__name__},
                )
                break  # keep the trail a prefix of the log: the rest waits for the next pass
            written += 1
    return written
