"""One Logger, Tracer and Metrics for every handler, and the decorator stack they all wear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Selfheal")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Logger with the incident as correlation id, Tracer, and Metrics flushed after each invocation."""

    def wrap(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(metrics.log_metrics(handler), capture_response=False)
        wrapped = logger.inject_lambda_context(
            traced, correlation_id_path=correlation_id_path, clear_state=True
        )
        return wrapped  # type: ignore[return-value]

    return wrap
