"""The read adapters against moto: catalog drift of every kind, and bounded multi-stream log reads."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from selfheal_core.adapters.cloudwatch_logs import CONTINUOUS_GROUP, ERROR_GROUP, CloudWatchLogReader
from selfheal_core.adapters.glue import GlueAdapter
from selfheal_core.domain.drift import detect_drift

BASE = [
    ("order_id", "bigint"),
    ("customer_email", "string"),
    ("amount", "decimal(18,2)"),
    ("ts", "timestamp"),
]


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def _table(
    name: str, columns: list[tuple[str, str]], partitions: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": "s3://b/t/",
        },
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in (partitions or [("dt", "string")])],
    }


CHANGES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]] | None]] = {
    "column_removed": ([c for c in BASE if c[0] != "customer_email"], None),
    "column_renamed": (
        [("order_id", "bigint"), ("email", "string"), ("amount", "decimal(18,2)"), ("ts", "timestamp")],
        None,
    ),
    "type_changed": (
        [("order_id", "bigint"), ("customer_email", "string"), ("amount", "double"), ("ts", "timestamp")],
        None,
    ),
    "column_added": ([*BASE, ("channel", "string")], None),
    "partition_keys_changed": (BASE, [("dt", "string"), ("hour", "string")]),
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_every_drift_kind_is_found_in_a_moto_catalog_history(aws: None, kind: str) -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "sales"})
    glue.create_table(DatabaseName="sales", TableInput=_table("orders", BASE))
    columns, partitions = CHANGES[kind]
    glue.update_table(DatabaseName="sales", TableInput=_table("orders", columns, partitions))

    versions = GlueAdapter(client=glue).table_versions("sales", "orders")
    report = detect_drift("sales.orders", versions)

    assert report.kinds == (kind,)
    assert (report.baseline_version, report.current_version) == ("1", "2")
    assert report.breaking is (kind != "column_added")
    if kind == "column_renamed":
        assert report.renamed == (("customer_email", "email"),)
    if kind == "type_changed":
        assert report.type_changed == (("amount", "decimal(18,2)", "double"),)


def test_a_rollback_restores_the_baseline_and_the_drift_is_gone(aws: None) -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "sales"})
    glue.create_table(DatabaseName="sales", TableInput=_table("orders", BASE))
    glue.update_table(DatabaseName="sales", TableInput=_table("orders", CHANGES["type_changed"][0]))
    adapter = GlueAdapter(client=glue)

    adapter.restore_table_version("sales", "orders", "1")

    versions = adapter.table_versions("sales", "orders")
    assert len(versions) == 3  # the rollback is itself a new version: it can be undone
    current = max(versions, key=lambda v: int(v.version_id))
    baseline = next(v for v in versions if v.version_id == "1")
    assert not detect_drift("sales.orders", [baseline, current]).drifted


def _put(logs: Any, group: str, stream: str, lines: list[str]) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(lines)],
    )


def test_logs_are_read_from_the_error_stream_continuous_logs_and_insights(aws: None) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    _put(
        logs,
        ERROR_GROUP,
        "jr_1",
        ["Traceback (most recent call last):", "NameError: name 'x' is not defined"],
    )
    _put(
        logs,
        CONTINUOUS_GROUP,
        "jr_1-job-insights-rca-driver",
        ["Root Cause: name 'x' is not defined", "Recommended Action: define x"],
    )
    _put(logs, CONTINUOUS_GROUP, "jr_2", ["another run's log"])

    read = CloudWatchLogReader(client=logs).read_run_logs("jr_1")

    assert read.sources == (f"{ERROR_GROUP}:jr_1", f"{CONTINUOUS_GROUP}:jr_1-job-insights-rca-driver")
    assert "NameError" in read.text and "Recommended Action: define x" in read.text
    assert "another run" not in read.text
    assert any("/aws-glue/jobs/output does not exist" in note for note in read.notes)


def test_a_missing_log_is_a_note_not_an_error(aws: None) -> None:
    read = CloudWatchLogReader(client=boto3.client("logs", region_name="us-east-1")).read_run_logs("jr_none")
    assert read.text == "" and read.sources == ()
    assert any("no CloudWatch log found for run jr_none" in note for note in read.notes)


def test_an_oversized_log_is_cut_at_the_size_bound(aws: None) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    _put(logs, ERROR_GROUP, "jr_big", [f"line {i} " + "x" * 1000 for i in range(3000)])

    read = CloudWatchLogReader(client=logs, max_bytes=200_000).read_run_logs("jr_big")

    assert read.truncated is True
    assert 150_000 < len(read.text) <= 200_000
    assert any("size or time bound" in note for note in read.notes)


def test_a_job_with_a_security_configuration_is_read_from_its_own_log_groups(aws: None) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    prefix = "/aws-glue/jobs-GlueRole-kms-logs"
    _put(logs, f"{prefix}/error", "jr_sec", ["java.nio.file.AccessDeniedException: s3://finance/ledger"])
    _put(logs, "/custom/continuous", "jr_sec", ["continuous log line"])

    read = CloudWatchLogReader(client=logs).read_run_logs("jr_sec", prefix, "/custom/continuous")

    assert read.sources == (f"{prefix}/error:jr_sec", "/custom/continuous:jr_sec")
    assert "AccessDeniedException" in read.text


def test_the_glue_adapter_reads_and_passes_back_a_runs_worker_settings(aws: None) -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_job(Name="j", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://s/j.py"})
    first = glue.start_job_run(JobName="j", WorkerType="G.2X", NumberOfWorkers=7, Timeout=90)["JobRunId"]
    adapter = GlueAdapter(client=glue)

    run = adapter.get_job_run("j", first)
    assert run.run_settings == {"Timeout": 90, "WorkerType": "G.2X", "NumberOfWorkers": 7}
    again = adapter.start_job_run("j", {"--x": "1"}, run.run_settings)
    assert adapter.get_job_run("j", again).run_settings == run.run_settings
