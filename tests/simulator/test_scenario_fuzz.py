"""Scenario files made hostile (benchmarks/scenario_fuzz.py): every mutated file is either rejected in
one clear line or runs to one JSON object of finite numbers; the README's figure comes from the same
code with more cases."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]


def _fuzzer() -> ModuleType:
    return load_script("benchmarks/scenario_fuzz.py")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))


def test_mutated_scenarios_never_escape_as_a_traceback(tmp_path: Path) -> None:
    result = _fuzzer().fuzz(40, 3, "inprocess", tmp_path / "kept")
    assert result["failed"] == 0, result["failures"]
    assert result["rejected"] + result["ran"] == 40
    assert result["rejected"] > 0 and result["ran"] > 0  # both paths were exercised


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_attempts", 10**8), ("backoff_minutes", 1e308), ("incidents", 10**8), ("seed", -5)],
)
def test_the_values_that_once_hung_or_crashed_are_handled(tmp_path: Path, key: str, value: object) -> None:
    fuzzer = _fuzzer()
    document = json.loads((ROOT / "src/selfheal/scenarios/default.json").read_text())
    document[key] = value
    path = tmp_path / "case.json"
    path.write_text(json.dumps(document))
    outcome, detail = fuzzer.run_case(path, 5, "inprocess", tmp_path / "report")
    assert outcome == ("ran" if key == "seed" else "rejected"), detail


def test_a_run_printing_infinity_fails_the_check(tmp_path: Path) -> None:
    """The check itself can fail: a figure of Infinity is not JSON."""
    fuzzer = _fuzzer()
    with pytest.raises(ValueError, match="Infinity"):
        json.loads('{"mttr_minutes": Infinity}', parse_constant=fuzzer._reject_constant)
    mutated = fuzzer.mutate({"a": {"b": [1, 2]}}, random.Random(0))
    assert mutated != {"a": {"b": [1, 2]}}
