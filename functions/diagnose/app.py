"""Diagnose (read-only): open the incident once per failed run and classify what went wrong.

When the run is still going (a Data Quality result arrives mid-run) it reports ``run_in_progress``; the
state machine waits and calls it again with that result as ``previous``, which carries the count of looks.

Integrations: reads Glue (job, runs, catalog table versions, data quality results), CloudWatch Logs and
the operator-signatures parameter; writes only the incident's event log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.adapters.glue import InvocationGlueReads
from selfheal_core.domain.incident_metrics import opened
from selfheal_core.domain.trigger import Trigger
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime import incident_metrics
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.runtime.validation import validate
from selfheal_core.runtime.wiring import Dependencies, default_dependencies
from selfheal_core.steps import diagnose


def parse_trigger(event: Mapping[str, Any]) -> Trigger:
    try:
        return trigger_from_event(event)
    except (KeyError, TypeError, ValueError) as error:  # ValueError includes bounds.InputRejected
        raise InvalidInputError(f"invalid diagnose input: the event does not name a run: {error}") from None


def checks_so_far(payload: Mapping[str, Any]) -> int:
    """How many times Diagnose already found the run still going (0 unless it is called after a wait)."""
    previous = payload.get("previous")
    if isinstance(previous, Mapping) and previous.get("run_in_progress") is True:
        return int(previous.get("in_progress_checks") or 0)
    return 0


@instrumented(correlation_id_path="event.detail.jobRunId")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: Dependencies | None = None
) -> dict[str, Any]:
    payload = validate(event, "diagnose")
    deps = deps or default_dependencies(context)
    config = deps.config
    windows = diagnose.ChangeWindows(datetime.now(UTC), config.freeze_windows, config.business_hours)
    wait = diagnose.RunWait(int(config.poll_seconds), config.max_polls, checks_so_far(payload))
    result = diagnose.run(
        parse_trigger(payload["event"]),
        payload["event"],
        payload["execution_id"],
        deps.store,
        # One call per fact: the step asks about the job and the failed run more than once.
        InvocationGlueReads(deps.glue),
        deps.logs,
        deps.classify(),
        windows,
        wait,
    )
    logger.append_keys(incident_id=result.incident_id)
    logger.info("diagnosed", extra={k: v for k, v in result.to_json().items() if k != "incident_id"})
    if result.run_in_progress:
        metrics.add_metric(name="RunsStillGoing", unit=MetricUnit.Count, value=1)
    elif result.duplicate:
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
    else:
        incident_metrics.emit(opened(result.category or "unknown"))
    return result.to_json()
