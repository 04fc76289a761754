"""DynamoDB backends for the event log and the Q-table (the AWS default).

Event log: partition key ``incident_id`` (S), sort key ``seq`` (N); every append is a conditional put on
``attribute_not_exists(seq)``, so two writers can never take the same sequence number.
Q-table: partition key ``state`` (S) with a ``version`` number; writes are conditional on the version read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.adapters.throttling import raise_if_transient
from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.qlearning import QEntry, RowUpdate
from selfheal_core.errors import ConcurrentUpdateError


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _call(operation: Any, what: str, **kwargs: Any) -> Any:
    """One DynamoDB call; throttling becomes TransientDependencyError (the state machine retries)."""
    try:
        return operation(**kwargs)
    except ClientError as error:
        raise_if_transient(error, what)
        raise


class DynamoDbEventStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def _put(self, record: IncidentEvent) -> bool:
        stored = record.to_record()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "incident_id": {"S": record.incident_id},
                    "seq": {"N": str(record.seq)},
                    "type": {"S": stored["type"]},
                    "at": {"S": record.at},
                    "v": {"N": str(stored["v"])},
                    "data": {"S": json.dumps(stored["data"])},
                },
                ConditionExpression="attribute_not_exists(seq)",
            )
            return True
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise_if_transient(error, f"DynamoDB put into {self.table_name}")
            raise

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        record = IncidentEvent(incident_id, 0, utc_now_iso(), opened)
        if self._put(record):
            return True, record
        existing = self._get(incident_id, 0)
        if existing is None:  # pragma: no cover - only if the item vanished between the two calls
            raise ConcurrentUpdateError(f"incident {incident_id} changed while opening")
        return False, existing

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        """One conditional put at the sequence number the caller folded up to: no extra query."""
        record = IncidentEvent(incident_id, expected_seq, utc_now_iso(), event)
        if not self._put(record):
            raise ConcurrentUpdateError(f"incident {incident_id} already has an event at {expected_seq}")
        return record

    def load(self, incident_id: str) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "incident_id = :id",
            "ExpressionAttributeValues": {":id": {"S": incident_id}},
            "ConsistentRead": True,
        }
        while True:
            page = _call(self.client.query, f"query {self.table_name}", **kwargs)
            events.extend(_event(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(events, key=lambda e: e.seq)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, incident_id: str, seq: int) -> IncidentEvent | None:
        item = _call(
            self.client.get_item,
            f"get from {self.table_name}",
            TableName=self.table_name,
            Key={"incident_id": {"S": incident_id}, "seq": {"N": str(seq)}},
            ConsistentRead=True,
        ).get("Item")
        return _event(item) if item else None


def _event(item: Mapping[str, Any]) -> IncidentEvent:
    return IncidentEvent.from_record(
        {
            "incident_id": item["incident_id"]["S"],
            "seq": int(item["seq"]["N"]),
            "type": item["type"]["S"],
            "at": item["at"]["S"],
            "v": int(item["v"]["N"]) if "v" in item else None,
            "data": json.loads(item["data"]["S"]),
        }
    )


class DynamoDbQTableStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def load_rows(self, keys: Iterable[str]) -> dict[str, QEntry]:
        rows: dict[str, QEntry] = {}
        pending = [{"state": {"S": k}} for k in dict.fromkeys(keys)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.table_name: {"Keys": batch, "ConsistentRead": True}}
            while request:
                response = _call(self.client.batch_get_item, f"read {self.table_name}", RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    rows[item["state"]["S"]] = _entry(item)
                request = response.get("UnprocessedKeys") or {}
        return rows

    def all_rows(self) -> dict[str, QEntry]:
        rows: dict[str, QEntry] = {}
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.table_name, ConsistentRead=True
        ):
            for item in page.get("Items", []):
                rows[item["state"]["S"]] = _entry(item)
        return rows

    def read(self, key: str) -> QEntry | None:
        item = _call(
            self.client.get_item,
            f"get from {self.table_name}",
            TableName=self.table_name,
            Key={"state": {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        return _entry(item) if item else None

    def write_if_version(self, key: str, entry: QEntry, expected_version: int | None) -> bool:
        data = entry.to_dict()
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(#s)", "ExpressionAttributeNames": {"#s": "state"}}
            if expected_version is None
            else {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "state": {"S": key},
                    "version": {"N": str(entry.version)},
                    "values": {"M": {a: {"N": str(Decimal(repr(v)))} for a, v in data["values"].items()}},
                    "visits": {"M": {a: {"N": str(v)} for a, v in data["visits"].items()}},
                    "applied": {"L": [{"S": marker} for marker in entry.applied]},
                },
                **condition,
            )
            return True
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise_if_transient(error, f"DynamoDB put into {self.table_name}")
            raise

    def apply(self, key: str, update: RowUpdate, initial: QEntry) -> QEntry:
        def once() -> QEntry:
            stored = self.read(key)
            base = stored if stored is not None else QEntry(initial.values, initial.visits, 0)
            new = update(base)
            if not self.write_if_version(key, new, stored.version if stored is not None else None):
                raise ConcurrentUpdateError(f"Q-row {key!r} changed while it was updated")
            return new

        return retry_on_conflict(once)


def _entry(item: Mapping[str, Any]) -> QEntry:
    return QEntry.from_dict(
        {
            "values": {a: float(v["N"]) for a, v in item["values"]["M"].items()},
            "visits": {a: int(v["N"]) for a, v in item["visits"]["M"].items()},
            "version": int(item["version"]["N"]),
            "applied": [marker["S"] for marker in item.get("applied", {}).get("L", [])],
        }
    )
