"""Input hygiene: caps, decoding, cleaning, bounded JSON and strict numbers."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from selfheal_core.domain.bounds import (
    MIN_TEXT_LIMIT,
    InputRejected,
    cap_text,
    check_depth,
    clean_text,
    decode_utf8,
    json_nesting_depth,
    load_json_bounded,
    strict_fraction,
    strict_int,
)

MARKER_START = "\n…[selfheal: truncated "

# --------------------------------------------------------------------------- cap_text


@given(st.text(max_size=3000), st.integers(min_value=MIN_TEXT_LIMIT, max_value=2000))
def test_cap_text_is_bounded_and_marks_truncation(text, limit):
    assume(MARKER_START not in text)
    capped = cap_text(text, limit)
    assert len(capped) <= limit
    assert (MARKER_START in capped) == (len(text) > limit)
    if len(text) <= limit:
        assert capped == text


@given(
    st.text(alphabet="abcxyz\n", min_size=1, max_size=5000),
    st.integers(min_value=MIN_TEXT_LIMIT, max_value=1000),
)
def test_cap_text_keeps_head_and_tail(text, limit):
    capped = cap_text(text, limit)
    if len(text) <= limit:
        assert capped == text
        return
    head, _, rest = capped.partition(MARKER_START)
    dropped_text, _, tail = rest.partition(" characters]…\n")
    assert text.startswith(head)
    assert text.endswith(tail)
    assert int(dropped_text) == len(text) - len(head) - len(tail)
    assert abs(len(head) - len(tail)) <= 1


def test_cap_text_marker_is_visible():
    capped = cap_text("a" * 100_000, 1000)
    assert "…[selfheal: truncated 99" in capped
    assert capped.startswith("a") and capped.endswith("a")


def test_cap_text_default_limit_leaves_short_text_alone():
    assert cap_text("short") == "short"


def test_cap_text_refuses_a_limit_too_small_for_the_marker():
    with pytest.raises(ValueError, match="at least"):
        cap_text("abc", 10)


# --------------------------------------------------------------------------- decoding and cleaning


def test_decode_utf8_valid():
    assert decode_utf8("héllo \ufffd".encode()) == ("héllo \ufffd", False)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe", b"abc\x80", b"\xed\xa0\x80", b"caf\xc3"],  # stray, continuation, surrogate, truncated
)
def test_decode_utf8_invalid_bytes_are_replaced_and_flagged(data):
    text, replaced = decode_utf8(data)
    assert replaced
    assert "\ufffd" in text
    text.encode("utf-8")  # always encodable


@given(st.binary(max_size=200))
def test_decode_utf8_never_raises_and_flag_is_honest(data):
    text, replaced = decode_utf8(data)
    text.encode("utf-8")
    try:
        data.decode("utf-8")
        assert not replaced
    except UnicodeDecodeError:
        assert replaced


def test_clean_text_replaces_nul_and_lone_surrogates():
    assert clean_text("a\x00b\ud800c\udfffd") == "a\ufffdb\ufffdc\ufffdd"
    assert clean_text("plain ✓ text") == "plain ✓ text"


@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_clean_text_is_always_encodable(text):
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert len(cleaned) == len(text)


# --------------------------------------------------------------------------- depth


def test_check_depth_accepts_up_to_the_limit():
    check_depth([[[]]], 3)
    check_depth({"a": {"b": [1, 2]}}, 3)
    check_depth("scalar", 0)


def test_check_depth_rejects_deeper():
    with pytest.raises(InputRejected, match="deeper than 2"):
        check_depth([[[]]], 2)


def test_check_depth_is_iterative_on_100k_nesting():
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(InputRejected):
        check_depth(value, 32)


def test_check_depth_rejects_cycles():
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(InputRejected):
        check_depth(loop, 32)


def test_check_depth_names_the_field():
    with pytest.raises(InputRejected, match=r"^detail: "):
        check_depth([[1]], 1, field="detail")


# --------------------------------------------------------------------------- load_json_bounded


def test_load_json_bounded_parses_within_limits():
    assert load_json_bounded('{"a": [1, {"b": "[[[["}]}', 100, 3) == {"a": [1, {"b": "[[[["}]}
    assert load_json_bounded(b'{"x": "\\"]]"}', 100, 1) == {"x": '"]]'}


@pytest.mark.parametrize(
    "data", ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000]
)
def test_load_json_bounded_rejects_deep_nesting_before_parsing(data):
    with pytest.raises(InputRejected, match="nests"):
        load_json_bounded(data, 1 << 20, 32)


def test_load_json_bounded_rejects_oversize_input():
    with pytest.raises(InputRejected, match="limit of 10 bytes"):
        load_json_bounded(b'"' + b"a" * 20 + b'"', 10, 32)
    with pytest.raises(InputRejected, match="limit of 10 bytes"):
        load_json_bounded('"ééééééé"', 10, 32)  # 9 characters, 16 bytes


@pytest.mark.parametrize("data", ["{", "[1,]", b"\xff", "1" * 5000, '"unterminated \\" [[['])
def test_load_json_bounded_rejects_invalid_json_with_a_clear_error(data):
    with pytest.raises(InputRejected, match=r"^payload: "):
        load_json_bounded(data, 1 << 20, 32)


def test_load_json_bounded_is_fast_on_adversarial_strings():
    # Escaped quotes in an unterminated string must not be rescanned from each quote.
    for data in ['"' + 'a\\"' * 300_000, '"\\' * 400_000, '"' + "[" * (1 << 20)]:
        with pytest.raises(InputRejected):
            load_json_bounded(data, 2 << 20, 32)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_json_nesting_depth_agrees_with_check_depth(value):
    depth = json_nesting_depth(json.dumps(value))
    check_depth(value, depth)
    if depth:
        with pytest.raises(InputRejected):
            check_depth(value, depth - 1)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [True, False, "3", b"3", None, 3.5, math.nan, math.inf, -math.inf, [3]])
def test_strict_int_rejects_non_integers(value):
    with pytest.raises(InputRejected, match="count"):
        strict_int(value, field="count")


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (7, 7), (7.0, 7), (10**12, 10**12)])
def test_strict_int_accepts_integers(value, expected):
    assert strict_int(value) == expected
    assert type(strict_int(value)) is int


@pytest.mark.parametrize("value", [-1, 10**12 + 1])
def test_strict_int_rejects_out_of_range(value):
    with pytest.raises(InputRejected, match=r"outside \[0, 1000000000000\]"):
        strict_int(value)


@given(st.integers(), st.integers(min_value=-1000, max_value=1000), st.integers(min_value=0, max_value=2000))
def test_strict_int_property(value, minimum, span):
    maximum = minimum + span
    if minimum <= value <= maximum:
        assert strict_int(value, minimum=minimum, maximum=maximum) == value
    else:
        with pytest.raises(InputRejected):
            strict_int(value, minimum=minimum, maximum=maximum)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_strict_int_on_floats(value):
    if math.isfinite(value) and value.is_integer() and 0 <= value <= 10**12:
        assert strict_int(value) == int(value)
    else:
        with pytest.raises(InputRejected):
            strict_int(value)


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (1, 1.0), (0.25, 0.25), (1.0, 1.0)])
def test_strict_fraction_accepts(value, expected):
    assert strict_fraction(value) == expected


@pytest.mark.parametrize("value", [True, "0.5", None, -0.01, 1.0001, math.nan, math.inf, 2])
def test_strict_fraction_rejects(value):
    with pytest.raises(InputRejected, match=r"^ratio: "):
        strict_fraction(value, field="ratio")
