"""benchmarks/unseen_messages.py builds a valid scenario whose modes draw only labelled messages of their own
category (the measurement of issue 8's misdiagnosis cost depends on it)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

from selfheal.simulator.scenario import parse_scenario, shipped_scenarios_dir

ROOT = Path(__file__).resolve().parents[2]


def _benchmark() -> ModuleType:
    return load_script("benchmarks/unseen_messages.py")


def test_every_mode_draws_the_labelled_messages_of_its_category() -> None:
    scenario = json.loads((shipped_scenarios_dir() / "default.json").read_text(encoding="utf-8"))
    categories = {mode["category"] for mode in scenario["modes"]}
    labelled = [{"category": c, "message": f"{c} message {i}"} for c in sorted(categories) for i in range(2)]
    built = _benchmark().scenario_with_messages(scenario, labelled)
    parsed = parse_scenario(built)
    assert parsed.name == "default_unseen_messages"
    for mode in parsed.modes:
        assert list(mode.messages or ()) == [
            f"{mode.category.value} message 0",
            f"{mode.category.value} message 1",
        ]
    assert [m["weight"] for m in built["modes"]] == [m["weight"] for m in scenario["modes"]]


def test_a_category_without_messages_is_a_clear_error() -> None:
    scenario = json.loads((shipped_scenarios_dir() / "default.json").read_text(encoding="utf-8"))
    with pytest.raises(SystemExit, match="no message of category"):
        _benchmark().scenario_with_messages(
            scenario, [{"category": "throttling", "message": "Rate exceeded"}]
        )
