"""`pip install selfheal` outside the repository gives a working CLI.

Builds the sdist and, from it, the wheel (as a package index would), installs the wheel with its
dependencies in a clean venv, and runs the CLI from a directory outside the checkout: nothing may be read
from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _uv() -> str:
    uv = BIN / "uv" if (BIN / "uv").exists() else shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    return str(uv)


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, f"{command}:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    uv = _uv()
    root = tmp_path_factory.mktemp("wheel")
    dist, venv, outside = root / "dist", root / "venv", root / "elsewhere"
    outside.mkdir()
    # Without --wheel: the wheel is built from the sdist, so the sdist is checked too.
    _run(uv, "build", "--quiet", "--out-dir", dist, ROOT, cwd=root)
    (wheel,) = dist.glob("*.whl")
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv, cwd=root)
    _run(uv, "pip", "install", "--quiet", "--python", venv / "bin/python", wheel, cwd=root)
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(root)),
        "SELFHEAL_HOME": str(root / "home"),
    }
    return {"wheel": wheel, "venv": venv, "cwd": outside, "env": env}


def _selfheal(installed: dict[str, Any], *args: str | Path) -> str:
    return _run(installed["venv"] / "bin/selfheal", *args, cwd=installed["cwd"], env=installed["env"])


def test_the_wheel_holds_every_file_the_cli_reads(installed: dict[str, Any]) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    expected = {
        f"selfheal/{p.relative_to(ROOT / 'src/selfheal')}"
        for p in (ROOT / "src/selfheal").rglob("*")
        if p.is_file() and p.suffix != ".pyc"
    }
    expected |= {
        f"selfheal_core/{p.relative_to(ROOT / 'shared/selfheal_core')}"
        for p in (ROOT / "shared/selfheal_core").rglob("*")
        if p.is_file() and p.suffix != ".pyc"
    }
    for folder, pattern in (
        ("events", "*/*.json"),
        ("statemachine", "*.asl.json"),
        ("functions", "*/app.py"),
    ):
        expected |= {f"selfheal/_bundled/{p.relative_to(ROOT)}" for p in (ROOT / folder).glob(pattern)}
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"


def test_version(installed: dict[str, Any]) -> None:
    assert _selfheal(installed, "--version") == f"selfheal {metadata.version('selfheal')}\n"


def test_replay_an_installed_sample_event(installed: dict[str, Any]) -> None:
    python = installed["venv"] / "bin/python"
    where = "from selfheal import _bundled; print(_bundled.SAMPLE_EVENTS)"
    samples = Path(_run(python, "-c", where, cwd=installed["cwd"], env=installed["env"]).strip())
    # The installed package's own copy, not the checkout's.
    assert samples.is_relative_to(installed["venv"]), samples
    summary = json.loads(_selfheal(installed, "replay", samples / "schema_drift.json", "--json"))
    # The real state machine ran to its end through the installed handlers.
    assert summary["status"] == "SUCCEEDED", summary
    assert summary["outcome"] in {"resolved", "escalated"}, summary


def test_demo(installed: dict[str, Any]) -> None:
    _selfheal(installed, "demo")  # exit code 0
    assert list(Path(installed["env"]["SELFHEAL_HOME"]).rglob("*.sqlite3")), "the demo left its incident log"
