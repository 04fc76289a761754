"""A secret in a Glue error goes through Diagnose and Escalate and is found nowhere selfheal writes.

The handlers run with fakes wired exactly as ``runtime/wiring.build`` wires the real adapters
(``guarded_store`` and ``guarded_notifier``), the audit sink writes files, and the Powertools logger
runs at DEBUG so that every line it would write in Lambda is captured.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeGlue, FakeLogReader, InMemoryEventStore, RecordingNotifier, make_deps
from selfheal_core.adapters.audit import DirectoryAuditSink
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.domain.redaction import MARKER
from selfheal_core.runtime.observability import logger
from selfheal_core.runtime.wiring import guarded_notifier, guarded_store

JDBC_PASSWORD = "S3cr3t!"
PLAIN_PASSWORD = "hunter2"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRETS = (JDBC_PASSWORD, PLAIN_PASSWORD, AWS_SECRET, AWS_KEY_ID[4:])

LEAKY_MESSAGE = (
    "java.net.ConnectException: Connection refused (Connection refused) connecting to "
    f"jdbc:postgresql://etl:{JDBC_PASSWORD}@db:5432/x password={PLAIN_PASSWORD}"
)
LEAKY_LOG = "\n".join(
    [
        "26/11/27 02:14:07 ERROR GlueJob: job failed",
        f"botocore credentials: aws_access_key_id={AWS_KEY_ID} aws_secret_access_key={AWS_SECRET}",
        "Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed for "
        f'user "etl" (jdbc:postgresql://etl:{JDBC_PASSWORD}@db:5432/x)',
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)",
    ]
)
JOB, RUN = "orders-etl", "jr_leaky0001"


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its handler keeps the stdout of import time), at DEBUG."""
    level = logger.log_level
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.setLevel(level)
    handler.setStream(previous)


def _event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0b9a7f2e-1111-4c1e-9a7b-7b8e3d9f6c5e",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": "2026-11-27T02:14:07Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"jobName": JOB, "jobRunId": RUN, "state": "FAILED", "message": LEAKY_MESSAGE},
    }


def test_a_secret_in_the_error_is_nowhere_in_the_log_the_audit_the_message_or_the_logs(
    tmp_path: Path,
    load_handler: Any,
    lambda_context: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    debug_logs: io.StringIO,
) -> None:
    glue = FakeGlue()
    glue.add_job(JOB, tags={"criticality": "high"})
    glue.add_run(JOB, RUN, error_message=LEAKY_MESSAGE)
    inner = InMemoryEventStore()
    notifications = RecordingNotifier()
    deps = make_deps(
        store=guarded_store(inner, DirectoryAuditSink(tmp_path / "audit")),
        notifier=guarded_notifier(notifications),
        glue=glue,
        logs=FakeLogReader({RUN: LEAKY_LOG}),
    )
    caplog.set_level(logging.DEBUG)

    diagnosed = load_handler("diagnose")(
        {"event": _event(), "execution_id": "arn:aws:states:us-east-1:1:execution:sm:x"},
        lambda_context,
        deps=deps,
    )
    escalated = load_handler("escalate")(
        {
            "incident_id": diagnosed["incident_id"],
            "error": {"Error": "ReadError", "Cause": f"could not connect: password={PLAIN_PASSWORD}"},
        },
        lambda_context,
        deps=deps,
    )
    assert diagnosed["incident_id"] == incident_id_for(JOB, RUN)
    assert escalated["incident_id"] == diagnosed["incident_id"]

    stored = json.dumps([r.to_record() for r in inner.load(diagnosed["incident_id"])])
    audit = "\n".join(p.read_text() for p in sorted((tmp_path / "audit").rglob("*.json")))
    sent = json.dumps([[subject, message] for subject, message in notifications.messages])
    captured = capfd.readouterr()
    logged = debug_logs.getvalue() + captured.out + captured.err + caplog.text
    assert len(notifications.messages) == 1
    assert audit.count('"type"') == len(inner.load(diagnosed["incident_id"]))  # every event audited
    assert logged.strip(), "the handlers logged nothing: the log check would be vacuous"
    for where, text in {"event log": stored, "audit": audit, "SNS": sent, "logs": logged}.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into the {where}"
    # The secrets were there to leak: the evidence and the trigger kept their redacted shape.
    assert MARKER in stored and MARKER in audit and MARKER in sent
    assert "jdbc:postgresql://etl:***REDACTED***@db:5432/x" in stored
    evidence = notifications.messages[0][1]["evidence"]
    assert any("ConnectException" in line and MARKER in line for line in evidence), evidence


def test_a_logged_secret_is_redacted_in_message_arguments_extras_and_exceptions(
    debug_logs: io.StringIO,
) -> None:
    logger.info(
        "connecting with %s",
        f"password={PLAIN_PASSWORD}",
        extra={"cause": f"jdbc:postgresql://etl:{JDBC_PASSWORD}@db/x", "settings": {"api_key": "k-123456"}},
    )
    try:
        raise RuntimeError(f"aws_secret_access_key={AWS_SECRET}")
    except RuntimeError:
        logger.exception(f"failed with password={PLAIN_PASSWORD}")
    out = debug_logs.getvalue()
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert len(lines) == 2
    for secret in (*SECRETS, "k-123456"):
        assert secret not in out
    assert lines[0]["settings"] == {"api_key": MARKER}
    assert lines[1]["exception_name"] == "RuntimeError"
    assert "aws_secret_access_key=***REDACTED***" in lines[1]["exception"]
