"""Diagnose (read-only): open the incident once per failed run and classify what went wrong.

Integrations: reads Glue (job, runs, catalog table versions, data quality results), CloudWatch Logs and
the operator-signatures parameter; writes only the incident's event log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import diagnose


@instrumented(correlation_id_path="event.detail.jobRunId")
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "diagnose")
    deps = deps or default_dependencies(context)
    config = deps.config
    windows = diagnose.ChangeWindows(datetime.now(UTC), config.freeze_windows, config.business_hours)
    result = diagnose.run(
        trigger_from_event(payload["event"]),
        payload["event"],
        payload["execution_id"],
        deps.store,
        deps.glue,
        deps.logs,
        deps.classify(),
        windows,
    )
    logger.append_keys(incident_id=result.incident_id)
    logger.info("diagnosed", extra={k: v for k, v in result.to_json().items() if k != "incident_id"})
    metrics.add_metric(
        name="DuplicateEvents" if result.duplicate else "IncidentsOpened", unit=MetricUnit.Count, value=1
    )
    return result.to_json()
