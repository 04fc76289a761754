"""Scenario files: parse and validate the format of ``/work/shared/scenario-spec.md`` exactly.

Validation is by hand so every error names the offending path (``modes[2].fix.retry``) in one line.
Anything outside the format (an unknown key, a wrong type, a value out of range) is rejected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal_core.domain.bounds import InputRejected, json_nesting_depth
from selfheal_core.vocabulary import ACTIONS, CATEGORIES, Action, Category, Criticality

DRIFT_KINDS: tuple[str, ...] = ("column_removed", "column_renamed", "type_changed")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


class ScenarioError(ValueError):
    """The scenario file does not follow the format; the message names the key path."""


@dataclass(frozen=True)
class HumanSpec:
    median_hours: float = 20.0
    p90_hours: float = 60.0

    @property
    def sigma(self) -> float:
        """Lognormal sigma from the median and the 90th percentile (z(0.9) = 1.2816)."""
        return math.log(self.p90_hours / self.median_hours) / 1.2816

    @property
    def mean_hours(self) -> float:
        return self.median_hours * math.exp(self.sigma**2 / 2.0)


@dataclass(frozen=True)
class ApprovalsSpec:
    """Approve-then-execute: an action the gate forbids only because it needs a human's approval is
    asked for instead of escalated; the answer comes after a lognormal time and approves with
    ``approve_probability``."""

    enabled: bool = True
    median_minutes: float = 30.0
    p90_minutes: float = 240.0
    approve_probability: float = 0.9

    @property
    def sigma(self) -> float:
        """Lognormal sigma from the median and the 90th percentile (z(0.9) = 1.2816)."""
        return math.log(self.p90_minutes / self.median_minutes) / 1.2816

    @property
    def mean_minutes(self) -> float:
        return self.median_minutes * math.exp(self.sigma**2 / 2.0)

    def answer_minutes(self, z: float) -> float:
        """The time to the answer for the standard normal draw ``z``."""
        return self.median_minutes * math.exp(self.sigma * z)


@dataclass(frozen=True)
class JobSpec:
    name: str
    criticality: Criticality = Criticality.MEDIUM
    runtime_minutes: float = 10.0
    weight: float = 1.0
    tables: tuple[str, ...] = ()
    schedule_hours: float = 24.0


@dataclass(frozen=True)
class ModeSpec:
    category: Category
    weight: float
    jobs: tuple[str, ...] | None = None  # None: all jobs
    start: float = 0.0  # "from"
    until: float = 1.0
    fix: Mapping[Action, float] = field(default_factory=dict)
    harm: frozenset[Action] = frozenset()
    drift: str | None = None
    bad_record_fraction: float | None = None
    messages: tuple[str, ...] | None = None  # None: the simulator's own library

    def applies(self, job: str, position: float) -> bool:
        """``position`` is the incident's place in the stream, in [0, 1)."""
        return self.start <= position < self.until and (self.jobs is None or job in self.jobs)


@dataclass(frozen=True)
class Scenario:
    name: str
    jobs: tuple[JobSpec, ...]
    modes: tuple[ModeSpec, ...]
    description: str = ""
    incidents: int = 2000
    seed: int = 0
    detection_seconds: float = 30.0
    decision_seconds: float = 5.0
    backoff_minutes: float = 10.0
    max_attempts: int = 3
    human: HumanSpec = field(default_factory=HumanSpec)
    approvals: ApprovalsSpec | None = None  # absent from the file: no approvals

    def job(self, name: str) -> JobSpec:
        return next(j for j in self.jobs if j.name == name)

    @property
    def active_approvals(self) -> ApprovalsSpec | None:
        """The approvals in force: None when the file has none or disables them."""
        return self.approvals if self.approvals is not None and self.approvals.enabled else None


# Bounds the format leaves open, set so that a run ends and every figure it prints stays finite
# (a mode weighing 1e308, or a human taking 1e300 hours, overflowed to inf and NaN in the report).
MAX_INCIDENTS = 1_000_000
MAX_ATTEMPTS = 100
MAX_WEIGHT = 1e9
YEAR_HOURS = 365.0 * 24
YEAR_MINUTES = YEAR_HOURS * 60
YEAR_SECONDS = YEAR_MINUTES * 60


