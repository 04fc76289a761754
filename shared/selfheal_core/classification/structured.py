"""Structured evidence: the machine-readable identifiers inside a failed Glue job's log.

Pure: no boto3, no environment variables, no I/O except reading the packaged maps in
``evidence_maps/`` once. Where ``classifier.py`` matches phrasings, this layer reads *names* that
Glue, Spark and AWS print on purpose and maps them with data files that carry their provenance:

==================  ===========================================================  ========================
source              what is read                                                 map
==================  ===========================================================  ========================
glue_category       ``Error Category: QUERY_ERROR`` (Glue 4/5 job-run messages)  glue_categories.json
spark_error_class   ``[UNRESOLVED_COLUMN.WITH_SUGGESTION]``,                     spark_error_classes.json
                    ``Spark Error Class: MISSING_COLUMN``; a class not mapped    spark_error_states.json
                    by hand is read through its SQLSTATE (derived from Spark's
                    and Delta's own error files)
sqlstate            ``SQLSTATE: 42703``, ``SQLSTATE 22018``, ``"sqlState": ...``  spark_error_classes.json
exception           ``java.net.SocketTimeoutException``, ``Caused by: X: ...``,   exceptions.json
                    ``KeyError: 'x'``, ``botocore.exceptions.ClientError``
aws_error_code      ``Error Code: AccessDenied``, ``Status Code: 403``,          aws_error_codes.json
                    ``An error occurred (ThrottlingException) when calling``
==================  ===========================================================  ========================

Glue's ``GlueExceptionAnalysisListener`` events (``[Glue Exception Analysis] {"Event":
"GlueETLJobExceptionEvent", ..., "Failure Reason": "...", "Stack Trace": [...]}``, one line or
pretty-printed) are read through their ``Failure Reason`` only: the decoded traceback is scanned
like any other lines, and the ``Stack Trace`` (source code of the failing lines) is ignored.

Extraction (``extract``)
------------------------
Lines are scanned once, bounded like the classifier: only lines containing a trigger substring
(``xception``, ``rror``, ``ailure``, ``tatus``, ``QLS``/``qlS`` or ``[A_B``) are looked at -- they
are found with ``str.find`` over the whole text, so the thousands of INFO lines of a Glue log cost
no Python work; JVM/Python frames, ``... N more`` and repeats (equal up to digits) are skipped; a
line is cut at ``MAX_LINE_CHARS``; at most ``MAX_LINES`` lines are examined (the first
``HEAD_LINES`` and the last ones). Every regex runs only after a substring pre-check and none has
nested unbounded quantifiers. Each hit records:

* ``depth`` -- its position in the cause chain. Depth grows with every exception name met (in log
  order, and left to right on a line, so ``A: B: C`` gives C the largest depth) and with every
  ``Caused by:`` line. Error classes, SQLSTATEs and AWS codes take the depth of the exception
  they follow on their line. So within a chain, larger depth means deeper cause.
* ``chain`` -- which exception chain (stack trace) the hit belongs to. A line that starts a new
  report (a log line, ``Traceback``, an exception at column 0) opens a new chain; ``Caused by:``,
  ``: cause`` and indented lines continue the current one.
* ``generic`` -- the name is recorded but too broad to decide anything alone
  (``UNCLASSIFIED_ERROR``, ``RuntimeException``, ``AnalysisException``, ``Status Code: 400``,
  ``EntityNotFoundException`` naming nothing, an SQLSTATE class like ``42`` ...).

Wrappers are not hits: ``Py4JJavaError``, ``SparkException`` ("Job aborted due to stage
failure"), ``PythonException``, ``[TASK_WRITE_FAILED]``, ``[FAILED_READ_FILE.NO_HINT]`` ... only
advance the depth, so the cause they wrap is what counts. An SQLSTATE printed on a line that
carries a known error class (or a wrapper class) is not a hit: the class already decided, and the
SQLSTATE of a wrapper (``TASK_WRITE_FAILED`` is 58030) says nothing about the cause.

Decision (``decide``) -- the order, and why
-------------------------------------------
Source rank, most to least specific: ``glue_category`` > ``spark_error_class`` > ``sqlstate`` >
``exception`` > ``aws_error_code`` (code) > ``aws_error_code`` (bare HTTP status).

* Glue's category is the service's own verdict on the whole run; a Spark error class is a stable,
  documented identifier of one failure; an SQLSTATE is a coarser class of the same; an exception
  name is precise about the failing layer but not about the data (``IOException``); an AWS code is
  precise but often a symptom a layer below the job's failure (an S3 503 under a task that was
  retried), and a bare HTTP status is the weakest of all.

Steps:

1. Generic hits are dropped. Nothing left: ``None`` (the layer does not decide; the signature
   classifier does).
2. **Human-only evidence wins.** If any remaining hit is ``permission``, ``code_error`` or
   ``unknown``, one of those decides, whatever its source rank and wherever it is: an automated
   remediation on top of an AccessDenied is worse than an escalation, and a specific AWS code deep
   in a chain (``Error Code: AccessDenied`` under a ``SparkException``) is the real cause. Between
   human-only categories: ``permission`` > ``code_error`` > ``unknown`` (an explicit refusal is the
   most actionable fact, and Lake Formation refusals often *also* surface as "table not found").
   Within the category: best source rank, then the deepest hit.
3. Otherwise (only auto-remediable categories): each chain elects its winner -- best source rank,
   then deepest; if that best rank holds two categories at the same depth the chain is ambiguous.
   Across chains, the best-ranked winners must agree: one category wins (its deepest hit decides),
   two or more categories at the best rank conflict and give ``None``. Lower-ranked chains that
   disagree are outvoted (a WARN task retry on a read timeout does not contradict Glue's
   ``OUT_OF_MEMORY_ERROR``).

This mirrors docs/diagnosis.md (human-only first, deepest cause in a chain, conflict -> no
answer) but works on names instead of weights.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal_core.vocabulary import HUMAN_ONLY_CATEGORIES, Category

MAPS_DIR = Path(__file__).with_name("evidence_maps")

MAX_LINE_CHARS = 2000  # regexes never see more than this many characters of one line
MAX_LINES = 4000  # distinct, non-frame lines examined per log
HEAD_LINES = 1000  # of which from the start of the log; the rest from its end
EVIDENCE_CHARS = 500  # StructuredHit.line is cut to this length
MAX_FAILURE_REASON_CHARS = 50_000  # a Glue Failure Reason is decoded from at most this much text

SOURCES = ("glue_category", "spark_error_class", "sqlstate", "exception", "aws_error_code")
_RANK = {source: rank for rank, source in enumerate(SOURCES)}
_STATUS_RANK = len(SOURCES)  # a bare HTTP status ranks below every error code
_HUMAN_PRECEDENCE = (Category.PERMISSION, Category.CODE_ERROR, Category.UNKNOWN)


@dataclass(frozen=True)
class StructuredHit:
    category: Category
    source: str  # one of SOURCES
    key: str  # e.g. "UNRESOLVED_COLUMN", "42703", "java.net.SocketTimeoutException", "SlowDown", "503"
    line: str  # the evidence line, cut to EVIDENCE_CHARS
    depth: int  # position in the cause chain: larger = deeper cause
    reason: str  # from the data file
    chain: int = 0  # which exception chain (stack trace) of the log the hit belongs to
    generic: bool = False  # recorded, but too broad to decide alone


class EvidenceMapError(ValueError):
    """A file in evidence_maps/ is malformed; the message names the file and the entry."""


# --------------------------------------------------------------------------- maps


@dataclass(frozen=True)
class _Entry:
    category: Category | None  # None for a wrapper
    reason: str
    generic: bool = False
    rules: tuple[tuple[str, Category, str, bool], ...] = ()  # (lowered substring, category, reason, generic)

    @property
    def wrapper(self) -> bool:
        return self.category is None

    def refine(self, tail_lower: str) -> tuple[Category | None, str, bool]:
        for needle, category, reason, generic in self.rules:
            if needle in tail_lower:
                return category, reason, generic
        return self.category, self.reason, self.generic


@dataclass(frozen=True)
class _ErrorClass:
    entry: _Entry
    subclasses: Mapping[str, _Entry]


@dataclass(frozen=True)
class EvidenceMaps:
    glue_categories: Mapping[str, _Entry]
    error_classes: Mapping[str, _ErrorClass]
    classes_by_state: Mapping[str, _Entry]  # a Spark/Delta class not mapped by hand -> its SQLSTATE's entry
    sqlstates: Mapping[str, _Entry]
    sqlstate_classes: Mapping[str, _Entry]
    exceptions: Mapping[str, _Entry]  # fully qualified and simple names
    exception_families: tuple[tuple[str, _Entry | None], ...]  # (prefix, entry); None = look up AWS codes
    aws_codes: Mapping[str, _Entry]
    http_status: Mapping[str, _Entry]


def _category(value: object, where: str) -> Category:
    try:
        return Category(str(value))
    except ValueError:
        raise EvidenceMapError(f"{where}: unknown category {value!r}") from None


def _entry(raw: object, where: str, *, allow_wrapper: bool = False) -> _Entry:
    if not isinstance(raw, Mapping):
        raise EvidenceMapError(f"{where}: expected an object")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise EvidenceMapError(f"{where}: 'reason' must be a non-empty string")
    if raw.get("wrapper") is True:
        if not allow_wrapper:
            raise EvidenceMapError(f"{where}: wrappers are not allowed here")
        return _Entry(None, reason)
    category = _category(raw.get("category"), where)
    rules: list[tuple[str, Category, str, bool]] = []
    for index, rule in enumerate(raw.get("message_rules", ())):
        here = f"{where}.message_rules[{index}]"
        if not isinstance(rule, Mapping) or not isinstance(rule.get("contains"), str):
            raise EvidenceMapError(f"{here}: needs a 'contains' string")
        rule_reason = rule.get("reason")
        if not isinstance(rule_reason, str) or not rule_reason.strip():
            raise EvidenceMapError(f"{here}: 'reason' must be a non-empty string")
        rules.append(
            (
                str(rule["contains"]).lower(),
                _category(rule.get("category"), here),
                rule_reason,
                rule.get("generic") is True,
            )
        )
    return _Entry(category, reason, raw.get("generic") is True, tuple(rules))


def _read(name: str) -> dict[str, Any]:
    path = MAPS_DIR / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EvidenceMapError(f"{path}: cannot load: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("attribution"), Mapping):
        raise EvidenceMapError(f"{path}: expected an object with an 'attribution'")
    return data


def _section(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise EvidenceMapError(f"{where}: '{key}' must be an object")
    return value


@functools.cache
def load_maps() -> EvidenceMaps:
    """Parse and validate the maps in evidence_maps/ (once per process)."""
    glue = _read("glue_categories.json")
    glue_categories = {
        name: _entry(raw, f"glue_categories.json: {name}")
        for name, raw in _section(glue, "categories", "glue_categories.json").items()
    }

    spark = _read("spark_error_classes.json")
    error_classes: dict[str, _ErrorClass] = {}
    for name, raw in _section(spark, "error_classes", "spark_error_classes.json").items():
        where = f"spark_error_classes.json: {name}"
        subs = raw.get("subclasses", {}) if isinstance(raw, Mapping) else {}
        error_classes[name] = _ErrorClass(
            _entry(raw, where, allow_wrapper=True),
            {sub: _entry(v, f"{where}.{sub}", allow_wrapper=True) for sub, v in subs.items()},
        )
    sqlstates = {
        state: _entry(raw, f"spark_error_classes.json: sqlstate {state}")
        for state, raw in _section(spark, "sqlstates", "spark_error_classes.json").items()
    }
    sqlstate_classes = {
        cls: _entry(raw, f"spark_error_classes.json: sqlstate class {cls}")
        for cls, raw in _section(spark, "sqlstate_classes", "spark_error_classes.json").items()
    }

    derived = _section(_read("spark_error_states.json"), "states", "spark_error_states.json")
    classes_by_state: dict[str, _Entry] = {}
    for name, state in derived.items():
        by_state = None if name in error_classes else _state_entry(str(state), sqlstates, sqlstate_classes)
        if by_state is not None:
            reason = f"SQLSTATE {state}, Spark's state for {name}: {by_state.reason}"
            classes_by_state[name] = dataclasses.replace(by_state, reason=reason)

    aws = _read("aws_error_codes.json")
    aws_codes: dict[str, _Entry] = {}
    groups = aws.get("groups")
    if not isinstance(groups, list):
        raise EvidenceMapError("aws_error_codes.json: 'groups' must be a list")
    for group in groups:
        gname = group.get("name") if isinstance(group, Mapping) else None
        if not isinstance(gname, str) or not str(group.get("provenance", "")).strip():
            raise EvidenceMapError("aws_error_codes.json: every group needs a name and a provenance")
        for code, raw in _section(group, "codes", f"aws_error_codes.json: {gname}").items():
            entry = _entry(raw, f"aws_error_codes.json: {gname}.{code}")
            aws_codes.setdefault(code, entry)  # the first group that names a code owns it
    http_status = {
        status: _entry(raw, f"aws_error_codes.json: HTTP {status}")
        for status, raw in _section(aws, "http_status", "aws_error_codes.json").items()
    }

    exc = _read("exceptions.json")
    exceptions: dict[str, _Entry] = {}
    simple: dict[str, _Entry | None] = {}
    for name, raw in _section(exc, "exceptions", "exceptions.json").items():
        entry = _entry(raw, f"exceptions.json: {name}", allow_wrapper=True)
        exceptions[name] = entry
        if "." in name:
            short = name.rsplit(".", 1)[1]
            known = simple.get(short, entry)
            # a simple name shared by classes that disagree is ambiguous: no simple-name lookup
            simple[short] = entry if known == entry or (known and known.category == entry.category) else None
    for short, maybe in simple.items():
        aws_entry = aws_codes.get(short)
        if aws_entry is not None and maybe is not None and aws_entry.category != maybe.category:
            continue  # e.g. Hadoop's InvalidInputException vs Glue's: only the qualified name is safe
        if short not in exceptions and maybe is not None:
            exceptions[short] = maybe
    families: list[tuple[str, _Entry | None]] = []
    for index, raw in enumerate(exc.get("families", ())):
        where = f"exceptions.json: families[{index}]"
        prefix = raw.get("prefix") if isinstance(raw, Mapping) else None
        if not isinstance(prefix, str) or not prefix:
            raise EvidenceMapError(f"{where}: needs a 'prefix'")
        if raw.get("lookup") == "aws_error_codes":
            if not str(raw.get("reason", "")).strip():
                raise EvidenceMapError(f"{where}: 'reason' must be a non-empty string")
            families.append((prefix, None))
        else:
            families.append((prefix, _entry(raw, where)))
    families.sort(key=lambda item: len(item[0]), reverse=True)

    return EvidenceMaps(
        glue_categories=glue_categories,
        error_classes=error_classes,
        classes_by_state=classes_by_state,
        sqlstates=sqlstates,
        sqlstate_classes=sqlstate_classes,
        exceptions=exceptions,
        exception_families=tuple(families),
        aws_codes=aws_codes,
        http_status=http_status,
    )


# --------------------------------------------------------------------------- lines

_PY_FRAME = re.compile(r'File "[^"\n]{0,1000}", line \d{1,9}')
_DIGITS = b"0123456789"
_GLUE_EVENT_KEYS = (
    '"Method Name"',
    '"Declaring Class"',
    '"File Name"',
    '"Line Number"',
    '"script"',
    '"Last Executed Line number"',
    '"Event"',
    '"Timestamp"',
)
_CONTINUATION = ("Caused by", ": ", "Suppressed:", "During handling", "The above exception", "... ")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class _Line:
    text: str
    new_chain: bool
    caused_by: bool


# A line can only hold evidence if it contains one of these (every pattern below needs one of them).
_TRIGGERS = ("xception", "rror", "ailure", "tatus", "QLS", "qlS")
_BRACKET_TRIGGER = re.compile(r"\[[A-Z_][A-Z0-9_]{2}")


def _may_hold_evidence(raw: str) -> bool:
    """Cheap pre-check for one line (plain substring tests)."""
    return any(needle in raw for needle in _TRIGGERS) or _BRACKET_TRIGGER.search(raw) is not None


def _evidence_line_starts(text: str) -> list[int]:
    """Start offsets of the lines that contain a trigger, found with str.find over the whole text
    (C speed) instead of testing every line in Python."""
    starts: set[int] = set()
    size = len(text)

    def add(index: int) -> int:
        begin = text.rfind("\n", 0, index) + 1
        starts.add(begin)
        end = text.find("\n", index)
        return size if end < 0 else end

    for needle in _TRIGGERS:
        index = text.find(needle)
        while index >= 0:
            index = text.find(needle, add(index))
    for match in _BRACKET_TRIGGER.finditer(text):
        add(match.start())
    return sorted(starts)


def _failure_reason(raw: str) -> str | None:
    """The decoded ``"Failure Reason"`` value of a Glue exception-analysis line, if any."""
    start = raw.find('"Failure Reason"')
    if start < 0:
        return None
    colon = raw.find(":", start + 16, start + 24)
    quote = raw.find('"', colon + 1, colon + 8) if colon >= 0 else -1
    if quote < 0:
        return None
    try:
        value, _ = _DECODER.raw_decode(raw, quote)
    except ValueError:  # truncated: take what is there, unescaping newlines
        value = raw[quote + 1 :].replace("\\n", "\n").replace('\\"', '"')
    return value if isinstance(value, str) else None


def _raw_lines(text: str) -> Iterator[tuple[str, bool]]:
    """(line, is_python_source_line) for the lines that may hold evidence, in order; a Glue Failure
    Reason is expanded into its own lines in place of the event line."""
    for begin in _evidence_line_starts(text):
        end = text.find("\n", begin)
        raw = text[begin : len(text) if end < 0 else end].rstrip("\r")
        if '"Failure Reason"' in raw:
            reason = _failure_reason(raw[:MAX_FAILURE_REASON_CHARS])
            if reason is not None:
                previous = ""
                for sub in reason.splitlines():
                    if _may_hold_evidence(sub):
                        yield sub, _is_py_frame(previous)
                    previous = sub
            continue
        if raw[:1].isspace() and begin > 0:
            previous_begin = text.rfind("\n", 0, begin - 1) + 1
            yield raw, _is_py_frame(text[previous_begin : begin - 1])
        else:
            yield raw, False


def _is_py_frame(line: str) -> bool:
    return 'File "' in line and _PY_FRAME.match(line.strip()) is not None


def _candidate_lines(text: str) -> list[_Line]:
    seen: set[bytes] = set()
    out: list[_Line] = []
    for raw, under_py_frame in _raw_lines(text):
        if raw.startswith("\tat ") and ".<init>" not in raw:
            continue  # the commonest JVM frame layout
        line = raw.strip()
        if not line:
            continue
        indented = raw[:1].isspace()
        if under_py_frame and indented:
            continue  # the source line printed under a Python frame
        first = line[0]
        if first == "a" and line.startswith("at ") and ".<init>" not in line:
            continue  # JVM frame (a throwable's own constructor frame names the error: kept)
        if first == "." and line.startswith("... ") and (line.endswith(" more") or "omitted" in line):
            continue
        if first == "F" and _PY_FRAME.match(line):
            continue
        if first == '"' and line.startswith(_GLUE_EVENT_KEYS):
            continue  # pretty-printed Glue exception-analysis fields other than the Failure Reason
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        key = line.encode("utf-8", "surrogatepass").translate(None, _DIGITS)  # bytes: C-speed
        if key in seen:
            continue
        seen.add(key)
        caused_by = line.startswith("Caused by")
        new_chain = not indented and not line.startswith(_CONTINUATION)
        out.append(_Line(line, new_chain, caused_by))
    if len(out) > MAX_LINES:
        out = out[:HEAD_LINES] + out[-(MAX_LINES - HEAD_LINES) :]
    return out


# --------------------------------------------------------------------------- patterns
# Every pattern is linear: bounded repetitions only, and each is run after a substring pre-check.

_GLUE_CATEGORY = re.compile(r"Error Category: ?([A-Z][A-Z_]{2,60})\b")
_BRACKET_CLASS = re.compile(r"\[([A-Z_][A-Z0-9_]{2,100}(?:\.[A-Z0-9_]{2,100})?)\]")
_NAMED_CLASS = re.compile(
    r"(?:Spark Error Class|errorClass|error class)[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
    r"([A-Z_][A-Z0-9_]{2,100}(?:\.[A-Z0-9_]{2,100})?)"
)
_SQLSTATE = re.compile(r"sql ?state\W{0,6}([0-9A-Z]{5})(?![0-9A-Za-z])", re.IGNORECASE)
_EXCEPTION = re.compile(
    r"(?<![\w$.])((?:[A-Za-z_$][\w$]{0,80}\.){0,12}[A-Z][\w$]{0,80}?"
    r"(?:Exception|Error|Failure|Fault|Throwable))(?![\w$])"
)
_AWS_ERROR_CODE = re.compile(
    r"Error ?Code\"?\s{0,3}[:=]\s{0,3}\"?([A-Za-z][\w.]{1,80}|\d{3}(?: [A-Z][a-z]{1,20}){0,3})", re.IGNORECASE
)
_BOTOCORE = re.compile(r"An error occurred \(([A-Za-z0-9][\w.]{0,80})\) when calling the")
_STATUS = re.compile(r"Status ?Code\"?\s{0,3}[:=]?\s{0,3}(\d{3})\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Raw:
    """One name found on a line, before depths are assigned."""

    position: int
    source: str
    key: str
    entry: _Entry | None  # None: an exception name that only advances the depth
    tail: str  # lowered text after the name, for message rules


def _lookup_exception(name: str, maps: EvidenceMaps) -> _Entry | None:
    entry = maps.exceptions.get(name)
    if entry is not None:
        return entry
    short = name.rsplit(".", 1)[-1]
    entry = maps.exceptions.get(short)
    if entry is not None:
        return entry
    for prefix, family in maps.exception_families:
        if name.startswith(prefix):
            return family if family is not None else _lookup_code(short, maps)
    if "." not in name and name.endswith("Exception"):
        return _lookup_code(name, maps)  # an unqualified AWS error name (AccessDeniedException: ...)
    return None


def _lookup_code(code: str, maps: EvidenceMaps) -> _Entry | None:
    entry = maps.aws_codes.get(code)
    if entry is None and code.endswith("Exception"):
        entry = maps.aws_codes.get(code[: -len("Exception")])
    return entry


def _tail(lowered: str, end: int) -> str:
    """The message after a name; for botocore's "... when calling the X operation: msg", the msg."""
    tail = lowered[end:]
    cut = tail.find(" operation: ", 0, 200)
    return tail[cut + 12 :] if cut >= 0 else tail


