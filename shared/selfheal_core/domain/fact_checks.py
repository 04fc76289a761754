"""Claims checked against facts: what the error text says, held against what the job and the catalog show.

A classifier reads words; a senior engineer then looks. Each check here is a pure function of the text and
of facts the caller gathered (the job's paths, the catalog's drift reports), named, with a verdict and the
evidence for it, as the gate names its rules:

- ``column_exists``: a missing-column error whose own suggestion list ("Did you mean one of the
  following? [...]", "given input columns: [...]") contains the column. The column is there: the query
  names it wrongly (qualifier, nesting), a code error, not drift. Text alone supports this check.
- ``path_scheme``: a missing path that could never be an input: a placeholder or empty bucket in the text
  (``s3://None/``, ``s3://${bucket}/``), a scheme the job never reads, or a bucket outside every location
  the job's own arguments, script location and catalog tables name. Configuration, not a late source.
- ``catalog_drift``: a drift-looking error while the declared tables' catalog history shows no breaking
  change since the last success: not ``schema_drift`` (there is nothing to roll back to).

A refuting check only ever moves the answer to a category a human handles (``code_error`` or
``unknown``): a fact check can stop automation, never start it.

One check goes the other way, and never alone: ``cause_from_facts``. When the text names no cause at all
(``unknown``), a trusted fact that names one is the best lead an engineer has: a breaking catalog change
since the last success, or a Glue Data Quality result that found bad rows in the failed run. The diagnosis
then carries that category, marked as coming from the facts, and the gate never lets an action it leads to
run unattended (rule ``cause_from_facts``): facts can suggest a fix, a person decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selfheal_core.domain.drift import DriftReport
from selfheal_core.vocabulary import HUMAN_ONLY_CATEGORIES, Category

CONFIRMED = "confirmed"  # the fact agrees with the category
REFUTED = "refuted"  # the fact contradicts it: the answer moves to ``points_to``
NOT_CHECKED = "not_checked"  # the fact was not at hand (the evidence says why)
VERDICTS = (CONFIRMED, REFUTED, NOT_CHECKED)

COLUMN_EXISTS = "column_exists"
PATH_SCHEME = "path_scheme"
CATALOG_DRIFT = "catalog_drift"
CAUSE_FROM_FACTS = "cause_from_facts"

# Which categories each check can refute (a refuted check moves those to its ``points_to``).
_COLUMN_CLAIMS = frozenset(Category) - {Category.CODE_ERROR, Category.PERMISSION}
_PATH_CLAIMS = frozenset({Category.SOURCE_NOT_READY})
_DRIFT_CLAIMS = frozenset({Category.SCHEMA_DRIFT})
TEXT_ONLY = "text only"


@dataclass(frozen=True)
class FactCheck:
    name: str
    verdict: str
    evidence: str
    # The category the facts point to when the check refutes the claim (always one a human handles).
    points_to: Category | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"fact check {self.name}: unknown verdict {self.verdict!r}")
        if self.points_to is not None and self.points_to not in HUMAN_ONLY_CATEGORIES:
            raise ValueError(f"fact check {self.name}: a check may only point to a human-only category")

    @property
    def refuted(self) -> bool:
        return self.verdict == REFUTED

    def line(self) -> str:
        """``"<name>: <verdict> (<evidence>)"``, as ``selfheal classify`` prints it."""
        if self.verdict == NOT_CHECKED and self.evidence == TEXT_ONLY:
            return f"{self.name}: not checked (text only)"
        return f"{self.name}: {self.verdict} ({self.evidence})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FactCheck:
        verdict = str(data.get("verdict", NOT_CHECKED))
        return cls(
            name=str(data.get("name", "")),
            verdict=verdict if verdict in VERDICTS else NOT_CHECKED,
            evidence=str(data.get("evidence", "")),
        )


@dataclass(frozen=True)
class JobPaths:
    """The locations a job is known to touch: its script, the paths its arguments name, and the storage
    locations of the catalog tables it declares."""

    script_location: str = ""
    argument_paths: tuple[str, ...] = ()
    table_locations: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(p for p in (self.script_location, *self.argument_paths, *self.table_locations) if p)


MAX_LINES = 20  # lines looked at per check: the claims are on a few lines, a log has millions
MAX_LINE_CHARS = 8_000


def _lines_with(text: str, needles: tuple[str, ...]) -> list[str]:
    """The lines holding any of ``needles`` (lower case), in order, at most ``MAX_LINES``: a plain
    substring search, so a 5 MB log costs a few milliseconds, and the regexes only see these lines."""
    lowered = text.lower()
    starts: set[int] = set()
    for needle in needles:
        at = lowered.find(needle)
        while at >= 0 and len(starts) < 4 * MAX_LINES:
            starts.add(text.rfind("\n", 0, at) + 1)
            at = lowered.find(needle, at + len(needle))
    lines = []
    for start in sorted(starts)[:MAX_LINES]:
        end = text.find("\n", start)
        lines.append(text[start : end if end >= 0 else len(text)][:MAX_LINE_CHARS])
    return lines


# -- column_exists ------------------------------------------------------------------------------------
_NAME = r"(?P<name>`[^`]{1,200}`(?:\.`[^`]{1,200}`){0,4}|'[^']{1,200}'|\"[^\"]{1,200}\"|[\w.]{1,200})"
_UNRESOLVED = (
    re.compile(r"with name " + _NAME + r" cannot be resolved", re.IGNORECASE),
    re.compile(r"\bcolumn " + _NAME + r" (?:does not exist|cannot be resolved)", re.IGNORECASE),
    re.compile(r"cannot resolve " + _NAME + r" given input columns", re.IGNORECASE),
)
_SUGGESTIONS = re.compile(
    r"(?:did you mean one of the following\?|given input columns:?)\s*\[(?P<list>[^\]]{0,4000})\]",
    re.IGNORECASE,
)


def _last_part(name: str) -> str:
    parts = [p.strip("`'\" ") for p in re.split(r"`\.`|\.(?=[^`]*$)", name.strip()) if p.strip("`'\" ")]
    return parts[-1].lower() if parts else ""


_COLUMN_NEEDLES = ("cannot be resolved", "does not exist", "given input columns")


def column_exists(text: str) -> FactCheck | None:
    """None when the text has no unresolved column with a suggestion list (on the same line)."""
    for line in _lines_with(text, _COLUMN_NEEDLES):
        found = _column_on(line)
        if found is not None:
            return found
    return None


def _column_on(text: str) -> FactCheck | None:
    names = [m.group("name") for regex in _UNRESOLVED for m in regex.finditer(text)]
    listing = _SUGGESTIONS.search(text)
    if not names or listing is None:
        return None
    candidates = {_last_part(item) for item in listing.group("list").split(",")}
    for name in names:
        wanted = _last_part(name)
        if wanted and wanted in candidates:
            return FactCheck(
                COLUMN_EXISTS,
                REFUTED,
                f"{name.strip()} is among the error's own suggestions: the column exists, the query names "
                "it wrongly",
                Category.CODE_ERROR,
            )
    return FactCheck(COLUMN_EXISTS, CONFIRMED, f"{names[0].strip()} is not among the error's suggestions")


# -- path_scheme --------------------------------------------------------------------------------------
_PATH = re.compile(
    r"\b(?P<scheme>s3[an]?|hdfs|file|gs|abfss?|wasbs?|viewfs|dbfs|maprfs):/{1,2}(?P<bucket>[^/\s'\"`,;)\]]*)"
    r"(?P<rest>/[^\s'\"`,;)\]]*)?",
    re.IGNORECASE,
)
_MISSING_PATH = re.compile(
    r"(?:path does not exist|no such file or directory|file does not exist|filenotfoundexception|"
    r"nosuchkey|specified key does not exist|input path does not exist)[:\s'\"]*(?P<path>/[^\s'\"`,;)\]]+)?",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^(?:none|null|undefined|nan)$|[{}$%<>]", re.IGNORECASE)


_SAME_SCHEME = {"s3a": "s3", "s3n": "s3", "abfss": "abfs", "wasbs": "wasb"}
_BUCKET_SCHEMES = frozenset({"s3", "gs", "abfs", "wasb"})


def _scheme(path: str) -> str:
    match = _PATH.match(path)
    scheme = match.group("scheme").lower() if match else ""
    return _SAME_SCHEME.get(scheme, scheme)


def _bucket(path: str) -> str:
    match = _PATH.match(path)
    return match.group("bucket").lower() if match else ""


def _paths(text: str) -> list[str]:
    # A scheme alone ("s3a://" at the end of a cut or redacted line) names nothing.
    return [m.group(0) for m in _PATH.finditer(text) if m.group("bucket") or m.group("rest")]


def _no_bucket(path: str) -> bool:
    bucket = _bucket(path)
    return _scheme(path) in _BUCKET_SCHEMES and (not bucket or bool(_PLACEHOLDER.search(bucket)))


_PATH_NEEDLES = (
    "path does not exist",
    "no such file or directory",
    "file does not exist",
    "filenotfoundexception",
    "nosuchkey",
    "specified key does not exist",
)


def path_scheme(text: str, job: JobPaths | None) -> FactCheck | None:
    """None when the text names no missing path. ``job`` None: text only. Only the paths on the lines
    that report a missing path count (a log names many paths the job read without trouble)."""
    lines = [line for line in _lines_with(text, _PATH_NEEDLES) if _MISSING_PATH.search(line)]
    if not lines:
        return None
    missing = _MISSING_PATH.search(lines[0])
    assert missing is not None
    paths = [path for line in lines for path in _paths(line)]
    bare = missing.group("path") if not paths else None
    for path in paths:
        if _no_bucket(path):
            return FactCheck(
                PATH_SCHEME,
                REFUTED,
                f"{path} has no real bucket (empty or a placeholder): a configuration error",
                Category.CODE_ERROR,
            )
    if job is None:
        return FactCheck(PATH_SCHEME, NOT_CHECKED, TEXT_ONLY)
    known = job.all
    if not known:
        return FactCheck(PATH_SCHEME, NOT_CHECKED, "the job names no location (arguments, script, tables)")
    schemes = {_scheme(p) for p in known}
    targets = paths or ([bare] if bare else [])
    if not targets:
        return FactCheck(PATH_SCHEME, NOT_CHECKED, "the error names no path")
    for path in targets:
        scheme = _scheme(path) if path in paths else "(default file system)"
        if scheme not in schemes:
            return FactCheck(
                PATH_SCHEME,
                REFUTED,
                f"{path}: the job reads {', '.join(sorted(s + '://' for s in schemes))} only, never "
                f"{scheme}: a configuration error",
                Category.CODE_ERROR,
            )
    # Buckets: only where the job's arguments name its data paths (table locations may be outputs, and a
    # script's bucket says nothing about the data), a bucket outside all of them is not the job's input.
    if job.argument_paths:
        buckets = {_bucket(p) for p in known if _bucket(p)}
        for path in paths:
            if _scheme(path) in _BUCKET_SCHEMES and _bucket(path) not in buckets:
                return FactCheck(
                    PATH_SCHEME,
                    REFUTED,
                    f"{path}: bucket {_bucket(path)} is in none of the job's arguments, script or table "
                    "locations: a configuration error",
                    Category.CODE_ERROR,
                )
        return FactCheck(PATH_SCHEME, CONFIRMED, f"{targets[0]} is on a bucket the job reads")
    return FactCheck(PATH_SCHEME, CONFIRMED, f"{targets[0]} is on a scheme the job reads")


# -- catalog_drift ------------------------------------------------------------------------------------
def catalog_drift(reports: Sequence[DriftReport] | None) -> FactCheck:
    """``reports`` None: the catalog was not read (no declared tables, or text only)."""
    if reports is None:
        return FactCheck(CATALOG_DRIFT, NOT_CHECKED, TEXT_ONLY)
    if not reports:
        return FactCheck(CATALOG_DRIFT, NOT_CHECKED, "no declared table was read (--selfheal-tables)")
    breaking = [r.table for r in reports if r.breaking]
    if breaking:
        return FactCheck(
            CATALOG_DRIFT, CONFIRMED, f"breaking change since the last success: {', '.join(breaking)}"
        )
    tables = ", ".join(r.table for r in reports)
    return FactCheck(
        CATALOG_DRIFT,
        REFUTED,
        f"the error reads like drift, but the catalog shows no breaking change in {tables}",
        Category.UNKNOWN,
    )


# -- cause_from_facts ---------------------------------------------------------------------------------
def cause_from_facts(
    reports: Sequence[DriftReport], bad_record_fraction: float | None, fraction_source: str | None
) -> tuple[Category, FactCheck] | None:
    """The category trusted facts name when the text names none, with the check that says why; None when
    no fact names one. Only what the caller read from trusted sources may be passed: the catalog's versions
    and a Glue Data Quality result's row counts, never numbers found in the log.

    A breaking catalog change comes first: it is a change to what the job reads, and the drift report
    names the table and the columns. Type changes alone point to ``type_mismatch``."""
    breaking = [r for r in reports if r.breaking]
    if breaking:
        only_types = all(
            r.type_changed and not (r.removed or r.renamed or r.partition_keys_changed) for r in breaking
        )
        category = Category.TYPE_MISMATCH if only_types else Category.SCHEMA_DRIFT
        changes = "; ".join(f"{r.table}: {', '.join(r.kinds)}" for r in breaking)
        fact = f"breaking catalog change since the last success ({changes})"
    elif bad_record_fraction is not None and bad_record_fraction > 0:
        source = fraction_source or "a Glue Data Quality result"
        category, fact = (
            Category.DATA_QUALITY,
            f"{source} found bad rows ({bad_record_fraction:.6g} of the input)",
        )
    else:
        return None
    evidence = f"the text names no cause; {fact}: {category.value}, for a person to decide"
    return category, FactCheck(CAUSE_FROM_FACTS, CONFIRMED, evidence)


# -- together -----------------------------------------------------------------------------------------
def _claims(name: str) -> frozenset[Category]:
    return {COLUMN_EXISTS: _COLUMN_CLAIMS, PATH_SCHEME: _PATH_CLAIMS, CATALOG_DRIFT: _DRIFT_CLAIMS}[name]


def apply_checks(category: Category, checks: Iterable[FactCheck]) -> tuple[Category, tuple[FactCheck, ...]]:
    """The category after the checks that bear on it, and those checks. The first refutation decides; the
    checks recorded are those that bear on the category as claimed."""
    claimed = category
    # A refutation that already explains the category (the classifier applied the text's checks) stays.
    made = tuple(
        check
        for check in checks
        if claimed in _claims(check.name) or (check.refuted and check.points_to is claimed)
    )
    refuting = next((c for c in made if c.refuted and c.points_to is not None), None)
    if refuting is not None and refuting.points_to is not None:
        category = refuting.points_to
    return category, made


def text_checks(text: str) -> tuple[FactCheck, ...]:
    """The checks the text alone supports (``selfheal classify``), including those it could not make."""
    found = [column_exists(text), path_scheme(text, None)]
    return tuple(c for c in found if c is not None)


def check_claims(
    category: Category,
    text: str,
    job: JobPaths | None,
    drift: Sequence[DriftReport] | None,
) -> tuple[Category, tuple[FactCheck, ...]]:
    """All the checks Diagnose can make with the job and the catalog at hand."""
    found = [column_exists(text), path_scheme(text, job), catalog_drift(drift)]
    return apply_checks(category, (c for c in found if c is not None))