# -- primitive checks ----------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _number(
    value: Any, path: str, *, low: float | None = None, low_open: bool = False, high: float | None = None
) -> float:
    if not _is_number(value):
        raise ScenarioError(f"{path}: expected a number, got {_shown(value)}")
    number = float(value)
    if low is not None and (number < low or (low_open and number == low)):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ScenarioError(f"{path}: must be {bound}, got {number:g}")
    if high is not None and number > high:
        raise ScenarioError(f"{path}: must be <= {high:g}, got {number:g}")
    return number


def _integer(value: Any, path: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{path}: expected an integer, got {_shown(value)}")
    if low is not None and value < low:
        raise ScenarioError(f"{path}: must be >= {low}, got {_shown(value)}")
    if high is not None and value > high:
        raise ScenarioError(f"{path}: must be <= {high:,}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    """A value as the file wrote it, cut short: an error names the value, it does not echo 100 KB."""
    try:
        text = json.dumps(value)
    except ValueError:  # an integer of 4,300+ digits
        text = "a very large integer"
    return text if len(text) <= 80 else text[:77] + "..."


def _string(value: Any, path: str, *, non_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{path}: expected a string, got {_shown(value)}")
    if non_empty and not value.strip():
        raise ScenarioError(f"{path}: must not be empty")
    return value


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(f"{path}: expected a list, got {type(value).__name__}")
    if non_empty and not value:
        raise ScenarioError(f"{path}: must hold at least one item")
    return value


def _only_keys(
    obj: Mapping[str, Any], path: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        where = f"{path}." if path else ""
        raise ScenarioError(f"{where}{unknown[0]}: unknown key (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in obj:
            where = f"{path}." if path else ""
            raise ScenarioError(f"{where}{key}: required key is missing")


def _enum(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ScenarioError(f"{path}: {_shown(value)} is not one of {', '.join(choices)}")
    return value


def _action(value: Any, path: str) -> Action:
    return Action(_enum(value, path, tuple(a.value for a in ACTIONS)))


# -- sections ------------------------------------------------------------------------------------------
_TOP_KEYS = (
    "name",
    "description",
    "incidents",
    "seed",
    "detection_seconds",
    "decision_seconds",
    "backoff_minutes",
    "max_attempts",
    "human",
    "jobs",
    "modes",
    "approvals",
)
_APPROVAL_KEYS = ("enabled", "median_minutes", "p90_minutes", "approve_probability")
_JOB_KEYS = ("name", "criticality", "runtime_minutes", "weight", "tables", "schedule_hours")
_MODE_KEYS = (
    "category",
    "weight",
    "jobs",
    "from",
    "until",
    "fix",
    "harm",
    "drift",
    "bad_record_fraction",
    "messages",
)


def _parse_human(value: Any) -> HumanSpec:
    obj = _object(value, "human")
    _only_keys(obj, "human", ("median_hours", "p90_hours"), ())
    median = _number(
        obj.get("median_hours", 20.0), "human.median_hours", low=0.0, low_open=True, high=YEAR_HOURS
    )
    p90 = _number(obj.get("p90_hours", 60.0), "human.p90_hours", low=0.0, low_open=True, high=YEAR_HOURS)
    if p90 < median:
        raise ScenarioError(f"human.p90_hours: must be >= human.median_hours ({median:g}), got {p90:g}")
    return HumanSpec(median_hours=median, p90_hours=p90)


def _parse_approvals(value: Any) -> ApprovalsSpec:
    obj = _object(value, "approvals")
    _only_keys(obj, "approvals", _APPROVAL_KEYS, ())
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScenarioError(f"approvals.enabled: expected true or false, got {_shown(enabled)}")
    median = _number(
        obj.get("median_minutes", 30.0), "approvals.median_minutes", low=0.0, low_open=True, high=YEAR_MINUTES
    )
    p90 = _number(
        obj.get("p90_minutes", 240.0), "approvals.p90_minutes", low=0.0, low_open=True, high=YEAR_MINUTES
    )
    if p90 < median:
        raise ScenarioError(
            f"approvals.p90_minutes: must be >= approvals.median_minutes ({median:g}), got {p90:g}"
        )
    probability = _number(
        obj.get("approve_probability", 0.9), "approvals.approve_probability", low=0.0, high=1.0
    )
    return ApprovalsSpec(enabled, median, p90, probability)


def _parse_job(value: Any, index: int) -> JobSpec:
    path = f"jobs[{index}]"
    obj = _object(value, path)
    _only_keys(obj, path, _JOB_KEYS, ("name",))
    tables = []
    for t, table in enumerate(_list(obj.get("tables", []), f"{path}.tables")):
        name = _string(table, f"{path}.tables[{t}]")
        if not _TABLE_NAME.match(name):
            raise ScenarioError(f"{path}.tables[{t}]: expected 'db.table', got {_shown(name)}")
        tables.append(name)
    return JobSpec(
        name=_string(obj["name"], f"{path}.name"),
        criticality=Criticality(
            _enum(
                obj.get("criticality", "medium"), f"{path}.criticality", tuple(c.value for c in Criticality)
            )
        ),
        runtime_minutes=_number(
            obj.get("runtime_minutes", 10), f"{path}.runtime_minutes", low=0, low_open=True, high=YEAR_MINUTES
        ),
        weight=_number(obj.get("weight", 1), f"{path}.weight", low=0, low_open=True, high=MAX_WEIGHT),
        tables=tuple(tables),
        schedule_hours=_number(
            obj.get("schedule_hours", 24), f"{path}.schedule_hours", low=0, low_open=True, high=YEAR_HOURS
        ),
    )


def _parse_mode(value: Any, index: int, job_names: tuple[str, ...]) -> ModeSpec:
    path = f"modes[{index}]"
    obj = _object(value, path)
    _only_keys(obj, path, _MODE_KEYS, ("category", "weight"))
    category = Category(_enum(obj["category"], f"{path}.category", tuple(c.value for c in CATEGORIES)))

    jobs: tuple[str, ...] | None = None
    if "jobs" in obj:
        names = [_string(j, f"{path}.jobs[{k}]") for k, j in enumerate(_list(obj["jobs"], f"{path}.jobs"))]
        for k, name in enumerate(names):
            if name not in job_names:
                raise ScenarioError(f"{path}.jobs[{k}]: {_shown(name)} is not the name of a job")
        if not names:
            raise ScenarioError(f"{path}.jobs: must hold at least one job name (omit it for all jobs)")
        jobs = tuple(names)

    start = _number(obj.get("from", 0), f"{path}.from", low=0.0, high=1.0)
    until = _number(obj.get("until", 1), f"{path}.until", low=0.0, high=1.0)
    if start >= until:
        raise ScenarioError(f"{path}.until: must be greater than from ({start:g}), got {until:g}")

    fix: dict[Action, float] = {}
    for key, probability in _object(obj.get("fix", {}), f"{path}.fix").items():
        action = _action(key, f"{path}.fix.{key}")
        fix[action] = _number(probability, f"{path}.fix.{key}", low=0.0, high=1.0)

    harm = frozenset(
        _action(a, f"{path}.harm[{k}]") for k, a in enumerate(_list(obj.get("harm", []), f"{path}.harm"))
    )

    drift = obj.get("drift")
    if drift is not None:
        drift = _enum(drift, f"{path}.drift", DRIFT_KINDS)

    fraction = obj.get("bad_record_fraction")
    if fraction is not None:
        fraction = _number(fraction, f"{path}.bad_record_fraction", low=0.0, high=1.0)

    messages: tuple[str, ...] | None = None
    if "messages" in obj:
        items = _list(obj["messages"], f"{path}.messages", non_empty=True)
        messages = tuple(_string(m, f"{path}.messages[{k}]") for k, m in enumerate(items))

    return ModeSpec(
        category=category,
        weight=_number(obj["weight"], f"{path}.weight", low=0.0, low_open=True, high=MAX_WEIGHT),
        jobs=jobs,
        start=start,
        until=until,
        fix=fix,
        harm=harm,
        drift=drift,
        bad_record_fraction=fraction,
        messages=messages,
    )


def _check_coverage(jobs: tuple[JobSpec, ...], modes: tuple[ModeSpec, ...]) -> None:
    """Every job must have at least one mode at every point of the stream, else an incident has no cause."""
    for job in jobs:
        windows = sorted((m.start, m.until) for m in modes if m.jobs is None or job.name in m.jobs)
        reached = 0.0
        for start, until in windows:
            if start > reached:
                break
            reached = max(reached, until)
        if reached < 1.0:
            raise ScenarioError(
                f"modes: no mode applies to job {_shown(job.name)} from {reached:g} of the stream on "
                "(give it a mode covering that part, via 'jobs', 'from' and 'until')"
            )


def parse_scenario(data: Any) -> Scenario:
    """Validate a decoded JSON document and apply the defaults."""
    obj = _object(data, "scenario")
    _only_keys(obj, "", _TOP_KEYS, ("name", "jobs", "modes"))
    jobs = tuple(_parse_job(j, i) for i, j in enumerate(_list(obj["jobs"], "jobs", non_empty=True)))
    seen: set[str] = set()
    for i, job in enumerate(jobs):
        if job.name in seen:
            raise ScenarioError(f"jobs[{i}].name: duplicate job name {_shown(job.name)}")
        seen.add(job.name)
    names = tuple(j.name for j in jobs)
    modes = tuple(
        _parse_mode(m, i, names) for i, m in enumerate(_list(obj["modes"], "modes", non_empty=True))
    )
    _check_coverage(jobs, modes)
    return Scenario(
        name=_string(obj["name"], "name"),
        description=_string(obj.get("description", ""), "description", non_empty=False),
        incidents=_integer(obj.get("incidents", 2000), "incidents", low=1, high=MAX_INCIDENTS),
        seed=_integer(obj.get("seed", 0), "seed"),
        detection_seconds=_number(
            obj.get("detection_seconds", 30), "detection_seconds", low=0.0, high=YEAR_SECONDS
        ),
        decision_seconds=_number(
            obj.get("decision_seconds", 5), "decision_seconds", low=0.0, high=YEAR_SECONDS
        ),
        backoff_minutes=_number(
            obj.get("backoff_minutes", 10), "backoff_minutes", low=0.0, high=YEAR_MINUTES
        ),
        max_attempts=_integer(obj.get("max_attempts", 3), "max_attempts", low=1, high=MAX_ATTEMPTS),
        human=_parse_human(obj.get("human", {})),
        jobs=jobs,
        modes=modes,
        approvals=_parse_approvals(obj["approvals"]) if "approvals" in obj else None,
    )


MAX_SCENARIO_BYTES = 4 * 1024 * 1024
MAX_SCENARIO_DEPTH = 32


def _bounded_text(raw: bytes) -> str:
    if len(raw) > MAX_SCENARIO_BYTES:
        raise InputRejected(f"{len(raw)} bytes, more than the limit of {MAX_SCENARIO_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputRejected(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    depth = json_nesting_depth(text)
    if depth > MAX_SCENARIO_DEPTH:
        raise InputRejected(f"JSON nested {depth} levels deep, more than {MAX_SCENARIO_DEPTH}")
    return text


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is a ``ScenarioError`` naming the file."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise ScenarioError(f"{file}: cannot read it ({error.strerror or error})") from None
    try:  # size, UTF-8 and nesting are checked before the parser sees the text
        text = _bounded_text(raw)
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"{file}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except (InputRejected, RecursionError, ValueError) as error:  # ValueError: a 4,300+ digit integer
        raise ScenarioError(f"{file}: {error}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as error:
        raise ScenarioError(f"{file}: {error}") from None


def shipped_scenarios_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "scenarios"


def resolve_scenario_path(value: str) -> Path:
    """A path, or the name of a shipped scenario (``default`` -> ``scenarios/default.json``)."""
    path = Path(value)
    if path.exists() or path.suffix == ".json" or "/" in value:
        return path
    shipped = shipped_scenarios_dir() / f"{value}.json"
    return shipped if shipped.exists() else path
