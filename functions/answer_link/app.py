"""Answer link (a Lambda function URL, no IAM auth: the link's HMAC is the credential).

GET shows what the link would do; POST approves or rejects, once (``steps/answer_link.py``).
Integrations: reads the signing key (Secrets Manager), queries the event log, writes the used-links table
and calls SendTaskSuccess. Whatever goes wrong, the answer is an HTML page, never a traceback.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.domain.signed_links import TOKEN_PARAMETER
from selfheal_core.link_ports import LinkDependencies
from selfheal_core.runtime.config import Config
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.runtime.wiring import KEY_MAX_AGE_SECONDS
from selfheal_core.steps import answer_link
from selfheal_core.steps.answer_link import Page

MAX_BODY_BYTES = 16384  # a form with one token; a bigger body is not from our page
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # The token is in the URL: it must not leak to another site through a Referer header.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


@functools.lru_cache(maxsize=1)
def _default_dependencies() -> LinkDependencies:
    from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore
    from selfheal_core.adapters.links import DynamoDbLinkLedger, SecretKey
    from selfheal_core.adapters.stepfunctions import StepFunctionsTasks

    config = Config.from_env()
    return LinkDependencies(
        key=SecretKey(config.link_secret, max_age=KEY_MAX_AGE_SECONDS),
        store=DynamoDbEventStore(config.events_table),
        ledger=DynamoDbLinkLedger(config.answer_links_table),
        answers=StepFunctionsTasks(),
    )


def _response(page: Page) -> dict[str, Any]:
    return {"statusCode": page.status, "headers": dict(HEADERS), "body": answer_link.render(page)}


def _form_token(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if not isinstance(body, str) or len(body) > MAX_BODY_BYTES:
        return ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
    return (parse_qs(body).get(TOKEN_PARAMETER) or [""])[0]


def _query_token(event: dict[str, Any]) -> str:
    query = event.get("queryStringParameters") or {}
    token = query.get(TOKEN_PARAMETER) if isinstance(query, dict) else None
    return token if isinstance(token, str) else ""


def _http(event: dict[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    return http if isinstance(http, dict) else {}


def _source(event: dict[str, Any]) -> str:
    return f"link from {_http(event).get('sourceIp', 'unknown')}"


@instrumented(correlation_id_path="requestContext.requestId")
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: LinkDependencies | None = None
) -> dict[str, Any]:
    now = datetime.now(UTC)
    method = str(_http(event).get("method", "GET")).upper()
    try:
        deps = deps or _default_dependencies()
        if method == "GET":
            page = answer_link.confirm(_query_token(event), deps.key(), deps.store, now)
        elif method == "POST":
            page = answer_link.answer(
                _form_token(event),
                deps.key(),
                deps.store,
                deps.ledger,
                deps.answers,
                now,
                by=_source(event),
                on_error=lambda error: logger.exception("answer not delivered", exc_info=error),
            )
        else:
            page = Page(405, "Not allowed", ("Open the link from the message.",))
    except Exception:
        # The person clicking gets a page, the log gets the error (redacted); never a traceback in HTML.
        logger.exception("answer link failed")
        page = Page(500, "Something went wrong", ("selfheal could not check this link; try again later.",))
    metrics.add_metric(name="AnswerLinkRequests", unit=MetricUnit.Count, value=1)
    logger.info("answer link", extra={"method": method[:10], "status": page.status})
    return _response(page)
