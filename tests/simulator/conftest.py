"""Helpers for the simulator tests: a tiny scenario builder and a stub classifier.

The stub reads the category from a ``category: text`` prefix, so the semantics tests do not depend on
how the real classifier words its decisions (its own tests cover that).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from selfheal_core.vocabulary import Category

from selfheal.simulator.scenario import Scenario, parse_scenario


@dataclass(frozen=True)
class StubClassification:
    category: Category
    confidence: float = 1.0
    signature: str | None = "stub"
    evidence: tuple[str, ...] = ()


def stub_classify(text: str) -> StubClassification:
    head = text.split(":", 1)[0].strip()
    try:
        return StubClassification(Category(head))
    except ValueError:
        return StubClassification(Category.UNKNOWN, 0.0, None)


BASE: dict[str, Any] = {
    "name": "t",
    "incidents": 200,
    "jobs": [{"name": "a"}],
    "modes": [{"category": "transient_network", "weight": 1, "messages": ["transient_network: reset"]}],
}


def scenario(**overrides: Any) -> Scenario:
    data = copy.deepcopy(BASE)
    data.update(overrides)
    return parse_scenario(data)


@pytest.fixture
def classify() -> Any:
    return stub_classify


@pytest.fixture
def make_scenario() -> Any:
    return scenario


@pytest.fixture
def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)
