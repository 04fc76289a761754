"""The fact checks are pure functions of the text and the facts; a refutation only ever stops automation."""

from __future__ import annotations

import pytest
from selfheal_core.classification.classifier import classify
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.fact_checks import (
    CAUSE_FROM_FACTS,
    CONFIRMED,
    NOT_CHECKED,
    REFUTED,
    FactCheck,
    JobPaths,
    apply_checks,
    catalog_drift,
    cause_from_facts,
    check_claims,
    column_exists,
    path_scheme,
    text_checks,
)
from selfheal_core.vocabulary import HUMAN_ONLY_CATEGORIES, Category

SUGGESTED = (
    "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name "
    "`sandbox`.`tpcds`.`customer`.`c_last_name` cannot be resolved. Did you mean one of the following? "
    "[`cool_cust`.`c_last_name`, `cool_cust`.`c_first_name`]"
)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        (SUGGESTED, REFUTED),
        (
            "AnalysisException: Column 'Order_Id' does not exist. Did you mean one of the following? [order_id]",
            REFUTED,
        ),
        ("cannot resolve '`t.site`' given input columns: [t.site_id, t.channel]", CONFIRMED),
        (
            "AnalysisException: Column 'customer_id' does not exist. Did you mean one of the following? [id]",
            CONFIRMED,
        ),
    ],
)
def test_column_exists(text, verdict):
    check = column_exists(text)
    assert check is not None and check.verdict == verdict


def test_column_exists_needs_a_suggestion_list():
    assert column_exists("[UNRESOLVED_COLUMN] `amount` cannot be resolved") is None
    assert column_exists("Connection reset") is None


@pytest.mark.parametrize(
    "path",
    ["s3://None/orders/", "s3://${BUCKET}/orders/", "s3a:///orders/part-0.parquet", "s3://{bucket}/x"],
)
def test_a_path_without_a_real_bucket_is_configuration_from_the_text_alone(path):
    check = path_scheme(f"AnalysisException: Path does not exist: {path}", None)
    assert check is not None and check.verdict == REFUTED and check.points_to is Category.CODE_ERROR


def test_path_scheme_text_only_cannot_say_more():
    check = path_scheme("Path does not exist: s3://landing/orders/", None)
    assert check == FactCheck("path_scheme", NOT_CHECKED, "text only")
    assert check.line() == "path_scheme: not checked (text only)"
    assert path_scheme("s3a:// at end of a cut line: No such file or directory: s3a://", None) is not None
    assert path_scheme("Connection reset", None) is None


def test_path_scheme_with_the_jobs_paths():
    job = JobPaths("s3://scripts/job.py", ("s3://landing/orders/",), ("s3://lake/orders/",))
    seen = path_scheme("Path does not exist: s3a://landing/orders/dt=1/", job)
    assert seen is not None and seen.verdict == CONFIRMED
    typo = path_scheme("Path does not exist: s3://landing-typo/orders/dt=1/", job)
    assert typo is not None and typo.verdict == REFUTED and "landing-typo" in typo.evidence
    local = path_scheme("java.io.FileNotFoundException: File file:/tmp/in.csv does not exist", job)
    assert local is not None and local.verdict == REFUTED
    # Without argument paths, a bucket is not refuted: tables may be outputs, the script says nothing.
    loose = JobPaths("s3://scripts/job.py", (), ("s3://lake/orders/",))
    other = path_scheme("Path does not exist: s3://landing/orders/", loose)
    assert other is not None and other.verdict == CONFIRMED
    nothing = path_scheme("Path does not exist: s3://landing/orders/", JobPaths())
    assert nothing is not None and nothing.verdict == NOT_CHECKED


def test_catalog_drift():
    assert catalog_drift(None).verdict == NOT_CHECKED
    assert catalog_drift([]).verdict == NOT_CHECKED
    assert catalog_drift([DriftReport("d.t", "1", "2", removed=("a",))]).verdict == CONFIRMED
    refuted = catalog_drift([DriftReport("d.t", "1", "2", added=("b",))])
    assert refuted.verdict == REFUTED and refuted.points_to is Category.UNKNOWN


RENAMED = DriftReport("sales.orders", "1", "2", renamed=(("order_id", "id"),))
RETYPED = DriftReport("sales.orders", "1", "2", type_changed=(("amount", "double", "string"),))
ADDED = DriftReport("sales.orders", "1", "2", added=("channel",))


@pytest.mark.parametrize(
    ("reports", "fraction", "category"),
    [
        ([RENAMED], None, Category.SCHEMA_DRIFT),
        ([RETYPED], None, Category.TYPE_MISMATCH),
        ([RETYPED, RENAMED], None, Category.SCHEMA_DRIFT),  # not only type changes
        ([RENAMED], 0.2, Category.SCHEMA_DRIFT),  # a change to what the job reads comes first
        ([ADDED], 0.02, Category.DATA_QUALITY),  # an added column breaks no reader
        ([], 0.02, Category.DATA_QUALITY),
    ],
)
def test_cause_from_facts_names_the_category_the_facts_point_to(reports, fraction, category):
    found = cause_from_facts(reports, fraction, "Data Quality result dq-1")
    assert found is not None
    named, check = found
    assert named is category
    assert (check.name, check.verdict) == (CAUSE_FROM_FACTS, CONFIRMED)
    assert category.value in check.evidence and "for a person to decide" in check.evidence


@pytest.mark.parametrize(("reports", "fraction"), [([], None), ([ADDED], None), ([], 0.0), ([ADDED], 0.0)])
def test_no_fact_no_cause(reports, fraction):
    assert cause_from_facts(reports, fraction, None) is None


@pytest.mark.parametrize("category", list(Category))
def test_a_refutation_never_moves_to_an_automated_category(category):
    checks = (
        FactCheck("column_exists", REFUTED, "x", Category.CODE_ERROR),
        FactCheck("path_scheme", REFUTED, "x", Category.CODE_ERROR),
        FactCheck("catalog_drift", REFUTED, "x", Category.UNKNOWN),
    )
    after, _ = apply_checks(category, checks)
    assert after is category or after in HUMAN_ONLY_CATEGORIES


def test_a_check_can_only_point_to_a_human():
    with pytest.raises(ValueError, match="human-only"):
        FactCheck("path_scheme", REFUTED, "x", Category.THROTTLING)


def test_check_claims_records_only_the_checks_that_bear_on_the_category():
    category, checks = check_claims(Category.THROTTLING, "Rate exceeded", JobPaths(), [])
    assert category is Category.THROTTLING and checks == ()
    category, checks = check_claims(Category.SCHEMA_DRIFT, SUGGESTED, None, None)
    assert category is Category.CODE_ERROR
    assert [(c.name, c.verdict) for c in checks] == [
        ("column_exists", REFUTED),
        ("catalog_drift", NOT_CHECKED),
    ]


def test_classify_text_only_reports_what_the_text_supports_and_what_it_could_not_check():
    answer = classify(SUGGESTED)
    assert answer.category is Category.CODE_ERROR
    assert answer.checks[0].startswith("column_exists: refuted (")
    drift = classify(
        "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN] `amount` cannot be resolved"
    )
    assert drift.category is Category.SCHEMA_DRIFT
    assert "catalog_drift: not checked (text only)" in drift.checks
    placeholder = classify("org.apache.spark.sql.AnalysisException: Path does not exist: s3://None/orders/")
    assert placeholder.category is Category.CODE_ERROR
    assert any(c.startswith("path_scheme: refuted") for c in placeholder.checks)
    assert text_checks("Rate exceeded") == ()
