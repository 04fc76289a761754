"""The AuditWriter over moto S3: the stream batch becomes the audit objects, failures are retried."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from fakes import EVENTS_DIR, REGION
from moto import mock_aws
from selfheal_core.adapters.audit import S3AuditSink

BUCKET = "selfheal-audit"


@pytest.fixture
def sample() -> dict[str, Any]:
    return json.loads((EVENTS_DIR / "functions" / "audit_writer.json").read_text())


@mock_aws
def test_each_new_event_becomes_its_audit_object(load_handler: Any, lambda_context: Any, sample: Any) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    result = load_handler("audit_writer")(sample, lambda_context, sink=S3AuditSink(BUCKET, s3))
    assert result == {"batchItemFailures": []}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["incidents/inc-84492ab3fbb898ce/000000-opened.json"]
    body = json.loads(s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    assert body["type"] == "opened" and body["data"]["job_name"] == "orders-etl"


@mock_aws
def test_a_missing_bucket_reports_the_batch_for_a_retry(
    load_handler: Any, lambda_context: Any, sample: Any
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    result = load_handler("audit_writer")(sample, lambda_context, sink=S3AuditSink("no-such-bucket", s3))
    assert result == {
        "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in sample["Records"]]
    }
