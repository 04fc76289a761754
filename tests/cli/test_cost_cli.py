"""``selfheal cost --json``: one object, the paths before and after, priced from counts the engine made."""

from __future__ import annotations

import json

import pytest

from selfheal.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report() -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cost", "--json"]) == 0
    return json.loads(out.getvalue())


def test_one_object_with_the_paths_months_and_targets(report: dict) -> None:
    assert set(report) == {"prices", "job_minutes", "paths", "per_month", "other_glue_run_ended", "targets"}
    assert set(report["per_month"]) == {"1000", "100000"}
    assert {"resolved_after_one_retry", "escalated_after_three_attempts"} <= set(report["paths"])
    assert report["prices"]["region"] == "us-east-1"


def test_polling_pays_per_minute_of_the_run_and_the_event_path_does_not(report: dict) -> None:
    resolved = report["paths"]["resolved_after_one_retry"]
    before, after = resolved["before"]["usage"], resolved["after"]["usage"]
    # 18 one-minute polls of the run, each a Wait, Validate and Choice, against one wait for the event.
    assert before["invocations"]["Validate"] == 18 and after["invocations"]["Validate"] == 1
    assert before["transitions"] - after["transitions"] >= 3 * 17
    assert after["invocations"]["RunFinished"] == 2  # the watch, then the run's end event
    assert after["calls"]["stepfunctions:SendTaskSuccess"] == 1
    assert resolved["after"]["cost"]["total"] < resolved["before"]["cost"]["total"]


def test_a_bad_job_length_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--job-minutes", "-1"]) == 2
    assert "--job-minutes" in capsys.readouterr().err
