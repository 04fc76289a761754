"""The handlers' error boundary: an unhandled error that only means "try again" leaves the Lambda as
``TransientDependencyError``, the name every Task's Retry lists.

Adapters translate the errors they know (``adapters/throttling.py``); this catches what they let through:
a read timeout or dropped connection (the call may have succeeded: the retried step finds its effect in the
incident's log, a Glue run by its ``--selfheal-attempt`` marker), a 5xx, or a throttling error wrapped by a
library. Without it such an error reaches Step Functions under its class name (``ReadTimeoutError``), which
no Retry matches, and a remediation that would have succeeded on a retry is escalated instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from selfheal_core.adapters.throttling import transient_from
from selfheal_core.errors import TransientDependencyError

P = ParamSpec("P")
R = TypeVar("R")


def retryable_boundary(handler: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            transient = transient_from(error)
            if transient is None:
                if isinstance(error, TransientDependencyError):
                    _count_transient()
                raise
            _count_transient()
            raise transient from error

    return wrapper


def _count_transient() -> None:
    """Throttled (or briefly failed) AWS calls are retried by the state machine with jitter, and counted
    here (metric ``TransientErrors``) so a storm's throttling is visible, not hidden in the retries."""
    from aws_lambda_powertools.metrics import MetricUnit

    from selfheal_core.runtime.observability import metrics

    metrics.add_metric(name="TransientErrors", unit=MetricUnit.Count, value=1)