def _state_entry(
    state: str, sqlstates: Mapping[str, _Entry], sqlstate_classes: Mapping[str, _Entry]
) -> _Entry | None:
    """What an SQLSTATE means: its own entry, else its two-character class's."""
    return sqlstates.get(state) or sqlstate_classes.get(state[:2])


def _scan_line(line: str, maps: EvidenceMaps) -> list[_Raw]:
    found: list[_Raw] = []
    lowered = line.lower()

    if "Error Category" in line:
        for m in _GLUE_CATEGORY.finditer(line):
            entry = maps.glue_categories.get(m.group(1))
            if entry is not None:
                found.append(_Raw(m.start(), "glue_category", m.group(1), entry, ""))

    class_on_line = False
    if "[" in line or "rror" in lowered:
        matches = list(_BRACKET_CLASS.finditer(line)) if "[" in line else []
        if "rror class" in lowered or "errorclass" in lowered:
            matches += _NAMED_CLASS.finditer(line)
        for m in matches:
            name = m.group(1)
            head, _, sub = name.partition(".")
            known = maps.error_classes.get(head)
            if known is not None:
                entry = known.subclasses.get(sub, known.entry) if sub else known.entry
            elif head in maps.classes_by_state:
                entry = maps.classes_by_state[head]
            else:
                continue
            class_on_line = True
            found.append(_Raw(m.start(), "spark_error_class", name, None if entry.wrapper else entry, ""))

    if not class_on_line and ("sqlstate" in lowered or "sql state" in lowered):
        for m in _SQLSTATE.finditer(line):
            state = m.group(1).upper()
            if not any(c.isdigit() for c in state):
                continue
            state_entry = _state_entry(state, maps.sqlstates, maps.sqlstate_classes)
            if state_entry is not None:
                found.append(_Raw(m.start(), "sqlstate", state, state_entry, ""))

    if "xception" in line or "rror" in line or "ailure" in line or "Fault" in line or "Throwable" in line:
        for m in _EXCEPTION.finditer(line):
            name = m.group(1)
            entry = _lookup_exception(name, maps)
            advance_only = entry is None or entry.wrapper
            found.append(
                _Raw(m.start(), "exception", name, None if advance_only else entry, _tail(lowered, m.end()))
            )

    if "code" in lowered or "An error occurred (" in line:
        for pattern in (_AWS_ERROR_CODE, _BOTOCORE):
            for m in pattern.finditer(line):
                code = m.group(1)
                if code[:3].isdigit() and len(code) > 3:  # "Error Code: 503 Slow Down" (S3A/EMRFS)
                    phrase = code[4:].replace(" ", "")
                    code = phrase if _lookup_code(phrase, maps) is not None else code[:3]
                if code.isdigit():
                    status = maps.http_status.get(code)
                    if status is not None:
                        found.append(_Raw(m.start(), "aws_status", code, status, ""))
                    continue
                code_entry = _lookup_code(code, maps)
                if code_entry is not None:
                    found.append(_Raw(m.start(), "aws_error_code", code, code_entry, _tail(lowered, m.end())))
        if "status" in lowered:
            for m in _STATUS.finditer(line):
                status = maps.http_status.get(m.group(1))
                if status is not None:
                    found.append(_Raw(m.start(), "aws_status", m.group(1), status, ""))

    found.sort(key=lambda r: r.position)
    return found


