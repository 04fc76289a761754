"""Inbound adapter: the EventBridge events that open incidents, read through Powertools' event classes.

Shapes (already checked against ``runtime/schemas/diagnose.json`` by the handler):
- ``Glue Job State Change`` (source ``aws.glue``): ``detail.jobName``, ``jobRunId``, ``state``, ``message``;
- ``Data Quality Evaluation Results Available`` (source ``aws.glue-dataquality``): the run is named in
  ``detail.context`` (``jobName`` and ``jobId``, the job run id), so a DQ failure and the run's own FAILED
  event for the same run open the same incident once. The rule counts Glue sends are ``numRulesSucceeded``,
  ``numRulesFailed`` and ``numRulesSkipped`` (the names in AWS's documented sample, ``rulesSucceeded``...,
  are read when those are absent), and the result id is ``resultId`` (``resultID`` in the sample).

Counts and the score are parsed strictly (``domain.bounds``): a string, a bool, a negative or a huge
number raises ``InputRejected``, a ``ValueError`` that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from selfheal_core.domain.bounds import strict_fraction, strict_int
from selfheal_core.domain.trigger import Trigger, TriggerKind

DATA_QUALITY_EVENT = "Data Quality Evaluation Results Available"
MAX_RULE_COUNT = 10**6  # a ruleset has at most a few thousand rules


def trigger_from_event(raw: Mapping[str, Any], *, strict: bool = True) -> Trigger:
    """Raises KeyError, TypeError or ValueError when the event does not name a run or, if ``strict``, when
    a count is malformed. Escalate reads leniently: a run named beside a malformed count is still a failed
    run a human must hear about, under its own name."""
    event = EventBridgeEvent(dict(raw))
    detail = event.detail
    if not isinstance(detail, Mapping):
        raise TypeError("the event's detail is not an object")
    if event.detail_type == DATA_QUALITY_EVENT:
        try:
            return _data_quality(detail)
        except (TypeError, ValueError, OverflowError) as error:
            if strict:
                raise
            return _data_quality_names(detail, error)
    return Trigger(
        job_name=str(detail["jobName"]),
        job_run_id=str(detail["jobRunId"]),
        state=str(detail.get("state", "FAILED")),
        message=str(detail.get("message", "")),
        kind=TriggerKind.JOB_STATE_CHANGE,
    )


def _rule_count(detail: Mapping[str, Any], kind: str) -> int:
    """``numRules<Kind>`` as Glue sends it, else ``rules<Kind>`` (AWS's documented sample), else 0."""
    for name in (f"numRules{kind}", f"rules{kind}"):
        if detail.get(name) is not None:
            return strict_int(detail[name], field=f"detail.{name}", maximum=MAX_RULE_COUNT)
    return 0


def _data_quality(detail: Mapping[str, Any]) -> Trigger:
    context = detail["context"]
    failed = _rule_count(detail, "Failed")
    total = failed + _rule_count(detail, "Succeeded") + _rule_count(detail, "Skipped")
    score = strict_fraction(detail["score"], field="detail.score") if detail.get("score") is not None else 0.0
    rulesets = ", ".join(str(name) for name in detail.get("rulesetNames") or []) or "ruleset"
    result_id = str(detail.get("resultId") or detail.get("resultID") or "")
    return Trigger(
        job_name=str(context["jobName"]),
        job_run_id=str(context.get("jobId") or result_id),
        state=str(detail.get("state", "FAILED")),
        message=(
            f"Glue Data Quality: {failed} of {total} rules failed in {rulesets} "
            f"(score {score:.2f}, result {result_id})"
        ),
        kind=TriggerKind.DATA_QUALITY,
        result_id=result_id,
        extra={"score": detail.get("score"), "rules_failed": failed},
    )


def _data_quality_names(detail: Mapping[str, Any], error: Exception) -> Trigger:
    """The run a malformed Data Quality event names, without the counts it could not read."""
    context = detail["context"]
    result_id = str(detail.get("resultId") or detail.get("resultID") or "")
    return Trigger(
        job_name=str(context["jobName"]),
        job_run_id=str(context.get("jobId") or result_id),
        state=str(detail.get("state", "FAILED")),
        message=f"Glue Data Quality result {result_id} could not be read: {error}",
        kind=TriggerKind.DATA_QUALITY,
        result_id=result_id,
    )
