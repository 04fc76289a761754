"""Execute: apply the gated action through the Glue API (StartJobRun, UpdateTable for a rollback).

Integrations: reads the event log and the settings parameter, writes to Glue; appends action_started
before calling Glue and executed after.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import execute


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "incident")
    deps = deps or default_dependencies(context)
    config = deps.config
    result = execute.run(
        payload["incident_id"],
        deps.store,
        deps.glue,
        config.quarantine_uri,
        config.poll_seconds,
        safety=deps.live_safety(),
        run_wait_seconds=config.run_wait_seconds,
    )
    metrics.add_metric(name="ActionsExecuted", unit=MetricUnit.Count, value=1)
    return result.to_json()
