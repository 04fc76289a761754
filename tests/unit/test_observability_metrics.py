"""Metrics leave a handler only when they are enabled: a disabled set must not pile up and print later."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from selfheal_core.runtime.observability import instrumented, metrics


@instrumented(correlation_id_path="id")
def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_metric(name="Probe", unit=MetricUnit.Count, value=1)
    return {"ok": True}


def test_disabled_metrics_are_dropped_after_each_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lambda_context: Any
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools prints a set by itself once a metric holds 100 values
        assert _handler({"id": "x"}, lambda_context) == {"ok": True}
    assert "_aws" not in capsys.readouterr().out
    assert metrics.metric_set == {}


def test_enabled_metrics_are_printed_as_emf_once_per_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lambda_context: Any
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    _handler({"id": "x"}, lambda_context)
    out = capsys.readouterr().out
    assert out.count('"_aws"') == 1 and '"Probe"' in out
