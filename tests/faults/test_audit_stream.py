"""The AWS audit path: the events table's stream to the audit bucket (functions/audit_writer)."""

from __future__ import annotations

from typing import Any

from selfheal_core.domain.events import Escalated, IncidentEvent, Opened
from selfheal_core.steps import audit_stream


def _record(event: IncidentEvent, sequence: str, name: str = "INSERT") -> dict[str, Any]:
    import json

    stored = event.to_record()
    image = {
        "incident_id": {"S": event.incident_id},
        "seq": {"N": str(event.seq)},
        "type": {"S": stored["type"]},
        "at": {"S": event.at},
        "v": {"N": str(stored["v"])},
        "data": {"S": json.dumps(stored["data"])},
    }
    return {"eventName": name, "dynamodb": {"SequenceNumber": sequence, "NewImage": image}}


class Sink:
    def __init__(self, fail_on: int | None = None) -> None:
        self.written: list[IncidentEvent] = []
        self.fail_on = fail_on

    def write(self, event: IncidentEvent) -> None:
        if event.seq == self.fail_on:
            raise RuntimeError("SlowDown")
        self.written.append(event)


EVENTS = [
    IncidentEvent("inc-1", 0, "2026-11-27T10:00:00.000Z", Opened("j", "jr_1", "ex")),
    IncidentEvent("inc-1", 1, "2026-11-27T10:00:01.000Z", Escalated("why", "inc-1:escalation:1")),
]


def test_each_inserted_event_is_written_as_stored() -> None:
    sink = Sink()
    result = audit_stream.run([_record(e, str(i)) for i, e in enumerate(EVENTS)], sink)
    assert result == {"batchItemFailures": []}
    assert [e.to_record() for e in sink.written] == [e.to_record() for e in EVENTS]


def test_a_failed_write_and_what_follows_it_are_retried() -> None:
    sink = Sink(fail_on=0)
    result = audit_stream.run([_record(e, str(i)) for i, e in enumerate(EVENTS)], sink)
    assert result == {"batchItemFailures": [{"itemIdentifier": "0"}, {"itemIdentifier": "1"}]}
    assert sink.written == []


def test_an_unreadable_record_is_reported_and_skipped_not_retried_forever() -> None:
    sink = Sink()
    broken = _record(EVENTS[0], "0")
    del broken["dynamodb"]["NewImage"]["data"]
    seen: list[str] = []
    result = audit_stream.run(
        [broken, _record(EVENTS[1], "1")], sink, on_unreadable=lambda seq, why: seen.append(seq)
    )
    assert result == {"batchItemFailures": []}
    assert seen == ["0"] and [e.seq for e in sink.written] == [1]


def test_only_inserts_are_audited() -> None:
    sink = Sink()
    result = audit_stream.run([_record(EVENTS[0], "0", name="REMOVE")], sink)
    assert result == {"batchItemFailures": []} and sink.written == []
