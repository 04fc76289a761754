"""Escalate: publish what a human needs to act, and say whether the workflow waits for their answer.

Integrations: reads the event log, publishes to SNS; appends escalated (and opened, when the incident
failed before Diagnose could open it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.domain.trigger import Trigger
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import escalate


def trigger_if_any(payload: Mapping[str, Any]) -> Trigger | None:
    """The failed run named by the workflow's input, when a step failed before opening the incident."""
    try:
        return trigger_from_event(payload)
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
    trigger = None if payload.get("incident_id") else trigger_if_any(payload)
    result = escalate.run(
        payload,
        trigger,
        deps.store,
        deps.notifier,
        config.await_human,
        config.human_timeout_seconds,
        config.region,
        storm=deps.storm_grouping(),
    )
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=1)
    return result.to_json()
