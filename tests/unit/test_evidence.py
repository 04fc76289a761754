from __future__ import annotations

import pytest
from selfheal_core.domain.evidence import bad_record_fraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("214 of 50211 records failed validation", 214 / 50211),
        ("1,214 out of 50,211 rows were rejected", 1214 / 50211),
        ("12 of 1000 input records are invalid", 0.012),
        ("3 of 300 rows bad", 0.01),
        ("ERROR bad_record_fraction=0.0042 threshold=0.01", 0.0042),
        ("Bad_Record_Fraction: 1", 1.0),
        ('{"rowsFailed": 214, "rowsPassed": 49997}', 214 / (214 + 49997)),
        ("rowsFailed=5 ... rowsPassed=95", 0.05),
    ],
)
def test_shapes(text, expected):
    assert bad_record_fraction(text) == pytest.approx(expected)


def test_explicit_fraction_wins_over_counts():
    assert bad_record_fraction("5 of 10 records failed; bad_record_fraction=0.2") == 0.2


@pytest.mark.parametrize(
    "text",
    [
        "",
        "java.net.SocketTimeoutException: Read timed out",
        "0 of 0 records failed",  # nothing measured
        "500 of 100 records failed",  # more bad than total: not a fraction
        "rowsFailed: 3",  # no denominator
        "rowsFailed: 0 rowsPassed: 0",
        "2 of 5 rules failed",  # rules, not records
        "bad_record_fraction=abc",
    ],
)
def test_non_matches(text):
    assert bad_record_fraction(text) is None


# Regression: the leading "1" of 1.5 used to match, reading an invalid fraction as 1.0.
@pytest.mark.parametrize("value", ["1.5", "1.", "0.5.3", "12"])
def test_out_of_range_fraction_is_not_a_measurement(value):
    assert bad_record_fraction(f"bad_record_fraction={value}") is None
