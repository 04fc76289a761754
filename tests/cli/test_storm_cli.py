"""``selfheal storm``: one JSON object with the documented keys, and storm control's invariants, on the real
state machine; plus storms the design did not aim at (two sources down, a source that outlasts the probe,
storm control off). Figures are checked as invariants, never as timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.commands.storm import KEYS
from selfheal.local.storm import Source, StormScenario, run_storm

pytestmark = pytest.mark.slow

SOURCE_A = Source(
    "s3://lake-a/orders", "AnalysisException: Path does not exist: s3://lake-a/orders/dt=1", 30.0
)
# A reset connection reads as a network blip (transient_network); a refused one would not (the classifier
# labels "Connection refused" unknown: nothing listens, a retry does not start the server).
SOURCE_B = Source(
    "jdbc:postgresql://crm-db:5432", "Connection reset by peer jdbc:postgresql://crm-db:5432/crm", 5.0
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_storm_json_is_one_object_with_the_documented_keys_and_holds_its_invariants(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["storm", "--incidents", "40", "--jobs", "8", "--json"]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out)  # exactly one object: anything else on stdout fails to parse
    assert list(figures) == [*KEYS, "details"]
    assert figures["incidents"] == 40
    assert figures["groups"] == 1  # one shared source, one window
    assert figures["notifications"] <= 1
    assert figures["duplicate_remediations"] == 0
    assert figures["lost_q_updates"] == 0
    assert (
        figures["details"]["glue_runs_before_recovery"] <= 3
    )  # only the probe acts while the source is down
    assert figures["glue_runs_started"] == figures["details"]["start_job_run_calls"]
    assert figures["details"]["executions"] == {"SUCCEEDED": 40}
    assert figures["details"]["outcomes"] == {
        "resolved": 40
    }  # the source came back: every incident followed the probe


def test_storm_control_off_is_the_before_figure(capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_storm(StormScenario(incidents=8, jobs=4, storm_control=False, sources=(SOURCE_A,)))
    # Every incident tries on its own while the source is down.
    assert figures["groups"] == 0
    assert figures["details"]["glue_runs_before_recovery"] >= 8
    assert figures["wasted_runs"] >= 8


def test_two_sources_down_make_two_groups_each_probed_once() -> None:
    # B's error reads as a network blip: its probe retries at once, three times within B's 5 minutes down,
    # and escalates; B's followers join that one message. A's probe backs off past A's 30 minutes.
    figures = run_storm(StormScenario(incidents=12, jobs=4, sources=(SOURCE_A, SOURCE_B)))
    assert figures["groups"] == 2
    assert figures["duplicate_remediations"] == 0 and figures["lost_q_updates"] == 0
    assert figures["notifications"] == 1
    assert figures["details"]["outcomes"] == {"escalated": 6, "resolved": 6}
    assert figures["wasted_runs"] == 4  # A's probe once, B's probe three times


def test_a_source_down_longer_than_the_probe_tries_escalates_the_group_once() -> None:
    long = Source("s3://lake-a/orders", SOURCE_A.message, 240.0)
    figures = run_storm(StormScenario(incidents=8, jobs=4, sources=(long,)))
    assert figures["notifications"] == 1
    assert figures["glue_runs_started"] == 3  # the probe's attempts, nobody else's
    assert figures["details"]["outcomes"] == {"escalated": 8}
    assert figures["lost_q_updates"] == 0 and figures["duplicate_remediations"] == 0


@pytest.mark.parametrize(("flag", "value"), [("--incidents", "5001"), ("--jobs", "100000000")])
def test_a_storm_too_large_to_run_is_a_clear_error(
    home: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["storm", flag, value, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "at most 5000" in captured.err
