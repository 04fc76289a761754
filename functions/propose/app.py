"""Propose: the Q-learning policy picks one bounded action among those the safety gate allows.

Integrations: reads the event log and the Q-table; appends the proposed event.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import propose


@instrumented(correlation_id_path="incident_id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "incident")
    deps = deps or default_dependencies(context)
    config = deps.config
    result = propose.run(
        payload["incident_id"],
        deps.store,
        deps.qtable,
        config.learner,
        deps.live_safety(),
        explore=config.learning_enabled,
        exploration_seed=config.exploration_seed,
        policy_name=config.policy,
    )
    metrics.add_metric(name="Proposals", unit=MetricUnit.Count, value=1)
    return result.to_json()
