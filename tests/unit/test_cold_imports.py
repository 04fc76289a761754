"""numpy is loaded only where it is used: Propose and Learn compute with the Q-table; the other functions'
cold starts never import it. The X-Ray SDK is loaded only when the stack traces AWS calls (TraceAwsCalls=on):
it creates botocore clients as it is imported (issue 11: cold import <= 0.5 s each;
benchmarks/bench_cold_import.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
USES_NUMPY = {"propose", "learn"}

PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
print(json.dumps({"numpy": "numpy" in sys.modules, "xray": "aws_xray_sdk.core" in sys.modules}))
"""


def cold_import(function: str, tracing: bool = False) -> dict[str, bool]:
    """Import ``functions/<function>/app.py`` as Lambda does (its directory and the layer on the path) in a
    fresh interpreter, and say what it loaded."""
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / function), str(ROOT / "shared")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    loaded: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_every_state_is_probed() -> None:
    assert {"diagnose", "safety_gate", "execute", "validate", "escalate", "propose", "learn"} <= set(
        FUNCTIONS
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_numpy_is_imported_only_by_the_functions_that_learn_or_propose(function: str) -> None:
    loaded = cold_import(function)
    assert loaded["numpy"] is (function in USES_NUMPY)
    assert loaded["xray"] is False


@pytest.mark.parametrize("function", ["diagnose", "run_finished"])
def test_the_xray_sdk_is_loaded_when_tracing_is_on(function: str) -> None:
    assert cold_import(function, tracing=True)["xray"] is True


def test_the_ports_and_adapters_import_without_numpy() -> None:
    modules = [
        "selfheal_core.ports",
        "selfheal_core.domain.learning",
        "selfheal_core.domain.decisions",
        "selfheal_core.adapters.memory",
        "selfheal_core.adapters.sqlite_store",
        "selfheal_core.adapters.dynamodb_store",
        "selfheal_core.runtime.config",
        "selfheal_core.runtime.wiring",
        "selfheal_core.steps.safety_gate",
        "selfheal_core.steps.escalate",
    ]
    probe = f"import sys; sys.path.insert(0, {str(ROOT / 'shared')!r})\n"
    probe += "".join(f"import {m}\n" for m in modules)
    probe += "print('numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("value", "enabled"), [(None, True), ("false", True), ("true", False), ("TRUE", False), ("1", False)]
)
def test_tracing_follows_the_powertools_variable(value: str | None, enabled: bool) -> None:
    from selfheal_core.runtime.observability import tracing_enabled

    env = {} if value is None else {"POWERTOOLS_TRACE_DISABLED": value}
    assert tracing_enabled(env) is enabled
