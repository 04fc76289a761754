"""Signed answer links: only an untouched, unexpired link signed with the stack's key verifies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.signed_links import (
    ExpiredLinkError,
    LinkError,
    MalformedLinkError,
    SignedLink,
    TamperedLinkError,
    new_link,
    sign,
    verify,
)
from selfheal_core.errors import ConfigurationError, InvalidInputError

KEY = b"k" * 32 + b"-the-stack-key"
OTHER_KEY = b"o" * 48
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
EXPIRES = "2026-12-02T02:00:00.000Z"


def _token(decision: str = "approve", expires_at: str = EXPIRES, key: bytes = KEY) -> tuple[SignedLink, str]:
    link = new_link("inc-0123456789abcdef", decision, expires_at)
    return link, sign(link, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_signed_link_verifies_to_exactly_what_was_signed() -> None:
    for decision in ("approve", "reject"):
        link, token = _token(decision)
        assert verify(token, KEY, NOW) == link
        assert link.expiry() == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_tokens_are_url_safe_and_each_link_is_unique() -> None:
    tokens = {_token()[1] for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize("field", ["i", "d", "e", "n"])
def test_changing_any_signed_field_is_tampering(field: str) -> None:
    _, token = _token()
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body[field] = {"i": "inc-ffffffffffffffff", "d": "reject", "e": "2027-01-01T00:00:00Z", "n": "x"}[field]
    forged = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    with pytest.raises(TamperedLinkError):
        verify(f"{forged}.{signature}", KEY, NOW)


def test_an_approve_link_cannot_be_turned_into_a_reject_link_and_back() -> None:
    approve, approve_token = _token("approve")
    reject = sign(SignedLink(approve.incident_id, "reject", approve.expires_at, approve.nonce), KEY)
    spliced = f"{reject.split('.')[0]}.{approve_token.split('.')[1]}"
    with pytest.raises(TamperedLinkError):
        verify(spliced, KEY, NOW)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_flipping_any_bit_of_the_token_never_verifies(data: st.DataObject) -> None:
    _, token = _token()
    raw = bytearray(token.encode())
    index = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    raw[index] ^= 1 << bit
    try:
        changed = raw.decode()
    except UnicodeDecodeError:
        return  # not even text: a URL could not carry it
    if changed == token:
        return
    # base64url ignores the unused low bits of the last character: such a flip decodes to the same bytes,
    # so it is the same token, and verifying it is no forgery. Anything else must fail.
    try:
        verify(changed, KEY, NOW)
    except LinkError:
        return
    assert _canonical(changed) == _canonical(token)


def _canonical(token: str) -> tuple[bytes, bytes]:
    payload, signature = token.split(".")
    decode = lambda text: base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # noqa: E731
    return decode(payload), decode(signature)


def test_a_link_signed_with_another_key_is_tampered() -> None:
    _, token = _token(key=OTHER_KEY)
    with pytest.raises(TamperedLinkError):
        verify(token, KEY, NOW)


def test_an_expired_link_is_refused_and_says_when_it_expired() -> None:
    _, token = _token(expires_at="2026-12-01T01:59:59Z")
    with pytest.raises(ExpiredLinkError, match="2026-12-01T01:59:59Z"):
        verify(token, KEY, NOW)
    _, token = _token(expires_at="2026-12-01T02:00:00Z")  # the expiry instant itself is too late
    with pytest.raises(ExpiredLinkError):
        verify(token, KEY, NOW)
    assert verify(token, KEY, NOW - timedelta(seconds=1)).decision == "approve"


def test_expiry_is_checked_only_after_the_signature() -> None:
    """A forged link claiming an old expiry is reported as forged, not as merely expired."""
    _, token = _token(expires_at="2020-01-01T00:00:00Z", key=OTHER_KEY)
    with pytest.raises(TamperedLinkError):
        verify(token, KEY, NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot-at-all",
        ".",
        "abc.",
        ".abc",
        "a.b.c",
        "é.x",
        "!!!!.????",
        "x" * 5000,
    ],
)
def test_malformed_tokens_are_refused_with_a_link_error(token: str) -> None:
    with pytest.raises(LinkError):
        verify(token, KEY, NOW)


def test_a_well_signed_payload_that_is_not_a_link_is_malformed() -> None:
    """Signed with the right key but not by ``sign`` (another version, missing fields): still refused."""
    import hashlib
    import hmac

    for body in (b"[]", b'{"v":2,"i":"a","d":"approve","e":"2027-01-01T00:00:00Z","n":"x"}', b'{"v":1}'):
        payload = _b64(body)
        mac = _b64(hmac.new(KEY, payload.encode(), hashlib.sha256).digest())
        with pytest.raises(MalformedLinkError):
            verify(f"{payload}.{mac}", KEY, NOW)


def test_link_errors_are_invalid_input_and_keys_must_be_long_enough() -> None:
    assert issubclass(LinkError, InvalidInputError)
    _, token = _token()
    with pytest.raises(ConfigurationError):
        verify(token, b"short", NOW)
    with pytest.raises(ConfigurationError):
        sign(new_link("inc-1", "approve", EXPIRES), b"short")


def test_only_approve_and_reject_links_can_be_made() -> None:
    with pytest.raises(ValueError, match="approve or reject"):
        sign(new_link("inc-1", "resolved", EXPIRES), KEY)
    with pytest.raises(MalformedLinkError):
        sign(new_link("inc-1", "approve", "tomorrow"), KEY)
