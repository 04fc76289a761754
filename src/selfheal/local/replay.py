"""Replay EventBridge events through the local state machine and summarise each incident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.decisions import final_action
from selfheal_core.domain.incident import Outcome, fold, incident_id_for
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime.validation import validate

from selfheal import _bundled
from selfheal.errors import UsageError
from selfheal.local.engine import ExecutionResult, LocalEngine

PROJECT_EVENTS = _bundled.EVENTS
DEFAULT_WORLD = _bundled.WORLD


# An EventBridge event, and a Step Functions execution input, are at most 256 KB: a larger file could
# never start an execution in AWS (moto's interpreter fails it too), so it is refused up front.
MAX_EVENT_FILE_BYTES = 262_144
MAX_EVENT_DEPTH = 32
FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "ERROR"})


def read_event(path: str | Path) -> tuple[dict[str, Any], str | None]:
    """The event in ``path`` and, if it fails input validation but still names a failed run, why.

    Such an event is replayed anyway, as AWS would deliver it: Diagnose refuses it and Escalate records
    the incident, so no failed run is lost. Anything that names no failed run is a one-line UsageError.
    Bytes that are not UTF-8 are replaced (with a notice), NULs and lone surrogates cleaned, and the
    size and nesting bounded before parsing.
    """
    from selfheal_core.domain.bounds import json_nesting_depth
    from selfheal_core.runtime.validation import cleaned

    from selfheal.untrusted import one_line, read_text

    text = read_text(path, "replay", max_bytes=MAX_EVENT_FILE_BYTES)
    depth = json_nesting_depth(text)
    if depth > MAX_EVENT_DEPTH:
        raise UsageError(f"{path} nests {depth} levels deep, more than {MAX_EVENT_DEPTH}: not an event")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not valid JSON: {error.msg} (line {error.lineno})") from None
    except (ValueError, RecursionError) as error:
        raise UsageError(f"{path} is not valid JSON: {one_line(error, 200)}") from None
    event = cleaned(event)
    try:
        validate({"event": event, "execution_id": "replay"}, "diagnose")
    except InvalidInputError as error:
        if isinstance(event, dict) and names_failed_run(event):
            return event, str(error)
        raise UsageError(f"{path} is not a Glue failure event selfheal handles: {error}") from None
    if not isinstance(event, dict):  # pragma: no cover - the schema requires an object
        raise UsageError(f"{path} must hold one JSON object")
    return event, None


def names_failed_run(event: dict[str, Any]) -> bool:
    """Whether ``event`` is a Glue failure (job state or Data Quality) that names its job and run."""
    from selfheal_core.adapters.eventbridge import DATA_QUALITY_EVENT, trigger_from_event

    expected_source = {"Glue Job State Change": "aws.glue", DATA_QUALITY_EVENT: "aws.glue-dataquality"}
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str) or expected_source.get(detail_type) != event.get("source"):
        return False
    detail = event.get("detail")
    names = (
        detail.get("context") if detail_type == DATA_QUALITY_EVENT and isinstance(detail, dict) else detail
    )
    if not isinstance(names, dict) or not isinstance(names.get("jobName"), str):
        return False  # a name that is not a string names nothing
    try:
        trigger = trigger_from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return bool(trigger.job_name and trigger.job_run_id) and trigger.state in FAILED_STATES


def load_event(path: str | Path) -> dict[str, Any]:
    """``read_event`` for callers that replay only well-formed events: any problem is a UsageError."""
    event, problem = read_event(path)
    if problem is not None:
        raise UsageError(f"{path} is not a Glue failure event selfheal handles: {problem}")
    return event


@dataclass(frozen=True)
class IncidentSummary:
    data: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.data, sort_keys=False)


def summarise(event: Mapping[str, Any], result: ExecutionResult, home: Path) -> IncidentSummary:
    trigger = trigger_from_event(event)
    job_name, job_run_id = trigger.job_name, trigger.job_run_id
    incident_id = incident_id_for(job_name, job_run_id)
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        events = store.load(incident_id)
    finally:
        store.close()
    incident = fold(events) if events else None
    diagnosis = incident.diagnosis if incident else None
    duplicate = "Duplicate Ignored" in result.path
    if duplicate:
        outcome = "duplicate"
    elif result.status != "SUCCEEDED":
        outcome = "failed"
    elif incident is not None and incident.outcome is Outcome.RESOLVED:
        outcome = "resolved"
    else:
        outcome = "escalated"
    # A duplicate did nothing itself: it reports the incident it belongs to, not that incident's actions.
    attempts = incident.attempts if incident and not duplicate else []
    rules: list[str] = []
    for attempt in attempts:
        rules.extend(r for r in (*attempt.rules_fired, *attempt.masking_rules) if r not in rules)
    return IncidentSummary(
        {
            "incident_id": incident_id,
            "job_name": job_name,
            "job_run_id": job_run_id,
            "category": diagnosis.category.value if diagnosis else None,
            "confidence": round(diagnosis.confidence, 4) if diagnosis else None,
            "drift": diagnosis.drifted if diagnosis else False,
            "proposed_action": attempts[0].proposed.value if attempts and attempts[0].proposed else None,
            "final_action": final_action(incident).value if incident and not duplicate else None,
            "safety_rules": rules,
            "outcome": outcome,
            # Resolved by a fix that ran after a human approved it.
            "assisted": bool(incident is not None and not duplicate and incident.assisted),
            "approval": list(attempts[-1].approval) if attempts else [],
            "path": result.path,
            "status": result.status,
            # What this incident's execution did, counted at the AWS API (a duplicate did nothing).
            "glue_runs_started": len(
                [m for m in result.calls.runs_started if m.startswith(f"{incident_id}#")]
            ),
            "catalog_updates": len(result.calls.catalog_updates),
            "notifications": len(result.calls.notifications),
            **({"faults": dict(result.calls.fired)} if result.calls.fired else {}),
            **({"closed_by": "sweeper"} if duplicate and _swept(events) else {}),
        }
    )


def _swept(events: list[Any]) -> bool:
    from selfheal_core.domain.events import Escalated

    return any(isinstance(e.event, Escalated) and e.event.source == "sweeper" for e in events)


def replay(engine: LocalEngine, event: Mapping[str, Any]) -> IncidentSummary:
    result = engine.run(event)
    summary = summarise(event, result, engine.options.home)
    keep_history(engine, str(summary.data["incident_id"]), result)
    return summary


def keep_history(engine: LocalEngine, incident_id: str, result: ExecutionResult) -> None:
    """Save the execution's history under ``$SELFHEAL_HOME/executions/``: moto's executions die with this
    process, and ``selfheal incidents show`` draws each state's input and output from it."""
    from selfheal.local.faults import controller
    from selfheal.readmodel.sources import save_history

    with controller.suspended():
        events = engine.client("stepfunctions").get_execution_history(
            executionArn=result.execution_arn, includeExecutionData=True
        )["events"]
    save_history(engine.options.home, incident_id, result.execution_arn, result.status, events)