def _trim(line: str) -> str:
    return line if len(line) <= EVIDENCE_CHARS else line[: EVIDENCE_CHARS - 3] + "..."


def extract(text: str) -> list[StructuredHit]:
    """All structured hits in the log, in log order (and left to right within a line)."""
    maps = load_maps()
    hits: list[StructuredHit] = []
    depth = 0
    chain = 0
    for line in _candidate_lines(text):
        if line.new_chain:
            chain += 1
        if line.caused_by:
            depth += 1
        evidence = _trim(line.text)
        seen_here: set[tuple[str, str]] = set()
        for raw in _scan_line(line.text, maps):
            if raw.source == "exception":
                depth += 1
            if raw.entry is None:
                continue
            category, reason, generic = raw.entry.refine(raw.tail)
            if category is None:
                continue
            source = "aws_error_code" if raw.source == "aws_status" else raw.source
            if (source, raw.key) in seen_here:
                continue  # the same name twice on one line (e.g. a code both as class and as code)
            seen_here.add((source, raw.key))
            hits.append(StructuredHit(category, source, raw.key, evidence, depth, reason, chain, generic))
    return hits


# --------------------------------------------------------------------------- decision


def _rank(hit: StructuredHit) -> int:
    if hit.source == "aws_error_code" and hit.key.isdigit():
        return _STATUS_RANK
    return _RANK.get(hit.source, _STATUS_RANK)


