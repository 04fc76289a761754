"""Escalate: publish what a human needs to act (job, run, category, evidence, proposal, why, links).

Integrations: SNS Publish; appends to the event log (opening the incident if an early error prevented it).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import escalate


@instrumented(correlation_id_path="incident_id")
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "escalate")
    deps = deps or default_dependencies(context)
    config = deps.config
    result = escalate.run(
        payload, deps.store, deps.notifier, config.await_human, config.human_timeout_seconds, config.region
    )
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=1)
    return result
