"""Redaction: every secret shape in tests/data/secret_shapes.json goes, every non-secret stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.redaction import MARKER, redact, redact_json

SHAPES = json.loads((Path(__file__).resolve().parents[1] / "data" / "secret_shapes.json").read_text())
SECRETS = SHAPES["secrets"]
KEEP = SHAPES["keep"]
MB = 1 << 20


def test_corpus_is_big_enough():
    assert len(SECRETS) >= 30
    assert len(KEEP) >= 20


@pytest.mark.parametrize("shape", SECRETS, ids=[shape["shape"] for shape in SECRETS])
def test_secret_is_redacted(shape):
    redacted = redact(shape["text"])
    assert shape["secret"] not in redacted
    assert MARKER in redacted


@pytest.mark.parametrize("text", KEEP)
def test_non_secret_survives_unchanged(text):
    assert redact(text) == text


@pytest.mark.parametrize("text", [shape["text"] for shape in SECRETS] + KEEP)
def test_idempotent(text):
    once = redact(text)
    assert redact(once) == once


FRAGMENTS = (
    [shape["text"] for shape in SECRETS]
    + KEEP
    + [" ", "\n", "=", ":", '"', "'", "&", ";", "@", "?", "\\", "password", "token", "Bearer "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5), st.integers(min_value=0, max_value=40))
def test_idempotent_on_run_together_fragments(parts, cut):
    # Shapes glued without spaces: one pass must not expose a match the next pass would change.
    text = "".join(parts)[cut:]
    once = redact(text)
    assert redact(once) == once


# --------------------------------------------------------------------------- what stays readable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "jdbc:postgresql://etl:pw1@db.internal:5432/sales?ssl=true",
            f"jdbc:postgresql://etl:{MARKER}@db.internal:5432/sales?ssl=true",
        ),
        ("jdbc:sqlserver://h;user=u;password=pw;db=x", f"jdbc:sqlserver://h;user=u;password={MARKER};db=x"),
        ("https://h/p?user=u&password=pw&ssl=1", f"https://h/p?user=u&password={MARKER}&ssl=1"),
        ('{"password": "x"}', f'{{"password": "{MARKER}"}}'),
        ("DB_PASSWORD='x y'", f"DB_PASSWORD='{MARKER}'"),
        ("Authorization: Bearer abc.def.ghi", f"Authorization: Bearer {MARKER}"),
        ("key AKIAIOSFODNN7EXAMPLE used", f"key AKIA{MARKER} used"),
    ],
)
def test_only_the_secret_part_is_replaced(text, expected):
    assert redact(text) == expected


def test_secret_inside_a_long_error_message_keeps_the_message():
    text = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling o91.load.\n"
        ": org.postgresql.util.PSQLException: Connection to jdbc:postgresql://etl:pw9@db:5432/x refused.\n"
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:319)"
    )
    redacted = redact(text)
    assert "pw9" not in redacted
    assert redacted == text.replace("pw9", MARKER)


def test_unterminated_quoted_value_is_redacted_to_end_of_line():
    redacted = redact('password="abc def\nnext line')
    assert "abc" not in redacted
    assert redacted.endswith("\nnext line")


# --------------------------------------------------------------------------- redact_json


def test_redact_json_walks_nested_structures():
    value = {
        "job": "nightly",
        "args": ["--conn", "jdbc:mysql://u:pw1@h/db", {"password": "pw2", "retries": 3}],
        "nested": {"deeper": [{"SessionToken": "tok3", "ok": "jr_" + "a" * 64}]},
        "apiKey": 12345,
        "password_hash": "keepme",
        "token": None,
        "secret": "",
    }
    redacted = redact_json(value)
    dumped = json.dumps(redacted)
    for secret in ("pw1", "pw2", "tok3", "12345"):
        assert secret not in dumped
    assert redacted["args"][2] == {"password": MARKER, "retries": 3}
    assert redacted["nested"]["deeper"][0]["ok"] == "jr_" + "a" * 64
    assert redacted["password_hash"] == "keepme"
    assert redacted["token"] is None
    assert redacted["secret"] == ""


def test_redact_json_does_not_mutate_its_input():
    value = {"password": "pw", "items": ["token=abc"]}
    redact_json(value)
    assert value == {"password": "pw", "items": ["token=abc"]}


def test_redact_json_replaces_what_is_too_deep_to_inspect():
    deep: object = "password=pw"
    for _ in range(50):
        deep = [deep]
    redacted = redact_json(deep, max_depth=10)
    assert "pw" not in json.dumps(redacted).replace(MARKER, "")
    assert MARKER in json.dumps(redacted)


def test_redact_json_leaves_scalars():
    assert redact_json(3) == 3
    assert redact_json(None) is None
    assert redact_json(True) is True
    assert redact_json("token=abc") == f"token={MARKER}"


# --------------------------------------------------------------------------- adversarial input


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


ADVERSARIAL = {
    "pem headers without end": _fill("-----BEGIN PRIVATE KEY-----"),
    "pem body without end": "-----BEGIN PRIVATE KEY-----" + _fill("A"),
    "pem with dashes": _fill("-----BEGIN RSA PRIVATE KEY-----\nAAAA-"),
    "url schemes": _fill("a"),
    "url user-info without host": "x://" + _fill("u:"),
    "url user-info repeated": _fill("h://u:p@"),
    "oracle thin": _fill("jdbc:oracle:thin:a/"),
    "key words": _fill("password"),
    "key separators": _fill("password="),
    "unterminated quotes": _fill("password=' "),
    "escaped quotes": 'password="' + _fill("\\a"),
    "long key prefixes": _fill("a.b-c_"),
    "prose after colon": _fill("token: The "),
    "aws secret keyword": _fill("secret_access_key="),
    "aws secret base64": "secret_key " + _fill("A"),
    "access key ids": _fill("AKIAAAAAAAAAAAAAAAAA"),
    "authorization headers": _fill("Authorization: Bearer "),
    "bearer": "bearer " + _fill("a"),
    "query signatures": _fill("?signature="),
    "sql literals": _fill("password '"),
    "comma digits": _fill("1,"),
    "whitespace": _fill(" \t"),
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_megabyte_of_adversarial_text_completes(text):
    redacted = redact(text)
    assert isinstance(redacted, str)
