"""cfn-lint and `sam validate --lint` accept template.yaml (offline: neither needs credentials)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(repo_root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / command[0]
    if not executable.exists():
        pytest.skip(f"{command[0]} is not installed in {BIN}")
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
    }
    return subprocess.run(
        [str(executable), *command[1:]],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_cfn_lint_passes(repo_root: Path) -> None:
    result = _run(repo_root, "cfn-lint", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_validate_lint_passes(repo_root: Path) -> None:
    result = _run(repo_root, "sam", "validate", "--lint", "--template-file", "template.yaml")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output