def _best(hits: list[StructuredHit]) -> StructuredHit:
    """Best source rank, then the deepest (then the latest)."""
    return min(enumerate(hits), key=lambda item: (_rank(item[1]), -item[1].depth, -item[0]))[1]


def decide(hits: list[StructuredHit]) -> StructuredHit | None:
    """The hit that decides the category, or None when the layer does not decide (see module doc)."""
    specific = [h for h in hits if not h.generic]
    if not specific:
        return None

    human = [h for h in specific if h.category in HUMAN_ONLY_CATEGORIES]
    if human:
        for category in _HUMAN_PRECEDENCE:
            of_category = [h for h in human if h.category is category]
            if of_category:
                return _best(of_category)

    by_chain: dict[int, list[StructuredHit]] = {}
    for hit in specific:
        by_chain.setdefault(hit.chain, []).append(hit)
    winners: list[StructuredHit] = []
    for chain_hits in by_chain.values():
        top = min(_rank(h) for h in chain_hits)
        ranked = [h for h in chain_hits if _rank(h) == top]
        deepest = max(h.depth for h in ranked)
        at_depth = {h.category for h in ranked if h.depth == deepest}
        if len(at_depth) > 1:
            return None  # one chain names two causes at the same place
        winners.append(_best(ranked))
    top = min(_rank(h) for h in winners)
    leaders = [h for h in winners if _rank(h) == top]
    if len({h.category for h in leaders}) > 1:
        return None
    return max(leaders, key=lambda h: (h.chain, h.depth))
