"""Input hygiene: cap, decode, clean and bound whatever selfheal reads before it reasons about it.

Everything selfheal ingests (error logs, event payloads, operator settings) comes from outside the
trust boundary. These helpers make the size, encoding, nesting and numeric range of such input
explicit, and reject what is out of bounds with ``InputRejected``, a ``ValueError`` whose message
names the field and the limit. They are linear in the input and never recurse, so a hostile input
cannot exhaust the stack or the time budget before it is refused.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate

DEFAULT_TEXT_LIMIT = 65536
DEFAULT_MAX_DEPTH = 32
DEFAULT_INT_MAXIMUM = 10**12
REPLACEMENT_CHARACTER = "\ufffd"
# The smallest limit cap_text accepts: room for the marker with a 20-digit count, and some text.
MIN_TEXT_LIMIT = 64


class InputRejected(ValueError):
    """Input outside selfheal's bounds; the message names the field and the limit it broke."""


# --------------------------------------------------------------------------- text


def _truncation_marker(dropped: int) -> str:
    return f"\n…[selfheal: truncated {dropped} characters]…\n"


def cap_text(text: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around a visible marker.

    The result is never longer than ``limit``. Head and tail are kept because a Glue log's first
    error and its final cause are both at the ends; the middle is mostly repeated stack frames.
    """
    if limit < MIN_TEXT_LIMIT:
        raise ValueError(f"cap_text limit must be at least {MIN_TEXT_LIMIT}, got {limit}")
    if len(text) <= limit:
        return text
    # Size the marker for the largest count it could show, so the result can only be shorter.
    kept = limit - len(_truncation_marker(len(text)))
    head = (kept + 1) // 2
    tail = kept - head
    marker = _truncation_marker(len(text) - kept)
    return text[:head] + marker + (text[-tail:] if tail else "")


def decode_utf8(data: bytes) -> tuple[str, bool]:
    """``data`` as text, invalid bytes replaced by U+FFFD; the flag says whether any were.

    The flag cannot be read off the result: valid UTF-8 may itself contain U+FFFD.
    """
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


# Lone surrogates cannot be encoded (boto3, json.dumps(ensure_ascii=False) and DynamoDB fail on
# them); NUL truncates C strings and is refused by some stores.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with NULs and surrogate code points replaced by U+FFFD, so it encodes as UTF-8."""
    return _UNSTORABLE.sub(REPLACEMENT_CHARACTER, text)


# --------------------------------------------------------------------------- JSON


def check_depth(value: object, max_depth: int = DEFAULT_MAX_DEPTH, *, field: str = "value") -> None:
    """Raise ``InputRejected`` when lists/dicts in ``value`` nest deeper than ``max_depth``.

    ``[]`` has depth 1, ``[[]]`` depth 2, a scalar depth 0. Iterative: a 100k-deep list is refused
    without recursion. A cyclic structure is refused too (its depth is unbounded).
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        children = _children(node)
        if children is None:
            continue
        if depth + 1 > max_depth:
            raise InputRejected(f"{field}: nesting deeper than {max_depth} levels")
        pending.extend((child, depth + 1) for child in children)


def _children(node: object) -> list[object] | None:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list | tuple):
        return list(node)
    return None


# A JSON string, escapes included. The unrolled loop has no overlapping alternatives, and the
# closing quote is optional: an unterminated string runs to the end instead of failing and being
# rescanned from each escaped quote inside it (which would be quadratic).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*"?')
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_nesting_depth(text: str) -> int:
    """The deepest bracket nesting in JSON ``text``, brackets inside strings ignored; linear time.

    Runs in C (regex substitution, ``accumulate``), so a megabyte costs milliseconds, and never
    builds the nested value that would overflow the parser's recursion.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _utf8_length_exceeds(text: str, max_bytes: int) -> bool:
    if len(text) > max_bytes:  # every character is at least one byte
        return True
    if len(text) * 4 <= max_bytes:  # and at most four
        return False
    return len(text.encode("utf-8", errors="surrogatepass")) > max_bytes


def load_json_bounded(
    data: str | bytes, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH, *, field: str = "payload"
) -> object:
    """Parse JSON that is at most ``max_bytes`` long and ``max_depth`` deep, else ``InputRejected``.

    Size and nesting are checked *before* ``json.loads``: the parser recurses per level and
    raises RecursionError (or worse) on ~100k nested brackets.
    """
    text = _bounded_text(data, max_bytes, field)
    depth = json_nesting_depth(text)
    if depth > max_depth:
        raise InputRejected(f"{field}: JSON nests {depth} levels, more than the limit of {max_depth}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError also covers ints over 4300 digits
        raise InputRejected(f"{field}: not valid JSON ({error})") from None


def _bounded_text(data: str | bytes, max_bytes: int, field: str) -> str:
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise InputRejected(f"{field}: {len(data)} bytes, more than the limit of {max_bytes} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputRejected(f"{field}: not UTF-8 ({error.reason} at byte {error.start})") from None
    if _utf8_length_exceeds(data, max_bytes):
        raise InputRejected(f"{field}: more than the limit of {max_bytes} bytes")
    return data


# --------------------------------------------------------------------------- numbers


def strict_int(
    value: object,
    *,
    field: str = "value",
    minimum: int = 0,
    maximum: int = DEFAULT_INT_MAXIMUM,
) -> int:
    """``value`` as an int in ``[minimum, maximum]``, else ``InputRejected``.

    Accepts ints and integral floats (JSON has one number type: ``3.0`` is 3). Rejects bools
    (``True`` is an int in Python, never a count in selfheal), strings, fractions, NaN and inf.
    """
    number = _integral(value, field)
    if not minimum <= number <= maximum:
        raise InputRejected(f"{field}: {number} is outside [{minimum}, {maximum}]")
    return number


def _integral(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputRejected(f"{field}: expected an integer, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InputRejected(f"{field}: expected an integer, got {value!r}")
        return int(value)
    return value


def strict_fraction(value: object, *, field: str = "value") -> float:
    """``value`` as a finite float in ``[0, 1]``, else ``InputRejected`` (bools and strings too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputRejected(f"{field}: expected a number in [0, 1], got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InputRejected(f"{field}: {value!r} is not a fraction in [0, 1]")
    return number
