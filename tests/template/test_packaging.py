"""`sam build` packages what the handlers need, for the architecture they run on.

One build of template.yaml as it is (arm64) proves the layer's compiled files are aarch64 manylinux2014
wheels with the package's JSON data files; since those cannot be imported on an x86_64 host, a second
build of the same template for the host's architecture runs the handlers, with nothing but the standard
library, the built function dir and the built layer on sys.path (as on Lambda).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FUNCTIONS = {
    "DiagnoseFunction": "diagnose",
    "ProposeFunction": "propose",
    "SafetyGateFunction": "safety_gate",
    "ExecuteFunction": "execute",
    "ValidateFunction": "validate",
    "EscalateFunction": "escalate",
    "LearnFunction": "learn",
}
LAMBDA_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
# Lambda's python3.11 runtime is Amazon Linux 2: glibc 2.26.
MAX_GLIBC = (2, 26)

INVALID_DIAGNOSE_EVENT = {"event": {"source": "aws.glue", "detail": {}}, "execution_id": "x"}


def _env() -> dict[str, str]:
    return {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}


def _start_build(template: Path, build_dir: Path) -> subprocess.Popen[str]:
    command = [
        str(BIN / "sam"),
        "build",
        "--template-file",
        str(template),
        "--build-dir",
        str(build_dir),
        "--base-dir",
        str(ROOT),
        "--no-cached",
        "--parallel",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, template: dict[str, Any]) -> dict[str, Any]:
    if not (BIN / "sam").exists():
        pytest.skip("aws-sam-cli is not installed in the venv")
    root = tmp_path_factory.mktemp("sam")
    target = template["Globals"]["Function"]["Architectures"][0]
    host = LAMBDA_ARCH[platform.machine().lower()]
    templates = {target: ROOT / "template.yaml"}
    if host != target:
        variant = root / "variant" / "template.yaml"
        variant.parent.mkdir()
        text = (ROOT / "template.yaml").read_text()
        rewritten = re.sub(rf"\b{target}\b", host, text)
        assert rewritten != text
        variant.write_text(rewritten)
        templates[host] = variant
    # One after the other: two concurrent builds on a small machine take longer than both in a row.
    for arch, template_file in templates.items():
        started = time.monotonic()
        process = _start_build(template_file, root / arch)
        output, _ = process.communicate(timeout=900)
        assert process.returncode == 0, f"sam build ({arch}) failed:\n{output}"
        print(f"\nsam build ({arch}): {time.monotonic() - started:.1f} s", file=sys.stderr)
    return {"target": target, "host": host, "dirs": {arch: root / arch for arch in templates}}


def _layer(build_dir: Path) -> Path:
    return build_dir / "SharedLayer" / "python"


@pytest.mark.slow
def test_layer_has_the_core_package_and_its_data_files(builds: dict[str, Any]) -> None:
    for build_dir in builds["dirs"].values():
        core = _layer(build_dir) / "selfheal_core"
        assert (core / "classification" / "signatures.json").is_file()
        source = {p.name for p in (ROOT / "shared/selfheal_core/runtime/schemas").glob("*.json")}
        assert {p.name for p in (core / "runtime" / "schemas").glob("*.json")} == source
        for dependency in ("aws_lambda_powertools", "aws_xray_sdk", "numpy", "jsonschema", "boto3"):
            assert (_layer(build_dir) / dependency).is_dir(), dependency


@pytest.mark.slow
def test_functions_ship_only_their_handler(builds: dict[str, Any]) -> None:
    build_dir = builds["dirs"][builds["target"]]
    for logical_id in FUNCTIONS:
        files = {p.name for p in (build_dir / logical_id).iterdir()}
        assert files <= {"app.py", "requirements.txt"}, (logical_id, files)
        assert "app.py" in files


@pytest.mark.slow
def test_layer_binaries_match_the_lambda_architecture(builds: dict[str, Any]) -> None:
    for arch, build_dir in builds["dirs"].items():
        layer = _layer(build_dir)
        shared_objects = [p for p in layer.rglob("*.so*") if p.is_file()]
        assert shared_objects, "numpy at least is compiled"
        for path in shared_objects:
            header = path.read_bytes()[:20]
            assert header[:4] == b"\x7fELF", path
            machine = int.from_bytes(header[18:20], "little")
            assert machine == ELF_MACHINE[arch], f"{path.relative_to(layer)} is not {arch}"
        for wheel in layer.glob("*.dist-info/WHEEL"):
            tags = re.findall(r"^Tag: (\S+)$", wheel.read_text(), re.MULTILINE)
            platforms = {tag.split("-")[-1] for tag in tags}
            if platforms == {"any"}:
                continue
            assert any(p.endswith(WHEEL_ARCH[arch]) for p in platforms), (wheel, platforms)
            glibc = [
                tuple(int(n) for n in m.groups())
                for p in platforms
                for m in [re.match(r"manylinux_(\d+)_(\d+)_", p)]
                if m
            ]
            if "manylinux2014" in "".join(platforms):
                glibc.append((2, 17))
            assert glibc and min(glibc) <= MAX_GLIBC, (wheel, platforms)


_IMPORT_CHECK = r"""
import importlib.util, json, sys
layer, functions = sys.argv[1], json.loads(sys.argv[2])
sys.path[:0] = [layer]
result = {"modules": {}, "handlers": []}
for logical_id, code_dir in functions.items():
    sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location("app_" + logical_id, code_dir + "/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.lambda_handler)
    result["handlers"].append(logical_id)
    sys.path.remove(code_dir)
import numpy, jsonschema, aws_lambda_powertools, selfheal_core, boto3, botocore
for m in (numpy, jsonschema, aws_lambda_powertools, selfheal_core, boto3, botocore):
    result["modules"][m.__name__] = m.__file__
result["numpy"] = float(numpy.arange(4).sum())
from selfheal_core.classification.classifier import classify
result["category"] = classify("java.net.SocketTimeoutException: Read timed out").category.value
print(json.dumps(result))
"""


@pytest.mark.slow
def test_handlers_import_from_the_built_layer_alone(builds: dict[str, Any]) -> None:
    build_dir = builds["dirs"][builds["host"]]
    layer = _layer(build_dir)
    functions = {logical_id: str(build_dir / logical_id) for logical_id in FUNCTIONS}
    # -I: no PYTHON* variables, no user site, no cwd; -S: no site-packages (no venv) at all.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT_CHECK, str(layer), json.dumps(functions)],
        env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "AWS_SAM_LOCAL": "true"},
        cwd=build_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["handlers"] == list(FUNCTIONS)
    for name, path in result["modules"].items():
        assert Path(path).is_relative_to(layer), f"{name} imported from {path}"
    assert result["numpy"] == 6.0
    assert result["category"] == "transient_network"


@pytest.mark.slow
def test_invoke_built_runs_diagnose_and_reports_invalid_input(builds: dict[str, Any], tmp_path: Path) -> None:
    template = builds["dirs"][builds["host"]] / "template.yaml"
    event = tmp_path / "invalid.json"
    event.write_text(json.dumps(INVALID_DIAGNOSE_EVENT))
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/invoke_built.py"),
            "DiagnoseFunction",
            "-e",
            str(event),
            "-t",
            str(template),
        ],
        env={**_env(), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    error = json.loads(completed.stdout)
    assert error["errorType"] == "InvalidInputError", completed.stderr
    assert "detail-type" in error["errorMessage"]
    # The function's logs went to stderr, from the built layer's code.
    assert str(_layer(template.parent) / "selfheal_core") in completed.stderr


@pytest.mark.slow
def test_invoke_built_returns_the_handler_result(builds: dict[str, Any], tmp_path: Path) -> None:
    """Escalate with the SQLite backend (env.json overrides) and no topic: no AWS call at all."""
    template = builds["dirs"][builds["host"]] / "template.yaml"
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps(
            {
                "Parameters": {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "db.sqlite3")},
                "EscalateFunction": {
                    "TOPIC_ARN": "",
                    "AUDIT_DIR": str(tmp_path / "audit"),
                },
            }
        )
    )
    event = tmp_path / "escalate.json"
    state = {"detail": {"jobName": "orders-etl", "jobRunId": "jr_1"}, "error": {"Error": "X", "Cause": "y"}}
    event.write_text(json.dumps(state))
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/invoke_built.py"),
            "EscalateFunction",
            "-e",
            str(event),
            "-t",
            str(template),
            "--env-vars",
            str(env_vars),
        ],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout)
    assert result["incident_id"].startswith("inc-")
    assert result["await_human"] is False
    assert "X: y" in result["reason"]
    assert list((tmp_path / "audit" / "incidents").glob("*/*.json"))


def test_invoke_built_environment_merges_globals_and_overrides(
    invoke_built: ModuleType, template: dict[str, Any]
) -> None:
    module = invoke_built
    env = module.function_environment(template, "ExecuteFunction")
    assert env["STORE_BACKEND"] == "dynamodb"
    assert env["POWERTOOLS_SERVICE_NAME"] == "selfheal"
    assert "EVENTS_TABLE" not in env  # !Ref: unresolvable offline, dropped
    overridden = module.function_environment(
        template,
        "ExecuteFunction",
        {
            "Parameters": {"EVENTS_TABLE": "all"},
            "ExecuteFunction": {"EVENTS_TABLE": "mine"},
            "Other": {"X": "1"},
        },
    )
    assert overridden["EVENTS_TABLE"] == "mine"
    assert "X" not in overridden
    paths = module.function_paths(template, "ExecuteFunction", ROOT)
    assert paths == [ROOT / "functions/execute", ROOT / "shared/python"]
