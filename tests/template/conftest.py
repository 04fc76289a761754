"""Shared fixtures of the SAM template tests: the repo root, the parsed template and the ASL."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]


def load_invoke_built() -> ModuleType:
    """scripts/invoke_built.py as a module (it is a script, not part of a package)."""
    return load_script("scripts/invoke_built.py")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def invoke_built() -> ModuleType:
    return load_invoke_built()


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = load_invoke_built().load_template(ROOT / "template.yaml")
    return loaded


@pytest.fixture(scope="session")
def asl_text() -> str:
    return (ROOT / "statemachine" / "incident.asl.json").read_text()


@pytest.fixture(scope="session")
def asl(asl_text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(asl_text)
    return loaded
