"""The shadow report's arithmetic: Wilson's interval, the tally and the recommendation thresholds."""

from __future__ import annotations

import pytest

from selfheal.readmodel.precision import (
    MIN_APPROVE,
    MIN_AUTO,
    Observation,
    recommend,
    report_json,
    tally,
    wilson,
)


def test_wilson_matches_the_published_values() -> None:
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    low, high = wilson(81, 263) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson(15, 148) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)


def test_wilson_at_the_edges() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(10, 10) or (0, 0)
    assert high == pytest.approx(1.0) and round(low, 4) == 0.7225
    low, high = wilson(0, 10) or (1, 1)
    assert low == 0.0 and 0 < high < 0.31
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_perfect_agreement_needs_35_known_incidents_for_auto() -> None:
    assert recommend(34, 34) == "approve"
    assert recommend(35, 35) == "auto"
    assert (wilson(35, 35) or (0, 0))[0] >= 0.90 > (wilson(34, 34) or (0, 0))[0]


def test_the_minimum_counts_gate_each_level() -> None:
    assert recommend(MIN_APPROVE - 1, MIN_APPROVE - 1) == "shadow"  # too little evidence
    assert recommend(MIN_APPROVE, MIN_APPROVE) == "approve"
    assert recommend(7, 10) == "approve" and recommend(6, 10) == "shadow"
    assert recommend(97, 100) == "auto" and recommend(95, 100) == "approve"
    assert recommend(0, 0) == "shadow"
    assert MIN_AUTO == 20


def test_no_incidents_is_an_empty_report() -> None:
    assert report_json(tally([])) == {"categories": {}}


def test_all_agree() -> None:
    report = report_json(tally([Observation("throttling", "backoff_retry", fix="backoff_retry")] * 40))
    category = report["categories"]["throttling"]
    assert {k: category[k] for k in ("proposals", "agreed", "precision", "recommendation")} == {
        "proposals": 40,
        "agreed": 40,
        "precision": 1.0,
        "recommendation": "auto",
    }
    assert category["ci_low"] == pytest.approx(0.9124, abs=1e-4)


def test_unknown_fixes_count_as_proposals_only() -> None:
    observations = [
        Observation("schema_drift", "rollback"),  # nobody said what fixed it
        Observation("schema_drift", "rollback", fix="rollback"),
        Observation("schema_drift", "rollback", refuted=True),  # rejected, or ran and did not hold
        Observation("schema_drift", "retry", fix="rollback"),
    ]
    category = report_json(tally(observations))["categories"]["schema_drift"]
    assert category["proposals"] == 4 and category["agreed"] == 1
    assert category["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert category["actions"]["rollback"]["known"] == 2
    assert category["actions"]["rollback"]["precision"] == 0.5
    assert category["actions"]["retry"]["precision"] == 0.0


def test_only_unknown_fixes_have_no_precision() -> None:
    category = report_json(tally([Observation("permission", "escalate")]))["categories"]["permission"]
    assert category == {
        "proposals": 1,
        "agreed": 0,
        "precision": None,
        "ci_low": None,
        "recommendation": "shadow",
        "actions": {
            "escalate": {
                "proposals": 1,
                "agreed": 0,
                "precision": None,
                "ci_low": None,
                "recommendation": "shadow",
                "known": 0,
                "ci_high": None,
            }
        },
    }


def test_categories_are_keyed_exactly_as_the_contract_says() -> None:
    report = report_json(tally([Observation("b", "retry", fix="retry"), Observation("a", "retry")]))
    assert list(report) == ["categories"] and list(report["categories"]) == ["a", "b"]
    for category in report["categories"].values():
        assert set(category) == {"proposals", "agreed", "precision", "ci_low", "recommendation", "actions"}
