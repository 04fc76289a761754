"""Incident metrics: what each closed incident counts, with bounded dimensions, and the EMF it becomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import InMemoryEventStore, make_deps
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import (
    Answered,
    AnswerRequested,
    Diagnosed,
    DomainEvent,
    Escalated,
    Executed,
    Gated,
    IncidentEvent,
    Opened,
    Proposed,
    Validated,
)
from selfheal_core.domain.incident_metrics import (
    CATALOG,
    OTHER,
    MetricPoint,
    bounded,
    closed,
    opened,
    waiting,
)
from selfheal_core.runtime import incident_metrics
from selfheal_core.vocabulary import Action, Category, Criticality

INCIDENT = "inc-00000000000000ab"


def _log(*timed: tuple[str, DomainEvent]) -> list[IncidentEvent]:
    return [IncidentEvent(INCIDENT, seq, at, event) for seq, (at, event) in enumerate(timed)]


def _diagnosed(category: Category = Category.SCHEMA_DRIFT) -> Diagnosed:
    return Diagnosed(Diagnosis("orders", category, 0.9, "sig", ("e",), Criticality.HIGH, "high", ()))


def _start(action: Action = Action.ROLLBACK, shadow: bool = False) -> list[tuple[str, DomainEvent]]:
    return [
        ("2026-12-01T02:00:00.000Z", Opened("orders", "jr_1", "arn:exec")),
        ("2026-12-01T02:00:05.000Z", _diagnosed()),
        ("2026-12-01T02:00:06.000Z", Proposed(1, action)),
        (
            "2026-12-01T02:00:07.000Z",
            Gated(1, action, action, shadow=shadow, mode="shadow" if shadow else "auto"),
        ),
    ]


def _by_name(points: list[MetricPoint]) -> dict[str, MetricPoint]:
    return {p.name: p for p in points}


def test_an_automated_fix_counts_as_automated_with_its_time_to_resolve() -> None:
    log = _log(
        *_start(),
        ("2026-12-01T02:00:08.000Z", Executed(1, Action.ROLLBACK, "jr_2", True)),
        ("2026-12-01T02:30:00.000Z", Validated(1, "jr_2", "SUCCEEDED", True, True)),
    )
    points = _by_name(closed(log))
    assert set(points) == {"IncidentsClosed", "TimeToResolve"}
    assert points["IncidentsClosed"].dimensions == {
        "category": "schema_drift",
        "action": "rollback",
        "outcome": "automated",
        "autonomy": "auto",
    }
    assert points["TimeToResolve"].value == 1800.0


def test_a_fix_run_after_an_approval_is_assisted_and_the_answer_is_timed() -> None:
    log = _log(
        *_start(),
        (
            "2026-12-01T02:00:08.000Z",
            AnswerRequested("approval", Action.ROLLBACK, ("a",), "tok", "2026-12-02"),
        ),
        ("2026-12-01T02:10:08.000Z", Answered("approve", by="link")),
        ("2026-12-01T02:10:09.000Z", Executed(1, Action.ROLLBACK, "jr_2", True)),
        ("2026-12-01T02:20:00.000Z", Validated(1, "jr_2", "SUCCEEDED", True, True)),
    )
    points = _by_name(closed(log))
    assert points["IncidentsClosed"].dimensions["outcome"] == "assisted"
    assert points["TimeToResolve"].value == 1200.0
    assert points["ApprovalsAnswered"].dimensions == {"decision": "approve"}
    assert points["TimeToAnswer"].value == 600.0


@pytest.mark.parametrize(("decision", "timed"), [("resolved", True), ("fixed", True), ("reject", False)])
def test_an_escalation_has_a_time_to_resolve_only_if_a_human_says_they_fixed_it(
    decision: str, timed: bool
) -> None:
    log = _log(
        *_start(Action.ESCALATE),
        ("2026-12-01T02:00:08.000Z", Escalated("why", "k", True)),
        ("2026-12-01T04:00:08.000Z", Answered(decision)),
    )
    points = _by_name(closed(log))
    assert points["IncidentsClosed"].dimensions["outcome"] == "escalated"
    assert points["IncidentsClosed"].dimensions["action"] == "escalate"
    assert ("TimeToResolve" in points) is timed
    if timed:
        assert points["TimeToResolve"].value == 7208.0
    assert "ApprovalsAnswered" not in points  # a fix question is not an approval


def test_shadow_mode_and_an_incident_that_never_reached_the_gate() -> None:
    shadow = _log(*_start(shadow=True), ("2026-12-01T02:00:08.000Z", Escalated("shadow", "k")))
    assert closed(shadow)[0].dimensions["autonomy"] == "shadow"
    early = _log(
        ("2026-12-01T02:00:00.000Z", Opened("orders", "jr_1")), ("2026-12-01T02:01:00Z", Escalated("x"))
    )
    assert closed(early)[0].dimensions == {
        "category": "unknown",
        "action": "escalate",
        "outcome": "escalated",
        "autonomy": "none",
    }


def test_dimension_values_are_bounded_to_the_vocabulary() -> None:
    assert bounded("category", "a-brand-new-category") == OTHER
    assert bounded("action", "") == "none"
    assert bounded("decision", "approved") == OTHER  # the typo of the issue never becomes a series
    assert opened("weird")[0].dimensions == {"category": OTHER}
    for spec in CATALOG.values():
        assert all("job" not in d and "job_name" not in d for dims in spec.dimension_sets for d in dims)


def test_the_waiting_gauge_counts_open_questions_and_reports_zeros() -> None:
    asked = _log(*_start(), ("2026-12-01T02:00:08Z", AnswerRequested("approval", None, (), "t", "x")))
    answered = [*asked, IncidentEvent(INCIDENT, 5, "2026-12-01T02:00:09Z", Answered("reject"))]
    fix = _log(*_start(Action.ESCALATE), ("2026-12-01T02:00:08Z", AnswerRequested("fix", None, (), "t", "x")))
    counts = {p.dimensions["question"]: p.value for p in waiting([asked, asked, answered, fix])}
    assert counts == {"approval": 2, "fix": 1}
    assert {p.dimensions["question"]: p.value for p in waiting([])} == {"approval": 0, "fix": 0}


def test_emf_records_carry_every_catalogued_dimension_set() -> None:
    log = _log(
        *_start(),
        ("2026-12-01T02:00:08.000Z", Executed(1, Action.ROLLBACK, "jr_2", True)),
        ("2026-12-01T02:30:00.000Z", Validated(1, "jr_2", "SUCCEEDED", True, True)),
    )
    (record, _) = incident_metrics.records(closed(log), service="selfheal")
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Selfheal"
    assert directive["Metrics"] == [{"Name": "IncidentsClosed", "Unit": "Count"}]
    assert [sorted(d) for d in directive["Dimensions"]] == [
        sorted(("service", *dims)) for dims in CATALOG["IncidentsClosed"].dimension_sets
    ]
    assert record["IncidentsClosed"] == [1.0] or record["IncidentsClosed"] == 1.0
    assert (record["service"], record["outcome"], record["autonomy"]) == ("selfheal", "automated", "auto")
    (gauge,) = incident_metrics.records(waiting([])[:1], service="selfheal")
    assert gauge["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["question", "service"]]


def test_emit_writes_one_json_line_per_point_unless_metrics_are_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    incident_metrics.emit(opened("schema_drift"))
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["category"] == "schema_drift"
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    incident_metrics.emit(opened("schema_drift"))
    assert capsys.readouterr().out == ""


def test_learn_emits_the_closing_metrics_of_its_incident(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    load_handler: Any,
    lambda_context: Any,
) -> None:
    store = InMemoryEventStore()
    log = _log(
        *_start(),
        ("2026-12-01T02:00:08.000Z", Executed(1, Action.ROLLBACK, "jr_2", True)),
        ("2026-12-01T02:30:00.000Z", Validated(1, "jr_2", "SUCCEEDED", True, True)),
    )
    store.open(INCIDENT, log[0].event)  # type: ignore[arg-type]
    for record in log[1:]:
        store.append(INCIDENT, record.event, record.seq)
    handler = load_handler("learn")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    handler({"incident_id": INCIDENT}, lambda_context, deps=make_deps(store=store))
    names = set()
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{"):
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {m["Name"] for m in directive["Metrics"]}
    assert {"IncidentsClosed", "TimeToResolve", "IncidentsResolved"} <= names
