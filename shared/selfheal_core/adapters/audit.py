"""Audit trail sinks: every incident event is also written as one JSON object for post-incident review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.ports import AuditSink, EventStore


def audit_key(event: IncidentEvent) -> str:
    return f"incidents/{event.incident_id}/{event.seq:06d}-{event.kind}.json"


class S3AuditSink:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def write(self, event: IncidentEvent) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=audit_key(event),
            Body=json.dumps(event.to_record(), sort_keys=True).encode(),
            ContentType="application/json",
        )


class DirectoryAuditSink:
    """The local stand-in for the S3 bucket: the same keys, as files."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def write(self, event: IncidentEvent) -> None:
        path = self.root / audit_key(event)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(event.to_record(), sort_keys=True, indent=1))


class AuditedEventStore:
    """An event store whose every new event also reaches the audit sink."""

    def __init__(self, store: EventStore, sink: AuditSink) -> None:
        self.store = store
        self.sink = sink

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        created, record = self.store.open(incident_id, opened)
        if created:
            self.sink.write(record)
        return created, record

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        record = self.store.append(incident_id, event, expected_seq)
        self.sink.write(record)
        return record

    def load(self, incident_id: str) -> list[IncidentEvent]:
        return self.store.load(incident_id)
