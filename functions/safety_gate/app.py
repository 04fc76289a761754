"""SafetyGate: fixed rules, kill switch and shadow mode; a proposal can only become safer.

Integrations: reads the event log and the settings parameter; appends the gated event.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import safety_gate


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "incident")
    deps = deps or default_dependencies(context)
    result = safety_gate.run(
        payload["incident_id"], deps.store, deps.live_safety(), deps.config.backoff_seconds, deps.live_storm()
    )
    if result.hold:
        metrics.add_metric(name="StormHolds", unit=MetricUnit.Count, value=1)
    if result.action != result.proposed:
        metrics.add_metric(name="ProposalsVetoed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ProposalsReviewed", unit=MetricUnit.Count, value=1)
    return result.to_json()
