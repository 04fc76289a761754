from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from selfheal_core.domain.context import Risk
from selfheal_core.domain.diagnosis import (
    Diagnosis,
    Evidence,
    criticality_from_tags,
    diagnose,
    downstream_consumers,
    risk_level,
)
from selfheal_core.domain.drift import Column, TableVersion
from selfheal_core.vocabulary import Action, Category, Criticality

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Stub:
    category: Category
    confidence: float = 0.9
    signature: str | None = "sig-1"
    evidence: tuple[str, ...] = ("line",)


def stub(category: Category, **kw):
    seen: list[str] = []

    def classify(text: str) -> Stub:
        seen.append(text)
        return Stub(category, **kw)

    classify.seen = seen  # type: ignore[attr-defined]
    return classify


@pytest.mark.parametrize(
    ("criticality", "consumers", "freeze", "expected"),
    [
        (Criticality.LOW, 0, False, Risk.LOW),
        (Criticality.LOW, 1, False, Risk.MEDIUM),
        (Criticality.LOW, 5, False, Risk.HIGH),
        (Criticality.MEDIUM, 0, False, Risk.MEDIUM),
        (Criticality.MEDIUM, 4, False, Risk.MEDIUM),
        (Criticality.HIGH, 0, False, Risk.HIGH),
        (Criticality.CRITICAL, 0, False, Risk.HIGH),
        (Criticality.LOW, 0, True, Risk.HIGH),
    ],
)
def test_risk_level(criticality, consumers, freeze, expected):
    assert risk_level(criticality, consumers, freeze) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"criticality": "critical"}, Criticality.CRITICAL),
        ({"criticality": " HIGH "}, Criticality.HIGH),
        ({"criticality": "low"}, Criticality.LOW),
        ({"criticality": "bogus"}, Criticality.MEDIUM),
        ({}, Criticality.MEDIUM),
    ],
)
def test_criticality_from_tags(tags, expected):
    assert criticality_from_tags(tags) is expected


@pytest.mark.parametrize(("raw", "expected"), [("7", 7), (" 3 ", 3), ("-2", 0), ("many", 0), ("", 0)])
def test_downstream_consumers(raw, expected):
    assert downstream_consumers({"downstream_consumers": raw}) == expected


def versions(*column_sets, start=T0):
    return [
        TableVersion(str(i + 1), tuple(Column(n, t) for n, t in cols), (), start + timedelta(hours=i))
        for i, cols in enumerate(column_sets)
    ]


def test_diagnose_uses_the_classifier_tags_and_drift():
    classify = stub(Category.SCHEMA_DRIFT, confidence=0.8)
    evidence = Evidence(
        job_name="orders",
        error_log="AnalysisException: cannot resolve 'amount'",
        tags={"criticality": "low", "downstream_consumers": "0"},
        table_versions={"sales.orders": versions([("amount", "double")], [("amt", "double")])},
        bad_record_fraction=0.02,
        notes=("a note",),
    )
    diagnosis = diagnose(evidence, classify)
    assert classify.seen == ["AnalysisException: cannot resolve 'amount'"]
    assert diagnosis.category is Category.SCHEMA_DRIFT and diagnosis.confidence == 0.8
    assert diagnosis.criticality is Criticality.LOW and diagnosis.risk == Risk.LOW
    assert diagnosis.drifted and diagnosis.rollback_targets
    assert diagnosis.rollback_targets[0].baseline_version == "1"
    assert diagnosis.notes == ("a note",)
    ctx = diagnosis.context(attempt=2, previous_actions=[Action.RETRY])
    assert ctx.drift and ctx.rollback_available and ctx.attempt == 2
    assert ctx.previous_action is Action.RETRY and ctx.bad_record_fraction == 0.02
    data = diagnosis.to_dict()
    assert data["category"] == "schema_drift" and data["drifted"] is True
    assert data["drift"][0]["table"] == "sales.orders"


def test_drift_category_without_breaking_change_gets_a_note():
    evidence = Evidence(
        job_name="orders",
        error_log="x",
        table_versions={"sales.orders": versions([("a", "int")], [("a", "int"), ("b", "int")])},
    )
    diagnosis = diagnose(evidence, stub(Category.TYPE_MISMATCH))
    assert not diagnosis.drifted and diagnosis.rollback_targets == ()
    assert any("no breaking change" in n for n in diagnosis.notes)


def test_no_tables_no_drift_note_for_other_categories():
    diagnosis = diagnose(Evidence(job_name="j", error_log="x"), stub(Category.THROTTLING))
    assert diagnosis.drift == () and diagnosis.notes == ()
    assert diagnosis.criticality is Criticality.MEDIUM and diagnosis.risk == Risk.MEDIUM


def test_drift_baseline_uses_last_success():
    evidence = Evidence(
        job_name="j",
        error_log="x",
        table_versions={
            "d.t": versions([("a", "int")], [("a", "int"), ("b", "int")], [("a", "string"), ("b", "int")])
        },
        last_success=T0 + timedelta(minutes=90),
    )
    report = diagnose(evidence, stub(Category.TYPE_MISMATCH)).drift[0]
    assert report.baseline_version == "2" and report.current_version == "3"


def test_a_cause_from_facts_survives_the_event_log_and_reaches_the_gate():
    evidence = Evidence(
        job_name="orders",
        error_log="Job run failed.",
        table_versions={"sales.orders": versions([("amount", "double")], [("amt", "double")])},
    )
    diagnosis = diagnose(evidence, stub(Category.UNKNOWN, confidence=0.0, signature=None))
    assert (diagnosis.category, diagnosis.cause_from_facts) == (Category.SCHEMA_DRIFT, True)
    assert diagnosis.context().cause_from_facts
    restored = Diagnosis.from_dict(diagnosis.to_dict())
    assert restored == diagnosis
    assert not Diagnosis.from_dict({**diagnosis.to_dict(), "cause_from_facts": "yes"}).cause_from_facts


def test_an_unknown_a_signature_named_is_not_an_abstention():
    evidence = Evidence(
        job_name="orders",
        error_log="java.net.UnknownHostException: db.internal",
        table_versions={"sales.orders": versions([("amount", "double")], [("amt", "double")])},
    )
    diagnosis = diagnose(evidence, stub(Category.UNKNOWN, signature="net.unknown_host"))
    assert (diagnosis.category, diagnosis.cause_from_facts) == (Category.UNKNOWN, False)
