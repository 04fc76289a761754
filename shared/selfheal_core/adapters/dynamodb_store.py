"""DynamoDB backends for the event log and the Q-table (the AWS default).

Event log: partition key ``incident_id`` (S), sort key ``seq`` (N); every append is a conditional put on
``attribute_not_exists(seq)``, so two writers can never take the same sequence number.
Q-table: partition key ``state`` (S). A row item holds the row it started from (``init``: per action the
prior, its weight and epoch, and the visits, as JSON) and the counters and sums a Q-update ADDs
(``n:<action>``, ``w:<action>:<epoch>``, ``s:<action>:<epoch>``, see ``domain.learning``); each update also
writes its record, keyed ``update\n<incident>#<transition>#<row>``
(no row key has a newline: Glue job names are single-line strings). One TransactWriteItems puts the record
on ``attribute_not_exists`` and increments the row, so an update is applied exactly once and never read,
modified and written back.
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
from selfheal_core.domain.learning import ACTION_INDEX, LearnerSettings, QCell, QRow, QUpdate
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

    def open_incidents(self, opened_before: str, opened_after: str = "") -> list[str]:
        """Incidents opened in [opened_after, opened_before) with no ``learned`` event, oldest first.

        One filtered Scan (the ``opened`` items in the window and every ``learned`` item, keys only): it reads
        the whole table, which the Sweeper's rate (every 15 minutes) and a retained table of incident logs
        afford; a sparse GSI on open incidents would need a write on close, and the log is append-only."""
        opened: dict[str, str] = {}
        learned: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "(#seq = :zero AND #at < :before AND #at >= :after) OR #type = :learned",
            "ProjectionExpression": "incident_id, #seq, #at, #type",
            "ExpressionAttributeNames": {"#seq": "seq", "#at": "at", "#type": "type"},
            "ExpressionAttributeValues": {
                ":zero": {"N": "0"},
                ":before": {"S": opened_before},
                ":after": {"S": opened_after},
                ":learned": {"S": "learned"},
            },
        }
        while True:
            page = _call(self.client.scan, f"scan {self.table_name}", **kwargs)
            for item in page.get("Items", []):
                incident_id = item["incident_id"]["S"]
                if item["type"]["S"] == "learned":
                    learned.add(incident_id)
                elif int(item["seq"]["N"]) == 0:
                    opened[incident_id] = item["at"]["S"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [i for at, i in sorted((at, i) for i, at in opened.items() if i not in learned)]

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


UPDATE_KEY_PREFIX = "update\n"


def _n(value: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(float(value))))}


def _cancellation_codes(error: ClientError) -> list[str]:
    return [str(r.get("Code", "None")) for r in error.response.get("CancellationReasons", [])]


class DynamoDbQTableStore:
    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        learning_rate: float = LearnerSettings.learning_rate,
    ) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.learning_rate = learning_rate  # only to read a row written before rows were sums

    def load_rows(self, keys: Iterable[str]) -> dict[str, QRow]:
        rows: dict[str, QRow] = {}
        pending = [{"state": {"S": k}} for k in dict.fromkeys(keys)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.table_name: {"Keys": batch, "ConsistentRead": True}}
            while request:
                response = _call(self.client.batch_get_item, f"read {self.table_name}", RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    rows[item["state"]["S"]] = self._row(item)
                request = response.get("UnprocessedKeys") or {}
        return rows

    def all_rows(self) -> dict[str, QRow]:
        rows: dict[str, QRow] = {}
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.table_name, ConsistentRead=True
        ):
            for item in page.get("Items", []):
                if not item["state"]["S"].startswith(UPDATE_KEY_PREFIX):
                    rows[item["state"]["S"]] = self._row(item)
        return rows

    def read(self, key: str) -> QRow | None:
        return self.load_rows([key]).get(key)

    def apply(self, update: QUpdate) -> bool:
        return retry_on_conflict(lambda: self._apply(update))

    def _apply(self, update: QUpdate) -> bool:
        try:
            _call(
                self.client.transact_write_items,
                f"Q-update of {self.table_name}",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _record(update),
                            "ConditionExpression": "attribute_not_exists(#s)",
                            "ExpressionAttributeNames": {"#s": "state"},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"state": {"S": update.row}},
                            **_increment(update),
                        }
                    },
                ],
            )
            return True
        except ClientError as error:
            codes = _cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False  # the record exists: this update was applied, with its increments, before
            if "TransactionConflict" in codes or error.response.get("Error", {}).get("Code") in (
                "TransactionConflictException",
                "TransactionInProgressException",
            ):
                # Another transaction held the row for a moment: nothing was written, try again.
                raise ConcurrentUpdateError(f"Q-row {update.row!r} was in another transaction") from error
            raise

    def install(self, key: str, row: QRow) -> None:
        item: dict[str, Any] = {"state": {"S": key}, "init": {"S": _init(row)}}
        for action, index in ACTION_INDEX.items():
            for epoch, weight, weighted in row.cells[index].sums:
                item[f"w:{action.value}:{epoch}"] = _n(weight)
                item[f"s:{action.value}:{epoch}"] = _n(weighted)

        def put() -> None:
            try:
                _call(
                    self.client.put_item, f"put into {self.table_name}", TableName=self.table_name, Item=item
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "TransactionConflictException":
                    raise ConcurrentUpdateError(f"Q-row {key!r} was in a transaction") from error
                raise

        retry_on_conflict(put)

    def _row(self, item: Mapping[str, Any]) -> QRow:
        if "init" not in item:  # written before rows were sums
            values = {a: float(v["N"]) for a, v in item["values"]["M"].items()}
            visits = {a: int(v["N"]) for a, v in item["visits"]["M"].items()}
            return QRow.installed(
                [values[a.value] for a in ACTION_INDEX],
                [visits[a.value] for a in ACTION_INDEX],
                self.learning_rate,
            )
        init = json.loads(item["init"]["S"])
        sums: dict[str, dict[int, list[float]]] = {}
        added: dict[str, int] = {}
        for name, value in item.items():
            kind, _, rest = name.partition(":")
            if kind in ("w", "s"):
                action, _, epoch = rest.rpartition(":")
                pair = sums.setdefault(action, {}).setdefault(int(epoch), [0.0, 0.0])
                pair[0 if kind == "w" else 1] = float(value["N"])
            elif kind == "n":
                added[rest] = int(value["N"])
        cells = []
        for action in ACTION_INDEX:
            a = action.value
            prior, prior_weight, prior_epoch, visits = init[a]
            by_epoch = sums.get(a, {})
            cells.append(
                QCell(
                    prior=float(prior),
                    prior_weight=float(prior_weight),
                    prior_epoch=int(prior_epoch),
                    visits=int(visits) + added.get(a, 0),
                    sums=tuple((e, by_epoch[e][0], by_epoch[e][1]) for e in sorted(by_epoch)),
                )
            )
        return QRow(tuple(cells))


def _init(row: QRow) -> str:
    """The row's starting point: per action [prior, prior weight, prior epoch, visits]. Its sums, if any,
    are written as attributes (``install``)."""
    return json.dumps(
        {
            action.value: [cell.prior, cell.prior_weight, cell.prior_epoch, cell.visits]
            for action, cell in zip(ACTION_INDEX, row.cells, strict=True)
        },
        sort_keys=True,
    )


def _record(update: QUpdate) -> dict[str, Any]:
    return {
        "state": {"S": UPDATE_KEY_PREFIX + update.update_id},
        "update_id": {"S": update.update_id},
        "row": {"S": update.row},
        "action": {"S": update.action.value},
        "target": _n(update.target),
        "seen": {"N": str(update.seen)},
        "epoch": {"N": str(update.epoch)},
        "weight": _n(update.weight),
        "at": {"S": utc_now_iso()},
    }


def _increment(update: QUpdate) -> dict[str, Any]:
    """The row's UpdateExpression: start the row from ``update.initial`` if it has not started (this also
    converts a row written before rows were sums, whose old attributes are then ignored), then ADD one
    visit and the update's weighted target."""
    a = update.action.value
    return {
        "UpdateExpression": "SET #init = if_not_exists(#init, :init) ADD #n :one, #w :w, #s :s",
        "ExpressionAttributeNames": {
            "#init": "init",
            "#n": f"n:{a}",
            "#w": f"w:{a}:{update.epoch}",
            "#s": f"s:{a}:{update.epoch}",
        },
        "ExpressionAttributeValues": {
            ":init": {"S": _init(update.initial)},
            ":one": {"N": "1"},
            ":w": _n(update.weight),
            ":s": _n(update.weighted),
        },
    }
