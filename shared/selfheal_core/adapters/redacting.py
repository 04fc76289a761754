"""The one hygiene pass between selfheal and everything that keeps or forwards what it saw.

``RedactingEventStore`` wraps the event store, ``RedactingNotifier`` the notifier (the log filter is in
``runtime/observability.py``). Each new event's JSON data is, before the wrapped store sees it:

1. **redacted** (``domain/redaction.redact_json``: the secret part of every recognised shape in every
   string, and the whole value under a key that names a secret);
2. **cleaned** (NUL and lone surrogates become U+FFFD, so SQLite, DynamoDB, S3 and ``json.dumps`` with
   ``ensure_ascii=False`` can all encode it);
3. **capped**: every string at ``MAX_STORED_CHARS`` (64 K characters, head and tail kept around a
   visible ``…[selfheal: truncated N characters]…`` marker), so a 10 MB Glue message is stored as 64 K,
   in the ``opened`` trigger and in a ``validated`` error message alike. Evidence lines (300 characters
   each, at most three) are far below the cap and stay whole. The untrusted part of an ``opened`` event
   (the raw trigger) also has its lists and objects cut to ``MAX_TRIGGER_ITEMS`` entries, and when an
   event's JSON would still exceed ``MAX_EVENT_DATA_BYTES`` (DynamoDB items stop at 400 KB) strings
   are capped harder, in steps, until it fits.

Why a wrapper on the port, outermost (``RedactingEventStore(AuditedEventStore(store, sink))``), and
not inside ``IncidentEvent.to_record``: one place covers every backend (DynamoDB, SQLite, the
in-memory store) *and* the audit sink, which both receive the already-redacted event; the domain
events stay plain data with exact round-trips; and the record the store returns (which the step folds)
is the redacted one, so a step decides on exactly what a later reload will see.

Only what selfheal *stores or sends* passes through here. Control payloads the workflow needs back
(the Step Functions task token in the ASL's decision request, handler results) never do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from selfheal_core.domain.bounds import cap_text, clean_text
from selfheal_core.domain.events import AnswerRequested, DomainEvent, E, IncidentEvent, Opened
from selfheal_core.domain.redaction import MARKER, MAX_JSON_DEPTH, redact, redact_json
from selfheal_core.ports import EventStore, Notifier

MAX_STORED_CHARS = 65536
PRE_CAP_CHARS = 4 * MAX_STORED_CHARS
MAX_TRIGGER_ITEMS = 256
MAX_EVENT_DATA_BYTES = 300_000  # under DynamoDB's 400 KB item limit, with room for the envelope
MAX_MESSAGE_BYTES = 200_000  # SNS messages stop at 256 KB
MAX_SUBJECT_CHARS = 100
MAX_ABS_INT = 10**18
# Tighter caps, tried in order when the JSON is still too large: (string cap, container items).
_SHRINK_STEPS = ((MAX_STORED_CHARS, MAX_TRIGGER_ITEMS), (8192, 64), (1024, 16), (256, 4), (64, 2))
TRUNCATED_KEY = "selfheal_truncated"


def _bounded(value: object, string_cap: int, item_cap: int | None, depth: int = MAX_JSON_DEPTH) -> object:
    """A copy with every string cleaned and capped, containers cut to ``item_cap`` entries (if given)
    and anything nested deeper than ``depth`` replaced by the redaction marker."""
    if isinstance(value, str):
        return cap_text(clean_text(value), string_cap)
    if isinstance(value, Mapping | list | tuple) and depth <= 0:
        return MARKER
    if isinstance(value, Mapping):
        items = list(value.items())
        out: dict[Any, object] = {}
        for key, item in items if item_cap is None else items[:item_cap]:
            out[_bounded(key, string_cap, None) if isinstance(key, str) else key] = _bounded(
                item, string_cap, item_cap, depth - 1
            )
        if item_cap is not None and len(items) > item_cap:
            out[TRUNCATED_KEY] = f"{len(items) - item_cap} more entries not kept"
        return out
    if isinstance(value, list | tuple):
        kept = list(value) if item_cap is None else list(value)[:item_cap]
        bounded = [_bounded(item, string_cap, item_cap, depth - 1) for item in kept]
        if item_cap is not None and len(value) > item_cap:
            bounded.append(f"[selfheal: {len(value) - item_cap} more items not kept]")
        return bounded
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ABS_INT:
        return None  # json.dumps cannot print an integer of more than 4,300 digits
    return value


def _json_bytes(value: object) -> int:
    return len(json.dumps(value, default=str))  # ensure_ascii: an upper bound on the UTF-8 size


def _redacted(value: object) -> object:
    """``redact_json`` of ``value`` after a generous first cap (``PRE_CAP_CHARS``), so a 10 MB string
    costs a redaction of 256 K. Redaction matches are at most a few K long, so whatever the final cap
    keeps (the first and last 32 K) is redacted exactly as if the whole string had been."""
    return redact_json(_bounded(value, PRE_CAP_CHARS, None))


def hygienic_data(event: DomainEvent) -> dict[str, Any]:
    """The JSON data of ``event`` as it may be stored: redacted, cleaned and capped (see module doc)."""
    data = _redacted(event.to_data())
    assert isinstance(data, dict)
    bounded: dict[str, Any] = {}
    for string_cap, item_cap in _SHRINK_STEPS:
        bounded = {
            key: _bounded(value, string_cap, item_cap if _untrusted(event, key) else None)
            for key, value in data.items()
        }
        if _json_bytes(bounded) <= MAX_EVENT_DATA_BYTES:
            break
    if isinstance(event, AnswerRequested):
        # The task token is a control value the answer needs back (its key names a "token"); it is
        # Step Functions' own, never something a job or a log put there.
        bounded["task_token"] = event.task_token
    return bounded


def _untrusted(event: DomainEvent, key: str) -> bool:
    """The parts of an event whose shape came from outside (and may hold anything, at any size)."""
    return isinstance(event, Opened) and key == "trigger"


def hygienic(event: E) -> E:
    """``event`` rebuilt from its hygienic data (same type, same fields, secrets and excess gone)."""
    return type(event).from_data(hygienic_data(event))


class RedactingEventStore:
    """An event store that redacts, cleans and caps each new event before the wrapped store (and,
    through it, the audit sink) sees it. Loads pass through unchanged."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        return self.store.open(incident_id, hygienic(opened))

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        return self.store.append(incident_id, hygienic(event), expected_seq)

    def load(self, incident_id: str) -> list[IncidentEvent]:
        return self.store.load(incident_id)


def clean_subject(subject: str) -> str:
    """One redacted line of printable ASCII, at most 100 characters: what SNS accepts as a subject."""
    text = redact(clean_text(subject[:PRE_CAP_CHARS]))
    printable = "".join(char if " " <= char <= "~" else "?" for char in text[: MAX_SUBJECT_CHARS * 4])
    return printable[:MAX_SUBJECT_CHARS]


def hygienic_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` redacted, cleaned and capped so its JSON fits in an SNS message."""
    data = _redacted(dict(message))
    assert isinstance(data, dict)
    bounded: dict[str, Any] = {}
    for string_cap, item_cap in _SHRINK_STEPS:
        bounded = {str(key): _bounded(value, string_cap, item_cap) for key, value in data.items()}
        if _json_bytes(bounded) <= MAX_MESSAGE_BYTES:
            break
    return bounded


class RedactingNotifier:
    """A notifier whose subject and message are redacted (and bounded) before they are sent."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        return self.notifier.publish(clean_subject(subject), hygienic_message(message))
