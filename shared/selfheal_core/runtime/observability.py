"""One Logger, Tracer and Metrics for every handler, and the decorator stack they all wear.

The Tracer exists only when tracing is on (``POWERTOOLS_TRACE_DISABLED`` not true; the stack's
``TraceAwsCalls`` parameter): the X-Ray SDK creates two botocore clients as it is imported, a third of a
cold start, and a disabled Tracer would still import it.

Every record the Powertools logger writes passes ``RedactingFilter`` first: its message, its
arguments, every extra field (``extra={...}``) and its exception text are redacted
(``domain/redaction.py``), cleaned of NUL and lone surrogates and capped, so what the handlers log can
carry no more secrets than what they store.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from selfheal_core.domain.bounds import cap_text, clean_text
from selfheal_core.domain.redaction import redact, redact_json

MAX_LOGGED_CHARS = 16384  # per message or field: a log line is for finding the incident, not the log

Handler = TypeVar("Handler", bound=Callable[..., Any])
# Attributes a LogRecord always has; anything else on it came from ``extra=``.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | frozenset(RESERVED_LOG_ATTRS)


def safe_log_text(text: str) -> str:
    """Redacted, cleaned and capped; capped generously first so a huge value costs little to redact."""
    return cap_text(redact(cap_text(clean_text(text), 8 * MAX_LOGGED_CHARS)), MAX_LOGGED_CHARS)


def _safe_value(value: object) -> object:
    if isinstance(value, str):
        return safe_log_text(value)
    if isinstance(value, dict | list | tuple):
        return _capped(redact_json(value))
    return value


def _capped(value: object) -> object:
    if isinstance(value, str):
        return cap_text(clean_text(value), MAX_LOGGED_CHARS)
    if isinstance(value, dict):
        return {key: _capped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_capped(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Redacts a record in place (never drops it): message and arguments, extra fields, exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = f"{record.msg} {record.args!r}"
            record.args = None
        record.msg = _safe_value(record.msg)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                setattr(record, name, _safe_value(value))
        if isinstance(record.exc_info, tuple) and record.exc_info[0] is not None:
            exc_type, exc_value, exc_tb = record.exc_info
            text = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
            # Powertools prefers these extra keys to formatting exc_info itself, which would print the
            # exception's (unredacted) message; the traceback frames hold code, not data.
            record.exception = safe_log_text(text.rstrip("\n"))
            record.exception_name = exc_type.__name__
            record.exc_info = None
            record.exc_text = None
        return True


def tracing_enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in ("true", "1")


# A step that ends early (a duplicate, a refused input) has no metric to publish: not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics(namespace="Selfheal")
REDACTING_FILTER = RedactingFilter()
logger.registered_handler.addFilter(REDACTING_FILTER)


def _metrics_flushed(handler: Handler) -> Handler:
    logged = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return logged(*args, **kwargs)
        finally:
            # Disabled, Powertools neither prints nor clears the set, and prints it anyway once a metric
            # reaches 100 values: on the local engine that was a JSON blob in the middle of the output.
            if is_metrics_disabled():
                metrics.clear_metrics()

    return run  # type: ignore[return-value]


def instrumented(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Logger with the incident as correlation id, Tracer, and Metrics flushed after each invocation."""

    def wrap(handler: Handler) -> Handler:
        traced: Callable[..., Any] = _metrics_flushed(handler)
        if tracing_enabled():
            from aws_lambda_powertools import Tracer

            traced = Tracer().capture_lambda_handler(traced, capture_response=False)
        wrapped = logger.inject_lambda_context(
            traced, correlation_id_path=correlation_id_path, clear_state=True
        )
        return cast(Handler, wrapped)

    return wrap
