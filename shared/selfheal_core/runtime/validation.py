"""Input validation: bounds and strict types first, then the JSON Schemas in ``schemas/``.

A clear ``InvalidInputError`` (which the ASL catches into Escalate), never a KeyError, a RecursionError
or a 4,300-digit integer later. In order, before the schema sees the payload:

1. **bounds**: at most ``MAX_PAYLOAD_DEPTH`` levels of nesting (checked without recursion) and
   ``MAX_PAYLOAD_BYTES`` of JSON (an EventBridge event and a Step Functions state are both at most
   256 KB), no NaN, infinity or integer beyond 10**18;
2. **cleaning**: every string (keys too) has NUL and lone surrogates replaced by U+FFFD, so it can be
   hashed, stored and logged; the cleaned copy is what ``validate`` returns;
3. **strict types** of the fields selfheal reads from an EventBridge event: names and ids are strings
   without control characters, Data Quality counts are integers in ``[0, 10**6]``, the score a
   fraction in ``[0, 1]`` (JSON Schema alone lets ``1e400``, ``NaN`` and a 5,000-digit count through).

Escalate is the exception: it is where every rejected input ends up, with the input that was rejected,
so its payload is cleaned and depth-limited but never refused for size or depth (the incident must still
be recorded; the event store caps what it keeps).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from selfheal_core.domain.bounds import InputRejected, check_depth, clean_text, strict_fraction, strict_int
from selfheal_core.domain.redaction import redact
from selfheal_core.errors import InvalidInputError

SCHEMA_DIR = Path(__file__).parent / "schemas"
MAX_PAYLOAD_BYTES = 262_144
MAX_PAYLOAD_DEPTH = 32
MAX_ABS_INT = 10**18  # no number selfheal reads is larger; a 5,000-digit one cannot even be printed
MAX_COUNT = 10**6  # Data Quality rule counts
MAX_RULESETS = 1000
MAX_ERROR_CHARS = 300  # of a schema message in the error (it may quote the whole offending value)
# Data Quality rule counts, under both the names the samples used and those AWS sends.
COUNT_FIELDS = (
    "rulesFailed",
    "rulesSucceeded",
    "rulesSkipped",
    "numRulesFailed",
    "numRulesSucceeded",
    "numRulesSkipped",
)
LENIENT_SCHEMAS = frozenset({"escalate"})
TOO_DEEP = "[selfheal: nested too deeply, not kept]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    return Draft202012Validator(schema)


def validate(payload: Any, schema: str) -> Mapping[str, Any]:
    """``payload`` bounded, cleaned, type-checked and schema-checked; raises ``InvalidInputError``."""
    try:
        if schema in LENIENT_SCHEMAS:
            payload = _cleaned(payload, MAX_PAYLOAD_DEPTH, strict=False)
        else:
            check_depth(payload, MAX_PAYLOAD_DEPTH, field=f"{schema} input")
            payload = _cleaned(payload, MAX_PAYLOAD_DEPTH, strict=True)
            size = len(json.dumps(payload))
            if size > MAX_PAYLOAD_BYTES:
                raise InputRejected(
                    f"{schema} input: {size} bytes of JSON, more than the limit of {MAX_PAYLOAD_BYTES}"
                )
            if schema == "diagnose" and isinstance(payload, Mapping):
                _check_event_types(payload.get("event"))
    except InputRejected as error:
        raise InvalidInputError(f"invalid {_short(str(error))}") from None
    errors = sorted(_validator(schema).iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InvalidInputError(f"invalid {schema} input at {_short(where)}: {_short(first.message)}")
    if not isinstance(payload, Mapping):  # pragma: no cover - every schema requires an object
        raise InvalidInputError(f"invalid {schema} input: expected an object")
    return payload


def cleaned(value: Any) -> Any:
    """``value`` with clean strings, non-finite numbers as None and nothing deeper than the limit."""
    return _cleaned(value, MAX_PAYLOAD_DEPTH, strict=False)


def _short(text: str) -> str:
    """One redacted line of at most ``MAX_ERROR_CHARS`` characters (it goes to Step Functions and logs)."""
    line = _CONTROL.sub(" ", redact(clean_text(text[: MAX_ERROR_CHARS * 4])))
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def _cleaned(value: Any, depth_left: int, *, strict: bool, path: str = "") -> Any:
    """A copy with clean strings. Strict: a non-finite number is refused (naming where it is);
    lenient: it becomes None, and containers deeper than the limit become a marker (strict callers
    checked the depth already)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        if strict:
            raise InputRejected(f"input at {path.lstrip('/') or '(root)'}: {value!r} is not a JSON number")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ABS_INT:
        if strict:
            raise InputRejected(f"input at {path.lstrip('/') or '(root)'}: an integer beyond 10**18")
        return None
    if isinstance(value, dict | list | tuple) and depth_left <= 0:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            (clean_text(key) if isinstance(key, str) else key): _cleaned(
                item, depth_left - 1, strict=strict, path=f"{path}/{str(key)[:64]}" if strict else ""
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _cleaned(item, depth_left - 1, strict=strict, path=f"{path}/{index}" if strict else "")
            for index, item in enumerate(value)
        ]
    return value


# --------------------------------------------------------------------------- EventBridge event types


def _check_event_types(event: object) -> None:
    if not isinstance(event, Mapping):
        return  # the schema says what is wrong
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return
    for name in ("jobName", "jobRunId"):
        _name(detail, name, "event.detail")
    for name in ("state", "message", "resultID", "resultId"):
        _string(detail, name, "event.detail")
    for name in COUNT_FIELDS:
        if name in detail:
            strict_int(detail[name], field=f"event.detail.{name}", maximum=MAX_COUNT)
    if "score" in detail:
        strict_fraction(detail["score"], field="event.detail.score")
    rulesets = detail.get("rulesetNames")
    if rulesets is not None:
        if not isinstance(rulesets, list) or not all(isinstance(item, str) for item in rulesets):
            raise InputRejected("event.detail.rulesetNames: expected a list of strings")
        if len(rulesets) > MAX_RULESETS:
            raise InputRejected(f"event.detail.rulesetNames: more than {MAX_RULESETS} names")
    context = detail.get("context")
    if isinstance(context, Mapping):
        for name in ("jobName", "jobId"):
            _name(context, name, "event.detail.context")


def _string(container: Mapping[str, Any], name: str, where: str) -> None:
    if name in container and not isinstance(container[name], str):
        raise InputRejected(f"{where}.{name}: expected a string, got {type(container[name]).__name__}")


def _name(container: Mapping[str, Any], name: str, where: str) -> None:
    """A job name or run id: a string without control characters (Glue allows none in either)."""
    _string(container, name, where)
    value = container.get(name)
    if isinstance(value, str) and (_CONTROL.search(value) or "\ufffd" in value):
        raise InputRejected(f"{where}.{name}: contains control or invalid characters")
