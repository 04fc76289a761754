"""Storm control: incidents that share a cause are handled as one group, and automation is rate-limited.

When a shared source goes down, hundreds of jobs fail within a minute. Handled one by one, each would
re-run its job against a source that is still down and page a human on its own. Instead:

- **Correlation.** Incidents whose diagnosis names the same cause within a window form one group: the
  same failing source (a drifted or named source table, an S3 prefix, a JDBC host), the same
  account-level throttle, or the same error signature. The key comes from the diagnosis alone.
- **Probe and followers.** The first incident of a group is its probe and acts as usual; the others are
  held (``log_and_wait`` semantics: they start no Glue run) until the probe's outcome is known. Probe
  resolved: followers go ahead, within the action budget. Probe failed and escalated: followers join the
  group's single escalation. Probe escalated without having tried anything (a job-specific veto): the
  next follower becomes the probe.
- **Budgets.** At most N automated Glue actions per budget window across the account and M per job, as
  SSM Automation's rate control; an action over budget is held until a later window.
- **Breaker.** After F failed actions within a breaker window, automation stops (every further action is
  escalated) and the stopped incidents share one escalation.
- **One notification per group.** The first escalation of a group is published; later ones are recorded
  in their incident's log as joining it.

Pure: no AWS, no clock. The store (``ports.StormStore``) does the atomic bookkeeping; this module decides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.incident import IncidentState, Outcome
from selfheal_core.errors import ConfigurationError
from selfheal_core.vocabulary import GLUE_ACTIONS, Category


class StormSettingsError(ConfigurationError):
    pass


# Bounds that keep an execution inside its 48 h timeout and Step Functions' 25,000-event history whatever
# an operator sets (tests/template/test_timing.py computes the worst case at these bounds): a held attempt
# waits at most MAX_HOLD_SECONDS, in at most MAX_HOLD_LOOKS looks of three states each.
MIN_HOLD_SECONDS = 30
MAX_HOLD_SECONDS = 7200
MAX_HOLD_LOOKS = 120


@dataclass(frozen=True)
class StormSettings:
    """The ``storm`` object of the settings parameter; every field optional, these are the defaults."""

    enabled: bool = True
    # An incident joins a group whose last member came at most this long ago.
    window_seconds: int = 900
    # Followers look again after this long; after ``max_hold_seconds`` held they escalate.
    hold_seconds: int = 300
    max_hold_seconds: int = 7200
    # Automated Glue actions per budget window: all jobs together, and per job.
    budget_window_seconds: int = 600
    max_actions: int = 100
    max_actions_per_job: int = 3
    # Failed automated actions within a breaker window that stop automation.
    breaker_window_seconds: int = 1800
    breaker_failures: int = 25
    # Group incidents that share only an error signature (not a source or a throttle).
    group_by_signature: bool = True

    @classmethod
    def from_data(cls, data: Any) -> StormSettings:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise StormSettingsError(f"settings 'storm' must be an object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise StormSettingsError(f"unknown storm setting(s): {', '.join(map(str, unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if known[name].type in ("bool", bool):
                if not isinstance(value, bool):
                    raise StormSettingsError(f"storm.{name} must be true or false, got {value!r}")
                values[name] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise StormSettingsError(f"storm.{name} must be a whole number, got {value!r}")
            if value < 1 or value != int(value):
                raise StormSettingsError(f"storm.{name} must be a whole number >= 1, got {value!r}")
            values[name] = int(value)
        settings = cls(**values)
        if not MIN_HOLD_SECONDS <= settings.hold_seconds <= settings.max_hold_seconds:
            raise StormSettingsError(
                f"storm.hold_seconds must be at least {MIN_HOLD_SECONDS} and at most storm.max_hold_seconds"
            )
        if settings.max_hold_seconds > MAX_HOLD_SECONDS:
            raise StormSettingsError(
                f"storm.max_hold_seconds must be at most {MAX_HOLD_SECONDS}: past it a held incident goes"
                " to a human (an outage that long needs one anyway)"
            )
        if settings.max_hold_seconds > MAX_HOLD_LOOKS * settings.hold_seconds:
            raise StormSettingsError(
                f"storm.max_hold_seconds allows at most {MAX_HOLD_LOOKS} looks of storm.hold_seconds"
            )
        return settings

    def to_data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# -- correlation -------------------------------------------------------------------------------------
class Basis(StrEnum):
    SOURCE = "source"
    THROTTLE = "throttle"
    SIGNATURE = "signature"
    BREAKER = "breaker"


@dataclass(frozen=True)
class CorrelationKey:
    basis: Basis
    value: str

    @property
    def key(self) -> str:
        return f"{self.basis.value}:{self.value}"


# Throttles of the job itself are not account-wide: MaxConcurrentRuns is per job.
_JOB_LEVEL_THROTTLES = frozenset({"throttle.concurrent_runs"})
_S3 = re.compile(r"\bs3a?n?://([a-z0-9][a-z0-9.\-]{1,62})(/[^\s'\"`,;)\]]*)?", re.IGNORECASE)
_JDBC = re.compile(r"\bjdbc:([a-z0-9]+):(?://)?(?:[^@/\s]*@)?([a-z0-9.\-]+)(?::(\d+))?", re.IGNORECASE)
# Path segments that differ per run or per day, not per source: partitions, dates, run ids, files.
_VOLATILE = re.compile(r"=|^\d{4}[-/]?\d{2}|^\d+$|^run-|^part-|\.\w{2,8}$")
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Exception|Error))\b")
_MAX_PREFIX_SEGMENTS = 3


def _s3_source(text: str) -> str | None:
    match = _S3.search(text)
    if match is None:
        return None
    bucket = match.group(1).lower()
    segments: list[str] = []
    for segment in (match.group(2) or "").split("/"):
        if not segment:
            continue
        if _VOLATILE.search(segment) or len(segments) >= _MAX_PREFIX_SEGMENTS:
            break
        segments.append(segment)
    return "s3://" + "/".join([bucket, *segments])


def _jdbc_source(text: str) -> str | None:
    match = _JDBC.search(text)
    if match is None:
        return None
    engine, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    return f"jdbc:{engine}://{host}" + (f":{port}" if port else "")


def _table_source(diagnosis: Diagnosis, text: str) -> str | None:
    """A table the job reads that drifted, or that the error names."""
    drifted = sorted(r.table for r in diagnosis.drift if r.breaking)
    if drifted:
        return drifted[0]
    lowered = text.lower()
    named = sorted(
        r.table
        for r in diagnosis.drift
        if r.table.lower() in lowered or r.table.partition(".")[2].lower() in lowered.split()
    )
    return named[0] if named else None


def correlation_key(diagnosis: Diagnosis | None, *, by_signature: bool = True) -> CorrelationKey | None:
    """The cause an incident shares with others, from its diagnosis alone; None: it stands alone."""
    if diagnosis is None:
        return None
    text = "\n".join(diagnosis.evidence)
    signature = diagnosis.signature or ""
    if diagnosis.category is Category.THROTTLING and signature not in _JOB_LEVEL_THROTTLES:
        return CorrelationKey(Basis.THROTTLE, f"account/{signature or 'throttling'}")
    source = _table_source(diagnosis, text) or _s3_source(text) or _jdbc_source(text)
    if source is not None:
        return CorrelationKey(Basis.SOURCE, source)
    if not by_signature or (diagnosis.category is Category.UNKNOWN and not signature):
        return None
    if signature:
        return CorrelationKey(Basis.SIGNATURE, f"{diagnosis.category.value}/{signature}")
    exception = _EXCEPTION.search(text)
    if exception is None:
        return None
    return CorrelationKey(Basis.SIGNATURE, f"{diagnosis.category.value}/{exception.group(1)}")


# -- time windows --------------------------------------------------------------------------------
def parse_time(value: str) -> datetime:
    """An ISO-8601 UTC time as the stores and events write it."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_index(moment: datetime, window_seconds: int) -> int:
    """The fixed window ``moment`` falls in (windows are aligned on the epoch, so every writer agrees)."""
    return int(moment.timestamp() // window_seconds)


def budget_window(moment: datetime, settings: StormSettings) -> str:
    """The name of the budget window in force at ``moment``: counters are kept per window."""
    size = settings.budget_window_seconds
    return f"budget/{size}/{window_index(moment, size)}"


def breaker_windows(moment: datetime, settings: StormSettings) -> tuple[str, str]:
    """This breaker window and the one before: a trip keeps the breaker open through the next window."""
    size = settings.breaker_window_seconds
    index = window_index(moment, size)
    return f"breaker/{size}/{index}", f"breaker/{size}/{index - 1}"


def breaker_group(window: str) -> str:
    return f"{Basis.BREAKER.value}:{window}"


# -- the group record ----------------------------------------------------------------------------
class Role(StrEnum):
    PROBE = "probe"
    FOLLOWER = "follower"


@dataclass(frozen=True)
class Membership:
    """What the store answers when an incident joins (or has joined) its group."""

    group_id: str
    key: str
    role: Role
    probe: str  # the probe's incident id (itself when it is the probe)
    members: int  # members so far, this one included
    opened_at: str


@dataclass(frozen=True)
class GroupRecord:
    group_id: str
    key: str
    probe: str
    members: int
    opened_at: str
    last_seen: str
    notified_by: str | None = None


# "#", not "@": "host:5432@2026-..." would read as user:password@host to the redaction the event log
# applies, and the group id in the log would no longer match the storm table's.
_GROUP_SEPARATOR = "#"


def group_id_for(key: str, opened_at: str) -> str:
    return f"{key}{_GROUP_SEPARATOR}{opened_at}"


def key_of_group(group_id: str) -> str:
    return group_id.rpartition(_GROUP_SEPARATOR)[0] or group_id


def group_is_open(record: GroupRecord | None, now: datetime, window_seconds: int) -> bool:
    """A group takes new members while its last member came at most a window ago."""
    if record is None:
        return False
    return (now - parse_time(record.last_seen)).total_seconds() <= window_seconds


# -- the probe's outcome, as its followers see it ------------------------------------------------
class ProbeOutcome(StrEnum):
    PENDING = "pending"  # still working on it
    RESOLVED = "resolved"  # an automated action fixed it: the cause has cleared
    FAILED = "failed"  # it ran actions, they failed, it escalated: the cause persists
    UNINFORMATIVE = "uninformative"  # it escalated without trying anything: tells nothing of the cause


# -- decisions -----------------------------------------------------------------------------------
class Verdict(StrEnum):
    PROCEED = "proceed"
    HOLD = "hold"
    ESCALATE = "escalate"


# Rule names, recorded like the safety gate's.
HOLD_FOR_PROBE = "storm_hold_for_probe"
HOLD_FOR_BUDGET = "storm_action_budget"
GROUP_ESCALATED = "storm_group_escalated"
BREAKER_OPEN = "storm_breaker_open"
HOLD_TIMEOUT = "storm_hold_timeout"
STORM_RULES: tuple[str, ...] = (HOLD_FOR_PROBE, HOLD_FOR_BUDGET, GROUP_ESCALATED, BREAKER_OPEN, HOLD_TIMEOUT)


@dataclass(frozen=True)
class StormDecision:
    verdict: Verdict
    rule: str | None = None
    detail: str = ""


def follower_decision(outcome: ProbeOutcome) -> StormDecision:
    """What a follower does given its probe's outcome (before budgets)."""
    if outcome is ProbeOutcome.PENDING:
        return StormDecision(Verdict.HOLD, HOLD_FOR_PROBE, "waiting for the group's probe")
    if outcome is ProbeOutcome.FAILED:
        return StormDecision(Verdict.ESCALATE, GROUP_ESCALATED, "the group's probe failed and was escalated")
    return StormDecision(Verdict.PROCEED)


def held_too_long(held_since: str | None, now: datetime, settings: StormSettings) -> bool:
    if held_since is None:
        return False
    return (now - parse_time(held_since)).total_seconds() >= settings.max_hold_seconds


def breaker_open(failures_now: int, failures_before: int, settings: StormSettings) -> bool:
    return max(failures_now, failures_before) >= settings.breaker_failures


def remaining_backoff(wait_seconds: int, held_since: str | None, now: datetime) -> int:
    """A held follower has already let the cause clear for as long as it was held."""
    if held_since is None:
        return wait_seconds
    held = (now - parse_time(held_since)).total_seconds()
    return max(0, int(wait_seconds - held))


# -- what the escalation message says --------------------------------------------------------------
def probe_outcome(probe: IncidentState | None) -> ProbeOutcome:
    """The probe's outcome as its followers read it from the probe's own log."""
    if probe is None:
        return ProbeOutcome.UNINFORMATIVE
    if probe.outcome is Outcome.RESOLVED:
        return ProbeOutcome.RESOLVED
    tried = any(a.action in GLUE_ACTIONS and a.fixed is False for a in probe.attempts)
    if probe.outcome is Outcome.ESCALATED:
        return ProbeOutcome.FAILED if tried else ProbeOutcome.UNINFORMATIVE
    if probe.learned:  # closed without a resolution or an escalation: nothing to learn from
        return ProbeOutcome.UNINFORMATIVE
    return ProbeOutcome.PENDING


def storm_summary_lines(state: IncidentState) -> list[str]:
    """Lines for the escalation message: the storm group the incident is in and the storm rule that
    stopped it, if any (``escalate.message_for`` puts them under ``storm``)."""
    lines: list[str] = []
    group = state.storm_group
    if group is not None:
        lines.append(
            f"storm group {group.key} ({group.group_id}): this incident is the {group.role} "
            f"(probe {group.probe}, {group.members} member(s) when it joined); the group's later "
            "escalations join this message and are recorded in their own logs"
        )
    attempt = state.current_attempt
    fired = [rule for rule in (attempt.rules_fired if attempt else ()) if rule in STORM_RULES]
    if fired:
        lines.append(f"storm control: {', '.join(fired)}")
    return lines
