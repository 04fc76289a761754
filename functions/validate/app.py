"""Validate: did the run the action started succeed, and did the fix hold?

Integrations: reads the event log, the job run, a SUCCEEDED run's logs (Glue's failure analysis) and Data
Quality results, and (after a rollback) the catalog; appends validated.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate as validate_input
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import validate


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate_input(event, "incident")
    deps = deps or default_dependencies(context)
    config = deps.config
    result = validate.run(
        payload["incident_id"],
        deps.store,
        deps.glue,
        config.safety.max_attempts,
        config.max_polls,
        deps.logs,
    )
    if result.status != "RUNNING":
        metrics.add_metric(
            name="FixesHeld" if result.fixed else "FixesFailed", unit=MetricUnit.Count, value=1
        )
    return result.to_json()
