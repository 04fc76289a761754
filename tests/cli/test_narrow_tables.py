"""Tables stay readable on an 80-column terminal: key words are never cut, missing values are a dash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from selfheal.cli import main

SCENARIO = {
    "name": "tiny",
    "jobs": [{"name": "a", "tables": ["db.t"]}, {"name": "b", "criticality": "critical"}],
    "modes": [
        {"category": "throttling", "weight": 2, "fix": {"backoff_retry": 0.9}},
        {"category": "resource_exhaustion", "weight": 1, "fix": {"backoff_retry": 0.6}},
        {"category": "permission", "weight": 1},
    ],
}
ROW_NAMES = [
    "manual",
    "glue_retries",
    "backoff_retries",
    "rules",
    "learned",
    "learned_final",
    "rules_final",
    "oracle",
    "oracle_final",
    "oracle_gated",
    "oracle_gated_final",
]


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SCENARIO))
    return path


def _assert_fits(out: str, width: int = 80) -> None:
    assert [line for line in out.splitlines() if len(line) > width] == []
    assert "…" not in out  # rich's ellipsis: something was truncated


def test_evaluate_tables_fit_80_columns_with_every_row_and_explicit_units(
    narrow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--scenario", str(narrow), "--incidents", "200", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    _assert_fits(out)
    lines = out.splitlines()
    for name in ROW_NAMES:
        assert sum(1 for line in lines if line.split()[:1] == [name]) == 2, name  # one row per table
    for unit in ("(%)", "(h)", "(min)"):
        assert unit in out
    assert "e+0" not in out and "None" not in out


def test_evaluate_uses_one_table_when_the_terminal_is_wide(
    narrow: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["evaluate", "--scenario", str(narrow), "--incidents", "200"]) == 0
    out = capsys.readouterr().out
    assert sum(1 for line in out.splitlines() if line.split()[:1] == ["learned"]) == 1
    assert "MTTR (h)" in out and "MTTR auto (min)" in out


def test_unknown_scenario_lists_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for name in ("default", "job_specific", "changing_remedy", "traps"):
        assert name in err


def test_qtable_fits_80_columns_with_full_action_names(
    narrow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--scenario", str(narrow), "--incidents", "200"]) == 0
    capsys.readouterr()
    assert main(["qtable"]) == 0
    out = capsys.readouterr().out
    _assert_fits(out)
    assert "backoff_retry" in out and "escalate" in out


def test_demo_summary_table_keeps_category_action_and_outcome_whole_at_80_columns() -> None:
    from selfheal.local.render import summary_table

    rows: list[dict[str, Any]] = [
        {
            "event": "resource_exhaustion",
            "job_name": "orders-ingest-hourly",
            "category": "resource_exhaustion",
            "drift": False,
            "proposed_action": "backoff_retry",
            "final_action": "backoff_retry",
            "safety_rules": [],
            "outcome": "resolved",
        },
        {
            "event": "type_mismatch",
            "job_name": "finance-ledger-daily",
            "category": "type_mismatch",
            "drift": True,
            "proposed_action": "rollback",
            "final_action": "escalate",
            "safety_rules": ["critical_job_low_risk_only"],
            "outcome": "escalated",
        },
        {
            "event": "code_error (again)",
            "job_name": "clickstream-sessionize",
            "category": "code_error",
            "drift": False,
            "proposed_action": None,
            "final_action": None,
            "safety_rules": [],
            "outcome": "duplicate",
        },
    ]
    console = Console(width=80, record=True, color_system=None)
    console.print(summary_table(rows, width=console.width))
    out = console.export_text()
    _assert_fits(out)
    for word in (
        "resource_exhaustion",
        "backoff_retry",
        "type_mismatch",
        "rollback",
        "escalated",
        "duplicate",
    ):
        assert word in out, word
    assert "None" not in out
    duplicate_line = next(line for line in out.splitlines() if "duplicate" in line)
    assert " - " in duplicate_line  # no action: a dash

    wide = Console(width=200, record=True, color_system=None)
    wide.print(summary_table(rows, width=wide.width))
    assert "orders-ingest-hourly" in wide.export_text()  # every column when it fits
