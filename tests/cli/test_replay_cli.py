"""``selfheal replay`` and ``selfheal demo`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.local.replay import PROJECT_EVENTS

pytestmark = pytest.mark.slow

REPLAY_KEYS = [
    "incident_id",
    "job_name",
    "job_run_id",
    "category",
    "confidence",
    "drift",
    "proposed_action",
    "final_action",
    "safety_rules",
    "outcome",
    "path",
    "status",
    "glue_runs_started",
    "catalog_updates",
    "notifications",
]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_replay_json_prints_exactly_one_documented_object(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["replay", str(PROJECT_EVENTS / "glue" / "schema_drift.json"), "--json", "--outcome", "success"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert list(result) == REPLAY_KEYS
    assert result["category"] == "schema_drift"
    assert result["drift"] is True
    assert result["outcome"] == "resolved"
    assert result["status"] == "SUCCEEDED"
    assert result["path"][0] == "Diagnose"
    assert (result["glue_runs_started"], result["catalog_updates"], result["notifications"]) == (1, 1, 0)


def test_replaying_the_same_event_twice_reports_a_duplicate(capsys: pytest.CaptureFixture[str]) -> None:
    event = str(PROJECT_EVENTS / "glue" / "permission.json")
    assert main(["replay", event, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["replay", event, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["outcome"] == "escalated"
    assert second["outcome"] == "duplicate"
    assert second["incident_id"] == first["incident_id"]


def test_human_output_lists_the_states_and_their_decisions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(PROJECT_EVENTS / "glue" / "data_quality.json"), "--outcome", "success"]) == 0
    out = capsys.readouterr().out
    for state in ("Diagnose", "Propose", "SafetyGate", "Execute", "Validate", "Learn"):
        assert state in out
    assert "quarantine" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        (
            '{"source": "aws.glue", "detail-type": "Glue Job State Change", "detail": {"jobName": "j"}}',
            "jobRunId",
        ),
        (
            '{"source": "aws.glue", "detail-type": "Glue Job State Change",'
            ' "detail": {"jobName": "j", "jobRunId": "jr_1", "state": "SUCCEEDED"}}',
            "state",
        ),
        ("[1, 2]", "not a Glue failure event"),
    ],
)
def test_a_malformed_event_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(content)
    code = main(["replay", str(path), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_a_missing_event_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "does/not/exist.json"]) == 2
    assert "cannot read does/not/exist.json" in capsys.readouterr().err


def test_demo_replays_every_sample_and_shows_the_duplicate(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    samples = sorted(p.stem for p in (PROJECT_EVENTS / "glue").glob("*.json"))
    for sample in samples:
        assert sample in out
    assert "duplicate" in out
    assert (home / "demo" / "selfheal.sqlite3").exists()


def test_replay_injects_faults_and_counts_what_reached_aws(capsys: pytest.CaptureFixture[str]) -> None:
    event = str(PROJECT_EVENTS / "glue" / "permission.json")
    assert (
        main(["replay", event, "--json", "--inject", "sns:Publish=Throttled", "--inject", "lost:Learn"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "escalated" and result["notifications"] == 1
    assert result["faults"] == {"sns:Publish=Throttled": 1, "lost:Learn": 1}


def test_a_bad_fault_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    event = str(PROJECT_EVENTS / "glue" / "permission.json")
    assert main(["replay", event, "--inject", "lost:Nowhere"]) == 2
    assert "lost: takes a Lambda Task" in capsys.readouterr().err
