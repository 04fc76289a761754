"""Sweeper (scheduled): escalate the incidents whose execution ended or vanished and left them open.

Integrations: scans the events table for open incidents, reads their logs, DescribeExecution on their
executions, appends escalated/notified and publishes to SNS; emits the IncidentsSwept metric (alarmed).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.domain.incident_metrics import waiting
from selfheal_core.ports import ExecutionLookup, IncidentIndex
from selfheal_core.runtime import incident_metrics
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import sweep

# An incident younger than this is left to its execution (it may not have reached Diagnose's write yet).
DEFAULT_AFTER_SECONDS = 900.0
# Older incidents were swept long ago (the state machine times out after 48 h).
DEFAULT_LOOKBACK_SECONDS = 7 * 86400.0


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


def _index(deps: Dependencies) -> IncidentIndex:
    config = deps.config
    if config.store_backend == "sqlite":
        from selfheal_core.adapters.sqlite_store import SqliteEventStore

        return SqliteEventStore(config.sqlite_path)
    from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore

    return DynamoDbEventStore(config.events_table)


@instrumented(correlation_id_path="id")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    deps: Dependencies | None = None,
    index: IncidentIndex | None = None,
    executions: ExecutionLookup | None = None,
) -> dict[str, Any]:
    deps = deps or default_dependencies(context)
    if executions is None:
        from selfheal_core.adapters.stepfunctions import StepFunctionsExecutions

        executions = StepFunctionsExecutions()
    store = incident_metrics.LogCapture(deps.store)
    result = sweep.run(
        index or _index(deps),
        store,
        executions,
        deps.notifier,
        now=datetime.now(UTC),
        deadline_seconds=_seconds("SWEEP_AFTER_SECONDS", DEFAULT_AFTER_SECONDS),
        lookback_seconds=_seconds("SWEEP_LOOKBACK_SECONDS", DEFAULT_LOOKBACK_SECONDS),
        region=deps.config.region,
        on_swept=lambda incident_id, why: logger.warning(
            "incident swept", extra={"incident_id": incident_id, "reason": why}
        ),
    )
    metrics.add_metric(name="IncidentsSwept", unit=MetricUnit.Count, value=len(result.swept))
    metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=len(result.failed))
    # Incidents younger than SWEEP_AFTER_SECONDS are not read: the gauge lags a new wait by that much.
    incident_metrics.emit(waiting(store.logs.values()))
    if result.failed:
        logger.error("incidents not swept", extra={"failed": result.failed})
    return result.to_json()
