"""The CloudWatch dashboard: its body is JSON once substituted, and every metric it shows is one the code
emits, in the same namespace, with the same name and the same dimension set (a SEARCH or a metric with
another dimension set would draw an empty graph and nobody would notice)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.domain.incident_metrics import CATALOG, VALUES, MetricPoint
from selfheal_core.runtime import incident_metrics

SUB = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z]+))?\}")
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s+MetricName=\"(\w+)\"'")
STATES_METRICS = {
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
}
Shown = tuple[str, str, frozenset[str]]  # namespace, metric, dimension names


def _body(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    dashboard = template["Resources"]["IncidentsDashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    return text, json.loads(SUB.sub(lambda m: f"<{m.group(0)[2:-1]}>", text))


def _service(template: dict[str, Any]) -> str:
    return str(template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])


def _emitted(template: dict[str, Any], repo_root: Path) -> set[Shown]:
    """What the code writes: the EMF records of one point of every catalogued metric, and the handlers'
    own invocation metrics (``metrics.add_metric``, dimension ``service``)."""
    emitted: set[Shown] = set()
    for name in CATALOG:
        point = MetricPoint(name, 1, {dimension: values[0] for dimension, values in VALUES.items()})
        for record in incident_metrics.records([point], service=_service(template)):
            for directive in record["_aws"]["CloudWatchMetrics"]:
                for dimensions in directive["Dimensions"]:
                    for metric in directive["Metrics"]:
                        emitted.add((directive["Namespace"], metric["Name"], frozenset(dimensions)))
    for app in (repo_root / "functions").glob("*/app.py"):
        for name in re.findall(r'add_metric\(\s*name="(\w+)"', app.read_text()):
            emitted.add((incident_metrics.NAMESPACE, name, frozenset({"service"})))
    return emitted


def _shown(body: dict[str, Any], template: dict[str, Any]) -> set[Shown]:
    shown: set[Shown] = set()
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):
                expression = line[0]["expression"]
                for schema, name in SEARCH.findall(expression):
                    namespace, *dimensions = [part.strip() for part in schema.split(",")]
                    shown.add((namespace, name, frozenset(dimensions)))
                assert "SEARCH" not in expression or SEARCH.search(expression), expression
                continue
            parts = [p for p in line if not isinstance(p, dict)]
            assert "..." not in parts and "." not in parts, "spell every metric out"
            namespace, name, *pairs = parts
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            if namespace == incident_metrics.NAMESPACE:
                assert dimensions["service"] == _service(template)
            shown.add((namespace, name, frozenset(dimensions)))
    return shown


def test_the_body_parses_and_names_only_this_stacks_resources(template: dict[str, Any]) -> None:
    text, body = _body(template)
    assert body["widgets"]
    for name, _attribute in SUB.findall(text):
        assert name in template["Resources"] or name.startswith("AWS::"), name


def test_every_selfheal_metric_shown_is_one_the_code_emits(template: dict[str, Any], repo_root: Path) -> None:
    _, body = _body(template)
    shown = _shown(body, template)
    ours = {s for s in shown if s[0] != "AWS/States"}
    assert ours, "the dashboard shows no selfheal metric"
    assert {s[0] for s in ours} == {incident_metrics.NAMESPACE}
    missing = ours - _emitted(template, repo_root)
    assert not missing, f"the dashboard shows metrics nothing emits: {sorted(missing)}"
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    assert globals_["POWERTOOLS_METRICS_NAMESPACE"] == incident_metrics.NAMESPACE


def test_the_dashboard_shows_what_the_issue_asks_for(template: dict[str, Any]) -> None:
    _, body = _body(template)
    names = {name for _, name, _ in _shown(body, template)}
    assert {"IncidentsOpened", "IncidentsClosed", "TimeToResolve", "AnswersWaiting"} <= names
    closed = {dims for _, name, dims in _shown(body, template) if name == "IncidentsClosed"}
    assert frozenset({"outcome", "service"}) in closed  # automated / assisted / escalated
    assert frozenset({"autonomy", "outcome", "service"}) in closed
    assert names >= STATES_METRICS


def test_execution_metrics_are_this_state_machines(template: dict[str, Any]) -> None:
    _, body = _body(template)
    states = [
        line
        for widget in body["widgets"]
        for line in widget["properties"].get("metrics", [])
        if line[0] == "AWS/States"
    ]
    assert {line[1] for line in states} == STATES_METRICS
    assert all(line[2:4] == ["StateMachineArn", "<IncidentStateMachine>"] for line in states)


def test_the_alarm_widget_shows_every_alarm(template: dict[str, Any]) -> None:
    _, body = _body(template)
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = {re.fullmatch(r"<(\w+)\.Arn>", arn).group(1) for arn in widget["properties"]["alarms"]}  # type: ignore[union-attr]
    alarms = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert shown == alarms


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_no_metric_has_a_job_dimension(name: str) -> None:
    for dimensions in CATALOG[name].dimension_sets:
        assert set(dimensions) <= set(VALUES), f"{name}: {dimensions} has an unbounded dimension"


def test_the_dashboard_url_is_an_output(template: dict[str, Any]) -> None:
    assert "${IncidentsDashboard}" in template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
