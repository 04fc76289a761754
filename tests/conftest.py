"""Shared fixtures. ``moto`` is imported first: boto3 clients created before it are not mocked."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import moto  # noqa: F401  (must precede every boto3 client; see docs local-engine §1.1)
import pytest

# Powertools reads these at import time: set them before any handler module is loaded.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SelfhealTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "selfheal-test")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # so every test module can ``import fakes``
    sys.path.insert(0, str(TESTS_DIR))

from fakes import ACCOUNT_ID, REGION, load_handler_module  # noqa: E402  (the tests folder is on sys.path from here on)

logging.getLogger("moto").setLevel(logging.WARNING)


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "selfheal-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:x"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/selfheal-test"
    log_stream_name: str = "2026/11/27/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def load_handler() -> Callable[[str], Callable[..., dict]]:
    """``load_handler("diagnose")`` returns that function's ``lambda_handler``."""
    return lambda function_dir: load_handler_module(function_dir).lambda_handler


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, so nothing can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield


@pytest.fixture
def deps():  # type: ignore[no-untyped-def]
    """Fresh fakes (see ``fakes.make_deps``)."""
    from fakes import make_deps

    return make_deps()
