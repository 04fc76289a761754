"""The local Glue answers GetJobRuns as Glue does: newest first, so the recent runs are on the first page.

moto lists runs oldest first: past 50 runs of one job (a long ``evaluate --engine stepfunctions`` stream),
Diagnose would have read the oldest 50 for the last success and Execute would not have found the run its
own retried attempt had started.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fakes import ACCOUNT_ID, REGION
from moto import mock_aws

from selfheal.local import patches


@pytest.fixture
def glue(aws_env: None) -> Iterator[Any]:
    patches.apply()
    with mock_aws():
        client = boto3.client("glue", region_name=REGION)
        client.create_job(
            Name="orders",
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/orders.py"},
            ExecutionProperty={"MaxConcurrentRuns": 1000},
        )
        yield client


def _finish_all(glue: Any) -> None:
    for _ in range(3):  # moto moves each run one state on at every read
        glue.get_job_runs(JobName="orders", MaxResults=200)


def test_the_first_page_holds_the_newest_runs(glue: Any) -> None:
    started = [glue.start_job_run(JobName="orders")["JobRunId"] for _ in range(60)]
    _finish_all(glue)
    page = glue.get_job_runs(JobName="orders", MaxResults=50)["JobRuns"]
    assert [run["Id"] for run in page] == list(reversed(started))[:50]


def test_a_job_keeps_its_newest_runs_and_every_run_still_going(glue: Any) -> None:
    from moto.glue.models import glue_backends

    long_run = glue.start_job_run(JobName="orders")["JobRunId"]
    (run,) = glue_backends[ACCOUNT_ID][REGION].jobs["orders"].job_runs
    run.held_state = "RUNNING"  # the local engine holds a simulated run until its runtime is over
    started = [glue.start_job_run(JobName="orders")["JobRunId"] for _ in range(patches.RUN_HISTORY + 20)]
    _finish_all(glue)
    listed = [r["Id"] for r in glue.get_job_runs(JobName="orders", MaxResults=200)["JobRuns"]]
    assert listed == [*reversed(started[-patches.RUN_HISTORY :]), long_run]
    stored = glue_backends[ACCOUNT_ID][REGION].jobs["orders"].job_runs
    assert len(stored) == patches.RUN_HISTORY + 1
    assert stored[0].job_run_id == long_run
    assert [r.job_run_id for r in stored[1:]] == started[-patches.RUN_HISTORY :]
    assert glue.get_job_run(JobName="orders", RunId=long_run)["JobRun"]["JobRunState"] == "RUNNING"


def test_a_job_with_fewer_runs_than_the_history_keeps_them_all(glue: Any) -> None:
    started = [glue.start_job_run(JobName="orders")["JobRunId"] for _ in range(patches.RUN_HISTORY - 5)]
    _finish_all(glue)
    listed = [r["Id"] for r in glue.get_job_runs(JobName="orders", MaxResults=200)["JobRuns"]]
    assert listed == list(reversed(started))
