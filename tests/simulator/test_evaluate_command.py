"""``selfheal evaluate --json`` prints exactly the spec's object; bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from selfheal.commands import evaluate as evaluate_command
from selfheal.commands import qtable as qtable_command
from selfheal.commands import train as train_command

M_KEYS = {
    "automated_resolution": float,
    "non_escalation": float,
    "mttr_minutes": float,
    "p50_minutes": float,
    "p90_minutes": float,
    "mttr_auto_minutes": (float, type(None)),
    "harmful_actions": int,
    "blocked_by_safety": int,
    "wasted_runs": int,
    "human_hours": float,
    "actions_per_incident": float,
    "assisted_resolution": float,
}
POLICIES = {
    "manual",
    "glue_retries",
    "backoff_retries",
    "rules",
    "learned",
    "learned_final",
    "rules_final",
    "oracle",
    "oracle_final",
}


def main(argv: list[str]) -> int:
    """The CLI's main, with only this issue's commands registered."""
    from selfheal import cli

    parser = argparse.ArgumentParser(prog="selfheal")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (evaluate_command, train_command, qtable_command):
        module.register(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except cli.UsageError as error:
        print(f"selfheal {args.command}: error: {error}", file=__import__("sys").stderr)
        return 2


SCENARIO = {
    "name": "tiny",
    "jobs": [{"name": "a", "tables": ["db.t"]}, {"name": "b", "criticality": "critical"}],
    "modes": [
        {"category": "throttling", "weight": 2, "fix": {"backoff_retry": 0.9}},
        {"category": "permission", "weight": 1},
        {
            "category": "schema_drift",
            "weight": 1,
            "jobs": ["a"],
            "drift": "column_removed",
            "fix": {"rollback": 0.9},
        },
    ],
}


def test_json_output_is_exactly_the_spec(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SCENARIO))
    assert main(["evaluate", "--scenario", str(path), "--incidents", "300", "--seed", "7", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == {"scenario", "incidents", "seed", "policies"}
    assert (data["scenario"], data["incidents"], data["seed"]) == ("tiny", 300, 7)
    assert set(data["policies"]) == POLICIES
    for name, m in data["policies"].items():
        assert set(m) == set(M_KEYS), name
        for key, kind in M_KEYS.items():
            assert isinstance(m[key], kind), (name, key)
        assert 0 <= m["automated_resolution"] <= m["non_escalation"] <= 1
        assert m["p50_minutes"] <= m["p90_minutes"]
    assert data["policies"]["manual"]["automated_resolution"] == 0
    assert data["policies"]["manual"]["mttr_auto_minutes"] is None
    assert data["policies"]["learned"]["harmful_actions"] == 0
    assert all(m["assisted_resolution"] == 0 for m in data["policies"].values())  # no approvals


def test_file_defaults_apply_when_flags_are_absent(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({**SCENARIO, "incidents": 120, "seed": 5}))
    assert main(["evaluate", "--scenario", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["incidents"], data["seed"]) == (120, 5)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({**SCENARIO, "jobs": "a"}, "jobs: expected a list"),
        ({**SCENARIO, "extra": 1}, "extra: unknown key"),
        ("[", "not valid JSON"),
    ],
)
def test_bad_scenarios_are_one_line_and_exit_2(
    tmp_path: Path, capsys: Any, document: Any, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    assert main(["evaluate", "--scenario", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_human_report_train_and_qtable(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SCENARIO))
    assert main(["evaluate", "--scenario", str(path), "--incidents", "200"]) == 0
    report = tmp_path / "home" / "reports" / "tiny"
    assert {"index.html", "learning_curve.png", "comparison.png"} <= {p.name for p in report.iterdir()}
    assert "learning_curve.png" in (report / "index.html").read_text()
    assert main(["train", "--scenario", str(path), "--incidents", "200"]) == 0
    assert (tmp_path / "home" / "qtable.json").exists()
    capsys.readouterr()
    assert main(["qtable", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and all(r["picks"] in r["values"] for r in rows)
    assert any(r["state"].startswith("permission|") and r["picks"] == "escalate" for r in rows)
    assert main(["qtable", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("incidents", ["0", "1000001", "many"])
def test_incidents_out_of_bounds_are_a_usage_error(capsys: Any, incidents: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--scenario", "default", "--incidents", incidents])
    assert exit_.value.code == 2
    assert "--incidents" in capsys.readouterr().err
