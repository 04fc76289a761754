"""scripts/invoke_built.py makes no AWS call unless asked, and says how to build for this host."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A function that tries one AWS call and reports where it went.
_HANDLER = """
import boto3, botocore.exceptions

def lambda_handler(event, context):
    client = boto3.client("glue", region_name="us-east-1")
    try:
        client.get_job(JobName="orders-etl")
    except botocore.exceptions.EndpointConnectionError as error:
        return {"blocked": True, "endpoint": client.meta.endpoint_url, "error": str(error)}
    return {"blocked": False}
"""
_TEMPLATE = """
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: probe/
      Handler: app.lambda_handler
      Timeout: 10
"""


def test_offline_environment_carries_no_credentials_and_a_dead_endpoint(invoke_built: ModuleType) -> None:
    caller = {"AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_PROFILE": "prod", "PATH": "/bin"}
    offline = invoke_built.aws_environment(False, caller)
    assert offline["AWS_ACCESS_KEY_ID"] == "offline"
    assert "AWS_PROFILE" not in offline
    assert offline["AWS_ENDPOINT_URL"] == invoke_built.OFFLINE_ENDPOINT
    assert offline["PATH"] == "/bin"


def test_an_explicit_local_endpoint_is_kept_offline(invoke_built: ModuleType) -> None:
    caller = {"AWS_ENDPOINT_URL": "http://localhost:5000", "AWS_ENDPOINT_URL_GLUE": "http://localhost:5001"}
    offline = invoke_built.aws_environment(False, caller)
    assert offline["AWS_ENDPOINT_URL"] == "http://localhost:5000"
    assert offline["AWS_ENDPOINT_URL_GLUE"] == "http://localhost:5001"


def test_aws_flag_passes_the_callers_credentials(invoke_built: ModuleType) -> None:
    caller = {"AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_PROFILE": "prod"}
    online = invoke_built.aws_environment(True, caller)
    assert online["AWS_ACCESS_KEY_ID"] == "AKIAREAL" and online["AWS_PROFILE"] == "prod"
    assert "AWS_ENDPOINT_URL" not in online


def test_a_handler_cannot_reach_aws_without_the_flag(invoke_built: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "app.py").write_text(_HANDLER)
    (tmp_path / "template.yaml").write_text(_TEMPLATE)
    event = tmp_path / "event.json"
    event.write_text("{}")
    started = time.monotonic()
    completed = invoke_built.invoke("ProbeFunction", event, tmp_path / "template.yaml")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout)
    assert result["blocked"] is True
    assert result["endpoint"] == invoke_built.OFFLINE_ENDPOINT
    assert time.monotonic() - started < 30  # no retries against a dead endpoint


def test_the_architecture_hint_is_one_runnable_line(invoke_built: ModuleType) -> None:
    hint = invoke_built.build_for_host_hint("x86_64", "arm64")
    assert "\n" not in hint
    assert "sam build -t /tmp/template-x86_64.yaml" in hint
    assert "--build-dir .aws-sam/build-x86_64" in hint


def test_a_build_for_this_host_is_preferred(
    invoke_built: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke_built.default_template("x86_64") == invoke_built.DEFAULT_TEMPLATE
    host_build = tmp_path / ".aws-sam" / "build-x86_64"
    host_build.mkdir(parents=True)
    (host_build / "template.yaml").write_text("Resources: {}\n")
    assert invoke_built.default_template("x86_64") == Path(".aws-sam/build-x86_64/template.yaml")


def test_the_sample_local_env_file_selects_the_local_backend(invoke_built: ModuleType) -> None:
    parameters = json.loads(invoke_built.LOCAL_ENV_VARS.read_text())["Parameters"]
    assert parameters["STORE_BACKEND"] == "sqlite"
    assert parameters["EVENTS_TABLE"] == "" and parameters["TOPIC_ARN"] == ""
