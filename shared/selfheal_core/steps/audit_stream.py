"""AuditWriter: the audit trail written from the events table's DynamoDB stream, off the incident path.

Each INSERT on the events table (one event of an incident's log) becomes the S3 object
``incidents/<id>/<seq>-<type>.json``, the same file the local engine writes. The steps make no S3 write:
an S3 outage delays the trail instead of failing a remediation. A record that cannot be written is
reported as a batch item failure (``ReportBatchItemFailures``), so Lambda retries from it and the stream
(24 h) holds it meanwhile; writing the same key twice writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from selfheal_core.domain.events import IncidentEvent
from selfheal_core.ports import AuditSink


def event_from_image(image: Mapping[str, Any]) -> IncidentEvent:
    """The stored event from a stream record's NewImage (DynamoDB JSON, as DynamoDbEventStore writes)."""
    import json

    return IncidentEvent.from_record(
        {
            "incident_id": image["incident_id"]["S"],
            "seq": int(image["seq"]["N"]),
            "type": image["type"]["S"],
            "at": image["at"]["S"],
            "v": int(image["v"]["N"]) if "v" in image else None,
            "data": json.loads(image["data"]["S"]),
        }
    )


def run(
    records: list[Mapping[str, Any]],
    sink: AuditSink,
    on_unreadable: Callable[[str, str], None] = lambda sequence, why: None,
) -> dict[str, list[dict[str, str]]]:
    """Write each inserted event; the first failed write and everything after it are reported for a
    retry. A record that cannot be read as an event is reported to ``on_unreadable`` and skipped: retried,
    it would fail the same way and hold back the shard for the stream's 24 hours."""
    failures: list[dict[str, str]] = []
    for record in records:
        sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        if failures:  # keep the order: what follows a failure is retried with it
            failures.append({"itemIdentifier": sequence})
            continue
        if record.get("eventName") != "INSERT":
            continue  # the log is append-only: nothing else is audited
        try:
            event = event_from_image(record["dynamodb"]["NewImage"])
        except (KeyError, TypeError, ValueError) as error:
            on_unreadable(sequence, f"{type(error).__name__}: {error}")
            continue
        try:
            sink.write(event)
        except Exception:  # any failure of the bucket: the stream keeps the record, Lambda retries it
            failures.append({"itemIdentifier": sequence})
    return {"batchItemFailures": failures}
