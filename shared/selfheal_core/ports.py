"""The small interfaces the handlers wire together. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from selfheal_core.domain.drift import TableVersion
from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.evidence import DataQualityOutcome
from selfheal_core.domain.learning import QRow, QUpdate
from selfheal_core.domain.storm import GroupRecord, Membership


class EventStore(Protocol):
    """An append-only log of events per incident.

    Optimistic concurrency on the whole incident: a writer folds the log, decides, and appends at the
    sequence number it expects; ``append`` raises ``ConcurrentUpdateError`` when another writer took it
    (``selfheal_core.concurrency.retry_on_conflict`` re-reads and decides again).
    """

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        """Write the ``opened`` event unless the incident exists; returns (created, the opened event)."""
        ...

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent: ...

    def load(self, incident_id: str) -> list[IncidentEvent]: ...


class IncidentIndex(Protocol):
    """Finds the incidents that may be stuck (the Sweeper's only query)."""

    def open_incidents(self, opened_before: str, opened_after: str = "") -> list[str]:
        """Incidents opened in [opened_after, opened_before) (ISO-8601 UTC) with no ``learned`` event."""
        ...


class ExecutionLookup(Protocol):
    def status(self, execution_arn: str) -> str | None:
        """RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE, None if it does not exist."""
        ...


class AuditSink(Protocol):
    def write(self, event: IncidentEvent) -> None: ...


class QTableStore(Protocol):
    """Q-rows kept as commutative sums (``domain.learning.QRow``): an update is an atomic increment.

    ``apply`` writes the update's record (keyed by ``update.update_id``) and adds it to its row in one
    atomic step, or does nothing if that record exists: every update is applied exactly once, however many
    Learns run at once on a row and however often one is retried, with nothing to forget.
    """

    def load_rows(self, keys: Iterable[str]) -> dict[str, QRow]: ...

    def apply(self, update: QUpdate) -> bool:
        """Apply ``update`` unless it was applied before; True if this call applied it."""
        ...

    def install(self, key: str, row: QRow) -> None:
        """Replace a row by a trained one (``selfheal train --install``)."""
        ...

    def all_rows(self) -> dict[str, QRow]: ...


@dataclass(frozen=True)
class JobRun:
    job_name: str
    run_id: str
    state: str  # STARTING | RUNNING | STOPPING | STOPPED | SUCCEEDED | FAILED | TIMEOUT | ERROR | WAITING
    arguments: Mapping[str, str] = field(default_factory=dict)
    error_message: str | None = None
    started_on: datetime | None = None
    completed_on: datetime | None = None
    log_group: str | None = None
    attempt: int = 0  # Glue's own retry counter for this run (0 = first attempt)
    # Run-level settings an orchestrator may have given StartJobRun (WorkerType, NumberOfWorkers or
    # MaxCapacity, Timeout, ExecutionClass, SecurityConfiguration): a re-run keeps them.
    run_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobInfo:
    name: str
    tags: Mapping[str, str]
    default_arguments: Mapping[str, str]
    max_retries: int = 0  # Glue retries a failed run itself this many times
    script_location: str = ""  # Command.ScriptLocation


class GlueCatalog(Protocol):
    """Read-only view of Glue: all Diagnose may use."""

    def get_job(self, job_name: str) -> JobInfo: ...

    def get_job_run(self, job_name: str, run_id: str) -> JobRun: ...

    def recent_runs(self, job_name: str, limit: int = 50) -> list[JobRun]: ...

    def table_versions(self, database: str, table: str) -> list[TableVersion]: ...

    def data_quality_rows(self, result_id: str) -> tuple[int, int] | None:
        """(rows failed, rows processed) of a Glue Data Quality result, or None if not available."""
        ...

    def run_data_quality(self, job_name: str, run_id: str) -> tuple[DataQualityOutcome, ...]:
        """The Data Quality results a job run published (``ListDataQualityResults`` filtered by the run,
        then ``GetDataQualityResult``); empty when there are none or they cannot be read."""
        ...


class GlueActions(GlueCatalog, Protocol):
    """What Execute may do on top of reading."""

    def start_job_run(
        self, job_name: str, arguments: Mapping[str, str], run_settings: Mapping[str, Any] | None = None
    ) -> str: ...

    def restore_table_version(self, database: str, table: str, version_id: str) -> None: ...


@dataclass(frozen=True)
class LogRead:
    text: str
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    truncated: bool = False


class LogReader(Protocol):
    def read_run_logs(
        self, job_run_id: str, log_group_prefix: str | None = None, continuous_log_group: str | None = None
    ) -> LogRead: ...


class Notifier(Protocol):
    def publish(self, subject: str, message: Mapping[str, Any]) -> str: ...


class SettingsSource(Protocol):
    def load(self) -> Mapping[str, Any]: ...


class LabelSink(Protocol):
    def append(self, record: Mapping[str, Any]) -> None:
        """Keep one labelled example (the corpus JSONL format): a human's true category for a message."""
        ...


class AnswerLinks(Protocol):
    def links(self, incident_id: str, question: str, expires_at: str) -> Mapping[str, str]:
        """One-click answer links, decision -> URL (empty when the stack serves none)."""
        ...


@dataclass(frozen=True)
class RunWatch:
    """A run selfheal started and the task token of the execution waiting for its end."""

    run_id: str
    incident_id: str
    job_name: str
    task_token: str


class RunWatches(Protocol):
    """Which runs selfheal waits for: one record per run id, written when the wait starts."""

    def watch(self, watch: RunWatch) -> None:
        """Record (or replace: a retried wait has a new token) the wait for ``watch.run_id``."""
        ...

    def find(self, run_id: str) -> RunWatch | None: ...


class TaskRelease(Protocol):
    def succeed(self, task_token: str, output: Mapping[str, Any]) -> bool:
        """SendTaskSuccess; False when the wait is already over (released, timed out, execution ended)."""
        ...


class StormStore(Protocol):
    """Group and budget state shared by every incident (``domain.storm``); every write is atomic and
    idempotent by the id it is given, so a retried step never counts twice."""

    def join(self, key: str, incident_id: str, now: str, window_seconds: int) -> Membership:
        """Join the open group of ``key`` (whose last member came at most ``window_seconds`` before
        ``now``), or open one with this incident as its probe; a repeated call returns the first answer."""
        ...

    def group(self, group_id: str) -> GroupRecord | None: ...

    def replace_probe(self, group_id: str, old_probe: str, new_probe: str) -> bool:
        """Make ``new_probe`` the probe if ``old_probe`` still is; True if it is now ``new_probe``."""
        ...

    def take_action(
        self, grant_id: str, window: str, job_name: str, max_actions: int, max_per_job: int
    ) -> bool:
        """Count one automated action in ``window`` unless that would pass either limit; True if granted
        (now or by an earlier call with the same ``grant_id``)."""
        ...

    def actions(self, window: str, job_name: str | None = None) -> int: ...

    def record_failure(self, failure_id: str, window: str) -> int:
        """Count a failed automated action once; returns the failures counted in ``window``."""
        ...

    def failures(self, window: str) -> int: ...

    def claim_notification(self, group_id: str, incident_id: str) -> str:
        """The incident that publishes the group's one notification: the first to claim it."""
        ...
