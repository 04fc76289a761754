"""Shared fixtures of the SAM template tests: the repo root, the parsed template and the ASL."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_invoke_built() -> ModuleType:
    """scripts/invoke_built.py as a module (it is a script, not part of a package)."""
    name = "selfheal_invoke_built"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "invoke_built.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


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
