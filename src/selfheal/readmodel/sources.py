"""Where incident logs are read from: the local SQLite log under ``$SELFHEAL_HOME``, or a deployed
stack's DynamoDB table and Step Functions executions. Both only read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from selfheal import _bundled
from selfheal.errors import UsageError
from selfheal.readmodel.records import IncidentLog

EXECUTIONS_DIR = "executions"  # under $SELFHEAL_HOME: the local engine's copy of each execution's history


class LogSource(Protocol):
    region: str | None

    def logs(self, opened_after: str = "") -> Iterator[IncidentLog]:
        """Every incident opened at or after ``opened_after`` (ISO-8601), newest first."""
        ...

    def log(self, incident_id: str) -> IncidentLog | None: ...

    def history(self, incident_id: str, execution_arn: str | None) -> dict[str, Any] | None:
        """``{"execution_arn", "status", "events": [...]}`` as GetExecutionHistory gives them, or None."""
        ...

    def definition(self, execution_arn: str | None) -> dict[str, Any]: ...


def bundled_definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(_bundled.STATE_MACHINE.read_text())
    return definition


class LocalSource:
    region: str | None = None

    def __init__(self, home: Path) -> None:
        self.home = home
        self.database = home / "selfheal.sqlite3"

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if not self.database.exists():
            return []
        # Read-only: reading must never create or migrate the log.
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as error:
            raise UsageError(f"cannot read {self.database}: {error}") from None
        finally:
            connection.close()

    def logs(self, opened_after: str = "") -> Iterator[IncidentLog]:
        rows = self._rows(
            "SELECT e.incident_id, e.seq, e.type, e.at, e.data, e.v, o.at FROM incident_events e "
            "JOIN incident_events o ON o.incident_id = e.incident_id AND o.seq = 0 "
            "WHERE o.at >= ? ORDER BY o.at DESC, e.incident_id, e.seq",
            (opened_after,),
        )
        grouped: dict[str, list[dict[str, Any]]] = {}
        for incident_id, seq, type_, at, data, v, _ in rows:
            grouped.setdefault(str(incident_id), []).append(_record(seq, type_, at, data, v))
        for incident_id, records in grouped.items():
            yield IncidentLog.of(incident_id, records)

    def log(self, incident_id: str) -> IncidentLog | None:
        rows = self._rows(
            "SELECT seq, type, at, data, v FROM incident_events WHERE incident_id=? ORDER BY seq",
            (incident_id,),
        )
        return IncidentLog.of(incident_id, [_record(*row) for row in rows]) if rows else None

    def history(self, incident_id: str, execution_arn: str | None) -> dict[str, Any] | None:
        folder = self.home / EXECUTIONS_DIR / incident_id
        saved = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        histories = []
        for path in saved:
            try:
                histories.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        own = [h for h in histories if execution_arn and h.get("execution_arn") == execution_arn]
        if own:
            return dict(own[-1])
        return dict(histories[-1]) if histories else None

    def definition(self, execution_arn: str | None) -> dict[str, Any]:
        return bundled_definition()


def _record(seq: Any, type_: Any, at: Any, data: Any, v: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except (TypeError, ValueError):
        parsed = {}
    return {"seq": seq, "type": type_, "at": at, "data": parsed, "v": v}


def save_history(home: Path, incident_id: str, execution_arn: str, status: str, events: list[Any]) -> Path:
    """Keep an execution's history next to the local log: moto's executions die with the process."""
    folder = home / EXECUTIONS_DIR / incident_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{execution_arn.rsplit(':', 1)[-1]}.json"
    document = {"execution_arn": execution_arn, "status": status, "events": events}
    path.write_text(json.dumps(document, default=str))
    return path


class StackSource:
    """A deployed stack: the events table (Scan for the incidents, Query for one log) and the executions
    (GetExecutionHistory, DescribeStateMachineForExecution)."""

    def __init__(self, events_table: str, dynamodb: Any, stepfunctions: Any) -> None:
        self.table = events_table
        self.dynamodb = dynamodb
        self.sfn = stepfunctions
        self.region = str(dynamodb.meta.region_name)

    def _call(self, operation: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**kwargs)
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message") or str(error)
            raise UsageError(f"cannot read {self.table}: {message}") from None
        except BotoCoreError as error:
            raise UsageError(f"cannot read {self.table}: {error}") from None

    def logs(self, opened_after: str = "") -> Iterator[IncidentLog]:
        opened: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "#seq = :zero AND #at >= :after",
            "ProjectionExpression": "incident_id, #at",
            "ExpressionAttributeNames": {"#seq": "seq", "#at": "at"},
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":after": {"S": opened_after}},
        }
        while True:
            page = self._call(self.dynamodb.scan, **kwargs)
            opened += [(i["at"]["S"], i["incident_id"]["S"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for _, incident_id in sorted(opened, key=lambda o: (o[0], o[1]), reverse=True):
            found = self.log(incident_id)
            if found is not None:
                yield found

    def log(self, incident_id: str) -> IncidentLog | None:
        records: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "incident_id = :id",
            "ExpressionAttributeValues": {":id": {"S": incident_id}},
        }
        while True:
            page = self._call(self.dynamodb.query, **kwargs)
            records += [_item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return IncidentLog.of(incident_id, records) if records else None

    def history(self, incident_id: str, execution_arn: str | None) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        if not execution_arn or not execution_arn.startswith("arn:"):
            return None
        events: list[Any] = []
        try:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            kwargs: dict[str, Any] = {"executionArn": execution_arn, "includeExecutionData": True}
            while True:
                page = self.sfn.get_execution_history(**kwargs)
                events += page.get("events", [])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        except ClientError:  # expired (90 days), or not readable: the log tells the story instead
            return None
        return {"execution_arn": execution_arn, "status": described.get("status"), "events": events}

    def definition(self, execution_arn: str | None) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if execution_arn and execution_arn.startswith("arn:"):
            try:
                found = self.sfn.describe_state_machine_for_execution(executionArn=execution_arn)
                definition: dict[str, Any] = json.loads(found["definition"])
                return definition
            except (ClientError, ValueError, KeyError):
                pass
        return bundled_definition()


def _item(item: Mapping[str, Any]) -> dict[str, Any]:
    return _record(
        int(item["seq"]["N"]),
        item["type"]["S"],
        item["at"]["S"],
        item.get("data", {}).get("S", "{}"),
        int(item["v"]["N"]) if "v" in item else None,
    )
