"""Inbound adapter: the EventBridge events that open incidents, read through Powertools' event classes.

Shapes (already checked against ``runtime/schemas/diagnose.json`` by the handler):
- ``Glue Job State Change`` (source ``aws.glue``): ``detail.jobName``, ``jobRunId``, ``state``, ``message``;
- ``Data Quality Evaluation Results Available`` (source ``aws.glue-dataquality``): the run is named in
  ``detail.context`` (``jobName`` and ``jobId``, the job run id), so a DQ failure and the run's own FAILED
  event for the same run open the same incident once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from selfheal_core.domain.trigger import Trigger, TriggerKind

DATA_QUALITY_EVENT = "Data Quality Evaluation Results Available"


def trigger_from_event(raw: Mapping[str, Any]) -> Trigger:
    """Raises KeyError, TypeError or ValueError when the event does not name a run."""
    event = EventBridgeEvent(dict(raw))
    detail = event.detail
    if not isinstance(detail, Mapping):
        raise TypeError("the event's detail is not an object")
    if event.detail_type == DATA_QUALITY_EVENT:
        return _data_quality(detail)
    return Trigger(
        job_name=str(detail["jobName"]),
        job_run_id=str(detail["jobRunId"]),
        state=str(detail.get("state", "FAILED")),
        message=str(detail.get("message", "")),
        kind=TriggerKind.JOB_STATE_CHANGE,
    )


def _data_quality(detail: Mapping[str, Any]) -> Trigger:
    context = detail["context"]
    failed = int(detail.get("rulesFailed", 0))
    total = failed + int(detail.get("rulesSucceeded", 0)) + int(detail.get("rulesSkipped", 0))
    rulesets = ", ".join(detail.get("rulesetNames", [])) or "ruleset"
    result_id = str(detail.get("resultID") or detail.get("resultId") or "")
    return Trigger(
        job_name=str(context["jobName"]),
        job_run_id=str(context.get("jobId") or result_id),
        state=str(detail.get("state", "FAILED")),
        message=(
            f"Glue Data Quality: {failed} of {total} rules failed in {rulesets} "
            f"(score {float(detail.get('score', 0.0)):.2f}, result {result_id})"
        ),
        kind=TriggerKind.DATA_QUALITY,
        result_id=result_id,
        extra={"score": detail.get("score"), "rules_failed": failed},
    )
