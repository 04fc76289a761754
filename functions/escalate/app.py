"""Escalate: publish what a human needs to act, and say whether the workflow waits for their answer.

The same function serves both ends of that wait (``step`` in the input): ``request_answer`` records the
wait's task token (``Await Approval`` / ``Await Human Decision``, invoked with ``.waitForTaskToken``) and
``record_answer`` checks and records what the human answered (``Check Answer``).

Integrations: reads the event log, publishes to SNS; appends escalated (and opened, when the incident
failed before Diagnose could open it), answer_requested and answered; writes labelled answers to the
audit bucket's ``answers/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.domain.trigger import Trigger
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import answers, escalate


def trigger_if_any(payload: Mapping[str, Any]) -> Trigger | None:
    """The failed run named by the workflow's input, when a step failed before opening the incident."""
    try:
        return trigger_from_event(payload, strict=False)
    except (KeyError, TypeError, ValueError):
        return None


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "escalate")
    deps = deps or default_dependencies(context)
    config = deps.config
    step = payload.get("step")
    if step is not None:
        return _answer_step(str(step), payload, deps)
    trigger = None if payload.get("incident_id") else trigger_if_any(payload)
    result = escalate.run(
        payload,
        trigger,
        deps.store,
        deps.notifier,
        config.await_human,
        config.human_timeout_seconds,
        config.region,
        approval_timeout_seconds=config.approval_timeout_seconds,
        answer_links=deps.answer_links,
        storm=deps.storm_grouping(),
    )
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=1)
    return result.to_json()


def _answer_step(step: str, payload: Mapping[str, Any], deps: Dependencies) -> dict[str, Any]:
    incident_id = str(payload.get("incident_id") or "")
    if not incident_id:
        raise InvalidInputError(f"{step} needs an incident_id")
    if step == "request_answer":
        try:
            timeout = int(payload.get("timeout_seconds") or 0)
        except (TypeError, ValueError):
            raise InvalidInputError("timeout_seconds must be a whole number of seconds") from None
        return answers.request(
            incident_id,
            str(payload.get("question")),
            str(payload.get("task_token") or ""),
            timeout,
            deps.store,
        )
    if step == "record_answer":
        answer = answers.record(incident_id, payload.get("answer"), deps.store, deps.labels)
        metrics.add_metric(name="Answers", unit=MetricUnit.Count, value=1)
        return answer.to_json()
    raise InvalidInputError(f"unknown step {step!r}: request_answer or record_answer")
