"""One redaction pass, applied to text before selfheal stores, logs or sends it.

Glue error logs carry whatever the job printed: JDBC URLs with passwords, boto3 credential dumps,
HTTP headers, presigned S3 URLs. ``redact`` replaces the *secret part* of each recognised shape
with ``***REDACTED***`` and keeps everything around it (the key name, the user, the host, the rest
of the URL), so an engineer can still read the message and see *which* secret leaked.

What is redacted (case-insensitive unless noted):

* URL user-info passwords: ``scheme://user:pw@host`` (JDBC, HTTP(S), mongodb, redis, ...) and
  Oracle's ``jdbc:oracle:thin:user/pw@host``.
* ``key=value`` and ``key: value`` pairs whose key *ends* with a secret word (password, passwd,
  passphrase, pwd, secret, token, api_key/apikey, secret_key, secret_access_key, private_key),
  quoted or not, JSON (``"password": "x"``) and JSON-in-JSON (``\\"password\\": \\"x\\"``). The key
  must end at the separator, so ``password_hash`` in "cannot resolve 'password_hash'" is a column
  name, not a secret, and survives.
* AWS access key ids (``AKIA``/``ASIA`` + 16, case-sensitive; the 4-letter prefix is kept), AWS
  secret access keys (40 base64 characters after a secret-key keyword, with or without ``=``),
  session and security tokens (``aws_session_token``, ``X-Amz-Security-Token``: via the key rule).
* ``Authorization:`` header values (any scheme) and stand-alone ``Bearer <token>``.
* PEM private keys, from ``-----BEGIN ... PRIVATE KEY-----`` to the matching END line (or to the end
  of the base64 body when the log cut the key off).
* Presigned-URL signatures: ``X-Amz-Signature=`` and SigV2 ``?Signature=`` / ``&Signature=``.
* SQL password literals: ``PASSWORD 'x'`` and ``IDENTIFIED BY 'x'``.

What is deliberately left alone: Glue job run ids, ARNs (``:secret:`` in a Secrets Manager ARN is
a resource type, not a key), S3 paths, KMS key ids, request ids, UUIDs, SQL, stack traces, and
values that are not secrets (``null``, ``none``, ``true``, ``false``, one to three punctuation
characters as in "Unexpected token: ')'"). An unquoted value after ``:`` that reads as prose or a
Spark type (``ExpiredToken: The security token ...``, ``|-- password: string``) is left alone, and
so is the ``PWD=/home/hadoop`` of an environment dump. A bare 40-character base64 string with no
keyword next to it is *not* redacted: SHA-1 digests and request ids look the same.

Known gaps: a password containing a space (unquoted), ',', ';' or ')' is redacted only up to that
character; a URL password containing '/' is not recognised; non-AWS vendor key formats without a
keyword (``ghp_...`` alone, Slack ``xox...``) are not recognised.

Safety: every pattern is linear-time. Repetitions are bounded (``{0,4096}``), quoted values may
end without their closing quote (so a failed match never rescans), and alternatives inside
repetitions are disjoint by their first character. ``redact`` is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = "***REDACTED***"
MAX_JSON_DEPTH = 32

_Replacer = Callable[[re.Match[str]], str]

# Values that carry no secret: keeping them helps diagnosis ("password=null" is the bug).
_NOT_SECRET_VALUES = frozenset({"", "null", "none", "nil", "true", "false", "undefined", MARKER.lower()})
# After ``:`` a value is often the start of a sentence or a schema type, not a secret.
_PROSE_OR_TYPE_WORDS = frozenset(
    {
        "the", "a", "an", "this", "that", "your", "is", "was", "has", "not", "no", "missing",
        "invalid", "expired", "unable", "cannot", "failed", "string", "integer", "int", "long",
        "short", "byte", "double", "float", "boolean", "binary", "date", "timestamp", "decimal",
        "struct", "array", "map", "varchar", "char", "text",
    }
)  # fmt: skip
# "Unexpected token: ')'" is a parser message: a value of one to three punctuation characters
# (a quote, a bracket, a star) carries no secret.
_PUNCTUATION_ONLY = re.compile(r"[^\w\s]{1,3}")


def _splice(match: re.Match[str], group: str) -> str:
    """The whole match with only ``group`` replaced by the marker."""
    start, end = match.span(group)
    offset = match.start()
    whole = match.group(0)
    return whole[: start - offset] + MARKER + whole[end - offset :]


def _first_matched_group(match: re.Match[str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if match.group(name) is not None:
            return name
    return None


# --------------------------------------------------------------------------- PEM private keys

# The body may hold base64, whitespace, JSON-escaped newlines (\n) and RFC 1421 headers
# (Proc-Type: 4,ENCRYPTED), but never "-----": so a scan stops at the next BEGIN/END line.
_PEM = re.compile(
    r"(?P<begin>-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----)"
    r"(?P<body>(?:[A-Za-z0-9+/=\s:,.*\\]|-(?!----)){0,65536})"
    r"(?P<end>-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?"
)


def _redact_pem(match: re.Match[str]) -> str:
    body = match.group("body")
    if body.strip() in ("", MARKER):  # nothing (left) to hide: keep the pass idempotent
        return match.group(0)
    return match.group("begin") + MARKER + (match.group("end") or "")


# --------------------------------------------------------------------------- URLs

# scheme://user:password@host. The password may itself hold '@' (JDBC users rarely encode it):
# the greedy run backs off to the last '@' before the host, within 256 characters.
_URL_USERINFO = re.compile(
    r"(?P<prefix>\b[a-z][a-z0-9+.\-]{0,30}://[^\s:/@?#\"']{0,256}:)"
    r"(?P<secret>[^\s/?#\"']{1,256})(?P<at>@)",
    re.IGNORECASE,
)
_ORACLE_THIN = re.compile(
    r"(?P<prefix>\bjdbc:oracle:[a-z]{1,10}:[^\s/@:\"']{1,128}/)(?P<secret>[^\s@\"']{1,128})(?P<at>@)",
    re.IGNORECASE,
)


def _redact_secret(match: re.Match[str]) -> str:
    """Replace the ``secret`` group; a secret that is already the marker stays (idempotence)."""
    if match.group("secret") == MARKER:
        return match.group(0)
    return _splice(match, "secret")


def _redact_access_key_id(match: re.Match[str]) -> str:
    return match.group("prefix") + MARKER  # AKIA (long-term) vs ASIA (temporary) stays readable


# --------------------------------------------------------------------------- key = value

# The key must END with one of these words; any prefix (db_, spark.hadoop.fs.s3a., Connection,
# client_, aws_session_) is kept as it stands. Longer words first so "secret_key" beats "secret".
_SECRET_KEY_WORDS = (
    r"secret[_.\-]?(?:access[_.\-]?)?key|private[_.\-]?key|api[_.\-]?key"
    r"|password|passwd|passphrase|pwd|secret|token|x-amz-signature"
)
# The separator: an optional closing quote of a quoted key (plain or JSON-escaped), then = or :.
_SEPARATOR = r"\\?[\"']?[ \t]{0,5}[=:][ \t]{0,5}"
# Value shapes, disjoint by first character. Quoted values may lack their closing quote: then the
# rest of the line (bounded) is redacted, and a failed match never rescans the same text.
_VALUE = (
    r"(?:\"(?P<dq>(?:[^\"\\\n]|\\.){0,4096})\"?"
    r"|'(?P<sq>[^'\n]{0,4096})'?"
    r"|\\\"(?P<eq>[^\"\\\n]{0,4096})(?:\\\")?"
    r"|\{(?P<br>[^}\n]{0,4096})\}?"
    r"|(?P<bare>[^\s\"'\\;,)}\]<>{]{1,4096}))"
)
# No prefix in the pattern (a bounded prefix scan at every position costs 60x): the replacer
# looks back over the key's own characters instead, once per match.
_KEY_VALUE = re.compile(rf"(?P<key>{_SECRET_KEY_WORDS})(?P<sep>{_SEPARATOR}){_VALUE}", re.IGNORECASE)
_KEY_CHARS = "_.-"
_MAX_KEY_PREFIX = 128
_VALUE_GROUPS = ("dq", "sq", "eq", "br", "bare")


def _looks_like_prose(match: re.Match[str], group: str) -> bool:
    """After ``:``, an unquoted value that starts a sentence or names a type.

    Decided from the value alone, never from the text around the match: that text may itself be
    redacted by the first pass, and the second pass must decide the same way (idempotence).
    """
    if ":" not in match.group("sep") or group != "bare":  # quoted after ':' is JSON/YAML: a value
        return False
    first_word = re.split(r"\W", match.group(group), maxsplit=1)[0].lower()
    return first_word in _PROSE_OR_TYPE_WORDS


def _is_not_secret(value: str) -> bool:
    stripped = value.strip()
    return stripped.lower() in _NOT_SECRET_VALUES or _PUNCTUATION_ONLY.fullmatch(stripped) is not None


def _char_before_key(match: re.Match[str]) -> str:
    """The character before the whole key (``db_password`` -> what precedes ``db_``), or ""."""
    text, index = match.string, match.start()
    floor = max(0, index - _MAX_KEY_PREFIX)
    while index > floor and (text[index - 1].isalnum() or text[index - 1] in _KEY_CHARS):
        index -= 1
    return text[index - 1] if index > 0 else ""


def _redact_key_value(match: re.Match[str]) -> str:
    group = _first_matched_group(match, _VALUE_GROUPS)
    if group is None:
        return match.group(0)
    value = match.group(group)
    if _is_not_secret(value) or _looks_like_prose(match, group):
        return match.group(0)
    before_key = _char_before_key(match)
    if before_key in (":", "/"):
        return match.group(0)  # an ARN or path segment (":secret:name", "/token=x/"), not a key
    if match.group("key").lower() == "pwd" and value.startswith("/"):
        return match.group(0)  # the shell's current directory in an environment dump
    if group == "bare" and before_key in ("?", "&"):
        return _splice_until_ampersand(match)  # a URL query: '&' ends the value
    return _splice(match, group)  # after ';' (SQL Server) an '&' belongs to the password


def _splice_until_ampersand(match: re.Match[str]) -> str:
    whole = match.group(0)
    value_start = match.start("bare") - match.start()
    ampersand = whole.find("&", value_start)
    value_end = len(whole) if ampersand < 0 else ampersand
    if value_end == value_start:
        return whole
    return whole[:value_start] + MARKER + whole[value_end:]


# Keyword, then any separator (space, "=", '": "'), then exactly 40 base64 characters: how the
# AWS CLI, boto3 reprs and credential files print a secret access key.
_AWS_SECRET_KEY = re.compile(
    r"(?P<prefix>secret[_.\- ]?(?:access[_.\- ]?)?key[\"'\\]{0,2}[\s=:\"'\\]{1,6})"
    r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
    re.IGNORECASE,
)
_AWS_ACCESS_KEY_ID = re.compile(r"(?P<prefix>AKIA|ASIA)(?P<secret>[A-Z0-9]{16})(?![A-Z0-9])")

# --------------------------------------------------------------------------- headers and URLs

_AUTHORIZATION = re.compile(
    r"(?P<prefix>authorization\\?[\"']?[ \t]{0,5}[=:][ \t]{0,5}\\?[\"']?"
    r"(?:(?:bearer|basic|digest|token|negotiate|aws4-hmac-sha256)[ \t]{1,5})?)"
    r"(?P<secret>[^\s\"'\\,;]{1,4096})",
    re.IGNORECASE,
)
# Stand-alone bearer tokens; at least 16 characters so "Bearer token expired" stays readable.
_BEARER = re.compile(
    r"(?P<prefix>\bbearer[ \t]{1,5})(?P<secret>[A-Za-z0-9\-._~+/]{16,4096}=*)", re.IGNORECASE
)
# SigV2 presigned URLs: only as a query parameter, so selfheal's own "signature": "perm.x" survives.
_QUERY_SIGNATURE = re.compile(
    r"(?P<prefix>[?&](?:signature|sig)=)(?P<secret>[^\s&#\"']{1,4096})", re.IGNORECASE
)
_SQL_PASSWORD = re.compile(
    r"(?P<prefix>\b(?:password|identified[ \t]{1,5}by)[ \t]{1,5}')(?P<secret>[^'\n]{1,4096})",
    re.IGNORECASE,
)


# Order matters. PEM first: its body holds "key" words and base64. Access key ids next: their
# marker ends in '*', and a later pass that looks at word boundaries must already see it, or the
# second run of redact would decide differently. Then URLs, specific shapes, and key=value last.
_PASSES: tuple[tuple[re.Pattern[str], _Replacer], ...] = (
    (_PEM, _redact_pem),
    (_AWS_ACCESS_KEY_ID, _redact_access_key_id),
    (_URL_USERINFO, _redact_secret),
    (_ORACLE_THIN, _redact_secret),
    (_AUTHORIZATION, _redact_secret),
    (_BEARER, _redact_secret),
    (_AWS_SECRET_KEY, _redact_secret),
    (_QUERY_SIGNATURE, _redact_secret),
    (_SQL_PASSWORD, _redact_secret),
    (_KEY_VALUE, _redact_key_value),
)


def redact(text: str) -> str:
    """``text`` with every recognised secret replaced by ``***REDACTED***``."""
    for pattern, replacer in _PASSES:
        text = pattern.sub(replacer, text)
    return text


# --------------------------------------------------------------------------- JSON values

# A dict key that names a secret (ends with a secret word): its value is hidden whole.
_SECRET_KEY_NAME = re.compile(rf"(?:{_SECRET_KEY_WORDS})\Z", re.IGNORECASE)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY_NAME.search(key[-64:]) is not None


def redact_json(value: object, *, max_depth: int = MAX_JSON_DEPTH) -> object:
    """A copy of a JSON-like value with secrets redacted in every string and under every secret key.

    Containers nested deeper than ``max_depth`` are replaced by the marker: what cannot be
    inspected cannot be shown.
    """
    return _redact_value(value, max_depth)


def _redact_value(value: object, depth_left: int) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict | list | tuple) and depth_left <= 0:
        return MARKER
    if isinstance(value, dict):
        return {_redact_key(key): _redact_entry(key, item, depth_left - 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item, depth_left - 1) for item in value]
    return value  # numbers, booleans, None


def _redact_key(key: object) -> object:
    return redact(key) if isinstance(key, str) else key


def _redact_entry(key: object, item: object, depth_left: int) -> object:
    if _is_secret_key(key) and isinstance(item, str | int | float) and not isinstance(item, bool):
        text = str(item)
        return item if text.strip().lower() in _NOT_SECRET_VALUES else MARKER
    return _redact_value(item, depth_left)
