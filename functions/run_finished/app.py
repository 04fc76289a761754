"""RunFinished: releases the execution waiting for the end of a run selfheal started.

Invoked two ways (``steps/run_finished.py``): by the state machine's "Await Run End" task with
``{"watch": {...}, "task_token": ...}`` (records the wait, releases it at once if the run already
ended), and by the EventBridge rule on Glue Job State Change events in a terminal state (releases the
wait recorded for that run id; any other run is ignored).

Integrations: PutItem/GetItem of RUN#<run id> items in the events table, GetJobRun, SendTaskSuccess.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.ports import GlueCatalog, RunWatches, TaskRelease
from selfheal_core.runtime.boundary import retryable_boundary
from selfheal_core.runtime.config import Config
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.steps import run_finished


@functools.lru_cache(maxsize=8)
def _adapters(config: Config) -> tuple[RunWatches, GlueCatalog, TaskRelease]:
    """Only the three clients this function needs (no event store, Q-table, SNS or SSM client)."""
    from selfheal_core.adapters.glue import GlueAdapter
    from selfheal_core.adapters.stepfunctions import StepFunctionsTasks

    watches: RunWatches
    if config.store_backend == "sqlite":
        from selfheal_core.adapters.run_watch import SqliteRunWatches

        watches = SqliteRunWatches(config.sqlite_path)
    else:
        from selfheal_core.adapters.run_watch import DynamoDbRunWatches

        watches = DynamoDbRunWatches(config.events_table)
    return watches, GlueAdapter(), StepFunctionsTasks()


@instrumented(correlation_id_path="watch.incident_id || detail.jobRunId")
@retryable_boundary
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    watches: RunWatches | None = None,
    glue: GlueCatalog | None = None,
    release: TaskRelease | None = None,
) -> dict[str, Any]:
    if watches is None or glue is None or release is None:
        watches, glue, release = _adapters(Config.from_env())
    if run_finished.is_watch(event):
        outcome = run_finished.watch(event, watches, glue, release)
    else:
        outcome = run_finished.finished(event, watches, release)
    if outcome.released:
        metrics.add_metric(name="RunWaitsReleased", unit=MetricUnit.Count, value=1)
    logger.info("run end", extra=outcome.to_json())
    return outcome.to_json()
