"""AuditWriter (DynamoDB stream of the events table): every new incident event becomes an S3 object.

Off the incident path: an S3 outage delays the audit trail (the stream holds records for 24 h and
Lambda retries from the first failed one) instead of failing a remediation.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from selfheal_core.adapters.audit import S3AuditSink
from selfheal_core.ports import AuditSink
from selfheal_core.runtime.observability import instrumented, logger, metrics
from selfheal_core.steps import audit_stream


@instrumented(correlation_id_path="Records[0].dynamodb.NewImage.incident_id.S")
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, sink: AuditSink | None = None
) -> dict[str, list[dict[str, str]]]:
    sink = sink or S3AuditSink(os.environ["AUDIT_BUCKET"])
    unreadable: list[str] = []

    def report(sequence: str, why: str) -> None:
        unreadable.append(sequence)
        logger.error("stream record is not an incident event", extra={"sequence": sequence, "why": why})

    result = audit_stream.run(event.get("Records", []), sink, on_unreadable=report)
    metrics.add_metric(name="AuditRecordsUnreadable", unit=MetricUnit.Count, value=len(unreadable))
    metrics.add_metric(
        name="AuditWritesRetried", unit=MetricUnit.Count, value=len(result["batchItemFailures"])
    )
    return result
