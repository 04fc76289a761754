"""Signed one-click answers: a link that approves or rejects one incident's wait, and nothing else.

A link carries a token ``<payload>.<mac>``, both base64url without padding: the payload is the compact
JSON of (version, incident id, decision, expiry, nonce) and the MAC is HMAC-SHA256 of the payload's
encoded bytes under the stack's key. Signing the bytes as sent, not a re-serialisation, leaves nothing to
canonicalise: any changed bit in either part fails ``hmac.compare_digest``. The expiry is the wait's own
(``AnswerRequested.expires_at``), so a link never outlives the question it answers; the nonce makes each
link unique, so the link function can refuse a second use (``ReplayedLinkError``, raised where the nonce
is claimed: this module holds no state).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from selfheal_core.errors import ConfigurationError, InvalidInputError

VERSION = 1
DECISIONS = ("approve", "reject")  # what one click may say; "resolved" needs words, so the CLI says it
MIN_KEY_BYTES = 32  # HMAC-SHA256's own output size: a shorter key weakens it
MAX_TOKEN_CHARS = 4096  # an incident id is at most a few hundred characters; anything longer is not ours
NONCE_BYTES = 16
TOKEN_PARAMETER = "t"  # the query (GET) or form (POST) field that carries the token


class LinkError(InvalidInputError):
    """A link that must not act. The message is safe to show to whoever clicked it."""


class MalformedLinkError(LinkError):
    """Not a token this code wrote (truncated by a mail client, pasted wrongly)."""


class TamperedLinkError(LinkError):
    """The signature does not match: changed, or signed with another key."""


class ExpiredLinkError(LinkError):
    """The wait it answered is over (a timeout never approves)."""


class ReplayedLinkError(LinkError):
    """The link was used before: each link acts once."""


@dataclass(frozen=True)
class SignedLink:
    incident_id: str
    decision: str  # one of DECISIONS
    expires_at: str  # ISO-8601 UTC, as the wait recorded it
    nonce: str

    def expiry(self) -> datetime:
        return _parse_time(self.expires_at)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise MalformedLinkError("this link is damaged (not valid base64url)") from error


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedLinkError(f"this link's expiry is not a time: {text!r}") from error
    if moment.tzinfo is None:
        raise MalformedLinkError(f"this link's expiry has no time zone: {text!r}")
    return moment.astimezone(UTC)


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"the link signing key must be at least {MIN_KEY_BYTES} bytes")


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def sign(link: SignedLink, key: bytes) -> str:
    """The token for ``link``."""
    _check_key(key)
    if link.decision not in DECISIONS:
        raise ValueError(f"a link can only {' or '.join(DECISIONS)}, not {link.decision!r}")
    _parse_time(link.expires_at)
    body = {"v": VERSION, "i": link.incident_id, "d": link.decision, "e": link.expires_at, "n": link.nonce}
    payload = _b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64encode(_mac(key, payload))}"


def new_link(incident_id: str, decision: str, expires_at: str) -> SignedLink:
    return SignedLink(incident_id, decision, expires_at, _b64encode(secrets.token_bytes(NONCE_BYTES)))


def verify(token: str, key: bytes, now: datetime) -> SignedLink:
    """The link ``token`` stands for, if this key signed it and it has not expired.

    The signature is checked before anything in the payload is believed; the expiry after, so an expired
    link is reported as expired only when it is genuine."""
    _check_key(key)
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise MalformedLinkError("this link has no valid token")
    payload, dot, signature = token.strip().partition(".")
    if not dot or not payload or not signature or not payload.isascii():
        raise MalformedLinkError("this link has no valid token")
    if not hmac.compare_digest(_mac(key, payload), _b64decode(signature)):
        raise TamperedLinkError("this link's signature does not match: it was changed or is not ours")
    try:
        body = json.loads(_b64decode(payload))
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedLinkError("this link's content is not readable") from error
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise MalformedLinkError("this link was made by another version of selfheal")
    fields = (body.get("i"), body.get("d"), body.get("e"), body.get("n"))
    if not all(isinstance(value, str) and value for value in fields):
        raise MalformedLinkError("this link is missing a field")
    link = SignedLink(*(str(value) for value in fields))
    if link.decision not in DECISIONS:
        raise MalformedLinkError(f"this link's decision {link.decision!r} is not one selfheal knows")
    if now.astimezone(UTC) >= link.expiry():
        raise ExpiredLinkError(f"this link expired at {link.expires_at}: the wait for an answer is over")
    return link


class UrlLinkSigner:
    """A ``ports.AnswerLinks``: links to the answer function at ``base_url``. The key is read per
    message, so a rotated secret is used as soon as its cached copy expires."""

    def __init__(self, base_url: str, key: Callable[[], bytes]) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.key = key

    def links_for(self, incident_id: str, expires_at: str) -> dict[str, str]:
        key = self.key()
        tokens = {d: sign(new_link(incident_id, d, expires_at), key) for d in DECISIONS}
        return {decision: f"{self.base_url}?{TOKEN_PARAMETER}={token}" for decision, token in tokens.items()}

    def links(self, incident_id: str, question: str, expires_at: str) -> dict[str, str]:
        """Per question: a link approves or rejects a proposal; a fix needs words (the CLI), so none."""
        return self.links_for(incident_id, expires_at) if question == "approval" else {}
