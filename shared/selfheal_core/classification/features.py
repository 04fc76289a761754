"""Tokens and hashed feature vectors for the learned fallback (diagnosis/model.py).

Tokens: lower-cased words (``java.net.SocketTimeoutException`` -> java, net,
sockettimeoutexception), Spark error classes (``[CAST_INVALID_INPUT]``), AWS error codes,
SQLSTATEs and their class, HTTP status codes and process exit codes. No word pairs and no
CamelCase parts: with a few hundred examples they added features faster than evidence (grouped
cross-validation, docs/diagnosis.md). Extra tokens (the signature
and structured layers' hits) are added by the caller. Digits-only tokens are dropped: ids,
timestamps and sizes say nothing about the cause and would only memorise the corpus.

Tokens are hashed (crc32, stable across processes, unlike ``hash``) into ``N_FEATURES`` buckets,
so the model needs no vocabulary file and an unseen token costs nothing.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable

N_FEATURES = 1 << 14  # 16,384 buckets: ~20k features at most, collisions are rare at corpus size
MAX_TEXT_CHARS = 200_000  # the model reads at most this much of a log (the candidate lines)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,60}")
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]{2,80}(?:\.[A-Z][A-Z0-9_]{1,80})?)\]")
_AWS_CODE = re.compile(
    r"Error Code: ?([A-Za-z][A-Za-z0-9.]{2,60})|\(([A-Z][A-Za-z0-9.]{2,60})\) when calling|"
    r"<Code>([A-Za-z0-9.]{3,60})</Code>"
)
_SQLSTATE = re.compile(r"SQLSTATE[:=\s\[]{0,3}([0-9A-Z]{5})\b", re.IGNORECASE)
_HTTP = re.compile(
    r"(?:status code|status|http(?:/1\.[01])?|error)\W{0,3}([1-5][0-9]{2})\b|"
    r"\b([45][0-9]{2}) (?:Slow ?Down|Forbidden|Service Unavailable|Internal Server Error|Bad Request"
    r"|Not Found)",
    re.IGNORECASE,
)
_EXIT = re.compile(r"exit(?:ed)?(?: with)? (?:code|status)[:= ]{0,3}(-?[0-9]{1,4})\b", re.IGNORECASE)


def _first(groups: tuple[str | None, ...]) -> str:
    return next((g for g in groups if g), "")


def tokens(text: str) -> list[str]:
    """The tokens of a log text (or of its candidate lines joined), in order, with repeats."""
    text = text[:MAX_TEXT_CHARS]
    out: list[str] = []
    for line in text.splitlines():
        out.extend(word.lower() for word in _WORD.findall(line))
        for match in _ERROR_CLASS.finditer(line):
            name = match.group(1)
            out.append(f"ec:{name}")
            if "." in name:
                out.append(f"ec:{name.split('.', 1)[0]}")
        out.extend(f"aws:{_first(m.groups()).lower()}" for m in _AWS_CODE.finditer(line))
        for match in _SQLSTATE.finditer(line):
            state = match.group(1).upper()
            out += [f"sqlstate:{state}", f"sqlclass:{state[:2]}"]
        out.extend(f"http:{_first(m.groups())}" for m in _HTTP.finditer(line))
        out.extend(f"exit:{m.group(1)}" for m in _EXIT.finditer(line))
    return out


def bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % N_FEATURES


def vectorize(token_list: Iterable[str]) -> tuple[list[int], list[float]]:
    """Sparse, L2-normalised log-count vector: (bucket indices, values), indices ascending.

    Log counts: a message that repeats a word ten times is not ten times more about it.
    Normalised: a long log and a one-line message land on the same scale.
    """
    counts: Counter[int] = Counter(bucket(token) for token in token_list)
    if not counts:
        return [], []
    indices = sorted(counts)
    values = [1.0 + math.log(counts[i]) for i in indices]
    norm = math.sqrt(sum(v * v for v in values))
    return indices, [v / norm for v in values]
