"""Regex safety: catastrophic patterns are refused, the shipped signatures and ordinary patterns pass."""

from __future__ import annotations

import json
import re

import pytest
from selfheal_core.classification.classifier import SIGNATURES_FILE
from selfheal_core.classification.regex_safety import MAX_PATTERN_CHARS, UnsafePattern, check_pattern

SIGNATURES = json.loads(SIGNATURES_FILE.read_text())

NESTED_QUANTIFIERS = [
    r"(a+)+",
    r"(a*)*",
    r"(a|aa)+",
    r"(.*a){20}",
    r"(\w+\s?)+$",
    r"^(a+)+$",
    r"(x+x+)+y",
    r"(\d|\d\d)+!",
    r"(a.|.a)+$",
    r"((?:\d+,)+)+x",
    r"(?:a{1,40}){1,40}",
    r"(?:\S+\s*)+=",
    r"ERROR: (?:[\w.]+ ?)*failed",
    r"(?=(a+)+b)",  # inside a lookahead it backtracks just the same
]

POLYNOMIAL = [
    r"\d+\d+\d+x",  # cubic: three ways to split every run of digits
    r".*.*.*=",
]

ORDINARY = [
    r"\bOutOfMemoryError\b",
    r"Caused by: .*Timeout",
    r"java\.\w+\.\w+Exception",
    r"Container killed by YARN for exceeding memory limits\. [\d.]+ [GM]B of [\d.]+ [GM]B",
    r"\b\d{1,3}(?:,\d{3})+\b",
    r"(?:\d+,)+\d+",  # repeated, but ',' separates the repetitions
    r"(?:[a-z0-9-]{1,63}\.){1,10}amazonaws\.com",
    r"s3://[^\s/]+/\S*",
    r"ERROR\s+\[[^\]]*\]\s+(\w+):",
    r"(?:\s*,\s*\w+)*",
    r"(?:ab|cd)+e",  # alternatives with distinct first characters: one way to split any subject
    r"(?>a+)+b",  # atomic: never backtracks into a+
    r"(?:a++)+b",  # possessive, likewise
    r"\S+Exception",  # quadratic on a 2 KB run of non-spaces, but bounded by the line cap
    r"No space left on device",
    r"(?i)throttl(?:ed|ing)|Rate exceeded|SlowDown",
]


@pytest.mark.parametrize("pattern", NESTED_QUANTIFIERS)
def test_nested_quantifiers_are_rejected(pattern):
    with pytest.raises(UnsafePattern, match="nested quantifier"):
        check_pattern(pattern)


@pytest.mark.parametrize("pattern", POLYNOMIAL)
def test_the_probe_rejects_polynomial_blowup_the_static_rule_misses(pattern):
    with pytest.raises(UnsafePattern, match="catastrophic backtracking"):
        check_pattern(pattern)


@pytest.mark.parametrize("signature", SIGNATURES, ids=[signature["id"] for signature in SIGNATURES])
def test_every_shipped_signature_is_accepted(signature):
    check_pattern(signature["pattern"], flags=re.IGNORECASE)  # as the classifier compiles them


@pytest.mark.parametrize("pattern", ORDINARY)
def test_ordinary_patterns_are_accepted(pattern):
    check_pattern(pattern, flags=re.IGNORECASE)


def test_ignore_case_can_make_a_separator_ambiguous():
    check_pattern(r"(?:a+B)+")
    with pytest.raises(UnsafePattern):
        check_pattern(r"(?:a+A)+", flags=re.IGNORECASE)


def test_unsafe_pattern_is_a_value_error():
    assert issubclass(UnsafePattern, ValueError)


def test_a_pattern_that_does_not_compile_raises_re_error():
    with pytest.raises(re.error):
        check_pattern(r"(unclosed")


def test_an_overlong_pattern_is_rejected():
    with pytest.raises(UnsafePattern, match="characters"):
        check_pattern("a" * (MAX_PATTERN_CHARS + 1))


def test_deeply_nested_pattern_is_rejected_not_crashed():
    with pytest.raises(UnsafePattern, match="nested too deeply"):
        check_pattern("(" * 900 + "a" + ")" * 900)


OLD_BAD_RECORDS = (
    r"\b(\d[\d,]*)\s+(?:of|out of)\s+(\d[\d,]*)\s+(?:input\s+)?(?:records|rows)\s+"
    r"(?:failed|were rejected|rejected|are invalid|invalid|were bad|bad)"
)
NEW_BAD_RECORDS = (  # the linear-time replacement proposed for evidence.py
    r"(?:(?<![\w,])|(?<=[^\d,],))(\d[\d,]*)\s+(?:of|out of)\s+(\d[\d,]*)\s+(?:input\s+)?(?:records|rows)\s+"
    r"(?:failed|were rejected|rejected|are invalid|invalid|were bad|bad)"
)


def test_quadratic_patterns_fail_when_the_text_is_not_capped():
    # evidence.py runs its bad-record pattern on whole logs: probe it with long subjects.
    with pytest.raises(UnsafePattern, match="catastrophic backtracking"):
        check_pattern(OLD_BAD_RECORDS, flags=re.IGNORECASE, max_subject_chars=65536, probe_budget_seconds=5)
    check_pattern(NEW_BAD_RECORDS, flags=re.IGNORECASE, max_subject_chars=65536, probe_budget_seconds=5)
