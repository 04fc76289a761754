"""A cause only the facts named never acts alone; with ``approve_causes_from_facts`` a human may approve it
(benchmarks/causes_from_facts.py measures both worlds)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

from selfheal.simulator.engine import InProcessEngine, safety_settings
from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.scenario import parse_scenario, shipped_scenarios_dir

ROOT = Path(__file__).resolve().parents[2]
SILENT = {
    "name": "silent_drift",
    "jobs": [{"name": "orders", "tables": ["sales.orders"]}],
    "modes": [
        {
            "category": "schema_drift",
            "weight": 1,
            "drift": "column_renamed",
            "fix": {"rollback": 0.9},
            "messages": ["An error occurred while calling o98.pyWriteDynamicFrame."],
        }
    ],
    "approvals": {"approve_probability": 1.0},
}


def _run(allowed: bool) -> dict[str, float]:
    scenario = parse_scenario(SILENT)
    settings = replace(safety_settings(scenario), approve_causes_from_facts=allowed)
    evaluation = evaluate(
        scenario, 40, 0, engine=InProcessEngine(scenario, settings), compare_approvals=False
    )
    return evaluation.metrics("rules")


def test_a_silent_log_with_catalog_drift_is_escalated_unless_the_operator_allows_approval() -> None:
    off, on = _run(False), _run(True)
    assert off["automated_resolution"] == 0 and off["assisted_resolution"] == 0
    assert on["automated_resolution"] == 0  # never unattended
    assert on["assisted_resolution"] >= 0.75 and on["harmful_actions"] == 0
    assert on["mttr_minutes"] < off["mttr_minutes"]


def _benchmark() -> ModuleType:
    return load_script("benchmarks/causes_from_facts.py")


@pytest.mark.parametrize("name", ["approvals", "default"])
def test_misleading_facts_come_only_with_the_failures_a_human_handles(name: str) -> None:
    scenario = json.loads((shipped_scenarios_dir() / f"{name}.json").read_text(encoding="utf-8"))
    built = _benchmark().misleading(scenario)
    parse_scenario(built)
    for before, after in zip(scenario["modes"], built["modes"], strict=True):
        if before["category"] in ("permission", "code_error", "unknown"):
            assert after["drift"] == "column_renamed" and after["bad_record_fraction"] == 0.03
            assert {"rollback", "quarantine"} <= set(after["harm"])
        else:
            assert after == before
