"""Learn: reward the checked outcome and update the Q-table with optimistic concurrency.

Integrations: reads the event log, conditional writes to the Q-table; appends the learned event.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.contracts import LearnInput, from_json
from selfheal_core.domain.incident_metrics import closed
from selfheal_core.runtime import incident_metrics
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import learn


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    request = from_json(LearnInput, validate(event, "learn"))
    deps = deps or default_dependencies(context)
    config = deps.config
    result = learn.run(
        request.incident_id,
        request.human,
        deps.store,
        deps.qtable,
        config.learner,
        deps.live_safety(),
        config.learning_enabled,
        config.learning_terms,
    )
    metrics.add_metric(name=f"Incidents{result.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    incident_metrics.emit(closed(deps.store.load(request.incident_id)))
    return result.to_json()
