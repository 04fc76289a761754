"""In-memory fakes of the ports in ``selfheal_core.ports``, for step and handler tests.

The fakes keep the semantics of the real adapters that the steps rely on (sequence numbers, the
``open`` idempotency, optimistic versions, ``ReadError`` for a Glue read of a missing resource and
``RemediationError`` for a refused Glue write) and record
what was asked of them, so tests can assert on calls and their order. Fakes wired by ``make_deps``
share one ``trace`` list: every store append and every Glue write is logged there in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from script_loader import load_module
from selfheal_core.adapters.memory import MemoryEventStore, MemoryQTableStore
from selfheal_core.domain.drift import Column, TableVersion
from selfheal_core.domain.events import DomainEvent, E, IncidentEvent, Opened
from selfheal_core.domain.evidence import DataQualityOutcome
from selfheal_core.domain.learning import LearnerSettings, QRow, QUpdate
from selfheal_core.domain.qlearning import QEntry
from selfheal_core.errors import ReadError, RemediationError
from selfheal_core.ports import JobInfo, JobRun, LogRead
from selfheal_core.runtime.config import Config
from selfheal_core.runtime.wiring import Dependencies

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
FUNCTIONS_DIR = EVENTS_DIR.parent / "functions"


# The events table's keys as template.yaml declares them (tests/template/test_template.py checks that).
EVENTS_TABLE_KEYS: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "incident_id", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "incident_id", "AttributeType": "S"},
        {"AttributeName": "seq", "AttributeType": "N"},
    ],
}
# The same table as a CloudFormation resource, for the stack moto deploys in CLI tests.
EVENTS_TABLE_RESOURCE: dict[str, Any] = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {"BillingMode": "PAY_PER_REQUEST", **EVENTS_TABLE_KEYS},
}


def create_events_table(client: Any, name: str = "selfheal-events") -> str:
    """The incident events table on (moto's) DynamoDB ``client``; returns its name."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **EVENTS_TABLE_KEYS)
    return name


def load_handler_module(function_dir: str) -> ModuleType:
    """``functions/<dir>/app.py`` as module ``fn_<dir>``, loaded once (every function's file is app.py).

    Registered in ``sys.modules``: a dataclass in the module resolves its annotations through it.
    """
    return load_module(f"fn_{function_dir}", FUNCTIONS_DIR / function_dir / "app.py")


class SimulatedCrash(RuntimeError):
    """Raised by a fake to simulate a Lambda dying mid-step (timeout, OOM, lost container)."""


# -- event log --------------------------------------------------------------------------------------
class InMemoryEventStore(MemoryEventStore):
    """The in-memory store with a ``trace`` of appends and injectable crashes."""

    def __init__(self, trace: list[str] | None = None) -> None:
        super().__init__()
        self.trace = trace if trace is not None else []
        self._crash_before: set[str] = set()

    def crash_before_append(self, kind: type[DomainEvent]) -> None:
        """The next append of ``kind`` raises ``SimulatedCrash`` without storing anything."""
        self._crash_before.add(kind.kind)

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        created, record = super().open(incident_id, opened)
        if created:
            self.trace.append("store.opened")
        return created, record

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        if event.kind in self._crash_before:
            self._crash_before.discard(event.kind)
            raise SimulatedCrash(f"crashed before appending {event.kind}")
        record = super().append(incident_id, event, expected_seq)
        self.trace.append(f"store.{event.kind}")
        return record

    def types(self, incident_id: str) -> list[str]:
        return [r.kind for r in self.load(incident_id)]

    def last(self, incident_id: str, kind: type[E]) -> E:
        return [r.event for r in self.load(incident_id) if isinstance(r.event, kind)][-1]

    def __len__(self) -> int:
        return len(self.incident_ids())

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self.incident_ids()


# -- Q-table ----------------------------------------------------------------------------------------
class InMemoryQTableStore(MemoryQTableStore):
    """The in-memory Q store, recording the row each newly applied update changed (``applied``)."""

    def __init__(self, rows: Mapping[str, QRow] | None = None) -> None:
        super().__init__(rows)
        self.applied: list[str] = []

    def apply(self, update: QUpdate) -> bool:
        done = super().apply(update)
        if done:
            self.applied.append(update.row)
        return done

    def read(self, key: str) -> QEntry | None:
        """The row as the policy sees it."""
        row = self.load_rows([key]).get(key)
        return QEntry.from_row(row) if row is not None else None

    def put(self, key: str, entry: QEntry) -> None:
        """Install a row given as the policy sees it."""
        self.install(key, entry.to_row(LearnerSettings()))

    def __contains__(self, key: object) -> bool:
        return key in self.all_rows()


# -- Glue -------------------------------------------------------------------------------------------
class FakeGlue:
    """Jobs, runs and catalog table versions; records every write (``started``, ``restores``)."""

    def __init__(self, trace: list[str] | None = None) -> None:
        self.jobs: dict[str, JobInfo] = {}
        self.runs: dict[str, list[JobRun]] = {}
        self.started_settings: list[dict[str, Any]] = []
        self.tables: dict[tuple[str, str], list[TableVersion]] = {}
        self.started: list[tuple[str, dict[str, str]]] = []
        self.restores: list[tuple[str, str, str]] = []
        self.dq_results: dict[str, tuple[int, int]] = {}  # result id -> (rows failed, rows processed)
        # run id -> the Data Quality results that run published
        self.run_dq: dict[str, tuple[DataQualityOutcome, ...]] = {}
        self.calls: list[str] = []
        self.trace = trace if trace is not None else []
        self.next_run_state = "RUNNING"
        self._ids = itertools.count(1)
        self._crash: dict[str, str] = {}

    # -- set-up ------------------------------------------------------------------------------------
    def add_job(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        default_arguments: Mapping[str, str] | None = None,
    ) -> JobInfo:
        job = JobInfo(name=name, tags=dict(tags or {}), default_arguments=dict(default_arguments or {}))
        self.jobs[name] = job
        self.runs.setdefault(name, [])
        return job

    def add_run(
        self,
        job_name: str,
        run_id: str | None = None,
        state: str = "FAILED",
        arguments: Mapping[str, str] | None = None,
        error_message: str | None = None,
        started_on: datetime | None = None,
        completed_on: datetime | None = None,
    ) -> str:
        run_id = run_id or f"jr_seed{next(self._ids)}"
        run = JobRun(
            job_name=job_name,
            run_id=run_id,
            state=state,
            arguments=dict(arguments or {}),
            error_message=error_message,
            started_on=started_on,
            completed_on=completed_on,
        )
        self.runs.setdefault(job_name, []).append(run)
        return run_id

    def set_run(self, job_name: str, run_id: str, **changes: Any) -> None:
        runs = self.runs[job_name]
        index = next(i for i, r in enumerate(runs) if r.run_id == run_id)
        runs[index] = replace(runs[index], **changes)

    def add_table_version(
        self,
        database: str,
        table: str,
        columns: Sequence[tuple[str, str]],
        partition_keys: Sequence[tuple[str, str]] = (),
        updated_at: datetime | None = None,
    ) -> str:
        versions = self.tables.setdefault((database, table), [])
        version = TableVersion(
            version_id=str(len(versions) + 1),
            columns=tuple(Column(n, t) for n, t in columns),
            partition_keys=tuple(Column(n, t) for n, t in partition_keys),
            updated_at=updated_at,
        )
        versions.append(version)
        return version.version_id

    def crash(self, method: str, when: str = "before") -> None:
        """The next call of ``method`` raises ``SimulatedCrash``, before or after doing its work."""
        self._crash[method] = when

    def _maybe_crash(self, method: str, when: str) -> None:
        if self._crash.get(method) == when:
            del self._crash[method]
            raise SimulatedCrash(f"crashed {when} {method}")

    # -- GlueCatalog -------------------------------------------------------------------------------
    def get_job(self, job_name: str) -> JobInfo:
        self.calls.append("get_job")
        if job_name not in self.jobs:
            raise ReadError(f"get job {job_name}: EntityNotFoundException: Job {job_name} not found.")
        return self.jobs[job_name]

    def get_job_run(self, job_name: str, run_id: str) -> JobRun:
        self.calls.append("get_job_run")
        self._maybe_crash("get_job_run", "before")
        for run in self.runs.get(job_name, []):
            if run.run_id == run_id:
                return run
        raise ReadError(f"get run {run_id} of {job_name}: EntityNotFoundException")

    def recent_runs(self, job_name: str, limit: int = 50) -> list[JobRun]:
        self.calls.append("recent_runs")
        if job_name not in self.runs:
            raise ReadError(f"list runs of {job_name}: EntityNotFoundException")
        return list(reversed(self.runs[job_name]))[:limit]

    def table_versions(self, database: str, table: str) -> list[TableVersion]:
        self.calls.append("table_versions")
        if (database, table) not in self.tables:
            raise ReadError(f"table versions of {database}.{table}: EntityNotFoundException")
        return list(self.tables[(database, table)])

    def data_quality_rows(self, result_id: str) -> tuple[int, int] | None:
        self.calls.append("data_quality_rows")
        return self.dq_results.get(result_id)

    def run_data_quality(self, job_name: str, run_id: str) -> tuple[DataQualityOutcome, ...]:
        self.calls.append("run_data_quality")
        return self.run_dq.get(run_id, ())

    # -- GlueActions -------------------------------------------------------------------------------
    def start_job_run(
        self, job_name: str, arguments: Mapping[str, str], run_settings: Mapping[str, Any] | None = None
    ) -> str:
        self.calls.append("start_job_run")
        self.started_settings.append(dict(run_settings or {}))
        self._maybe_crash("start_job_run", "before")
        if job_name not in self.jobs:
            raise RemediationError(f"start {job_name}: EntityNotFoundException")
        run_id = f"jr_new{next(self._ids)}"
        self.started.append((job_name, dict(arguments)))
        self.trace.append("glue.start_job_run")
        self.runs[job_name].append(
            JobRun(job_name, run_id, self.next_run_state, dict(arguments), started_on=T0 + timedelta(hours=1))
        )
        self._maybe_crash("start_job_run", "after")
        return run_id

    def restore_table_version(self, database: str, table: str, version_id: str) -> None:
        self.calls.append("restore_table_version")
        versions = self.tables.get((database, table))
        old = next((v for v in versions or () if v.version_id == version_id), None)
        if old is None:
            raise RemediationError(f"{database}.{table} has no version {version_id}")
        self.restores.append((database, table, version_id))
        self.trace.append("glue.restore_table_version")
        assert versions is not None
        versions.append(replace(old, version_id=str(len(versions) + 1), updated_at=None))

    def __contains__(self, job_name: object) -> bool:
        return job_name in self.jobs

    def __len__(self) -> int:
        return len(self.jobs)


# -- logs, notifications, settings -------------------------------------------------------------------
class FakeLogReader:
    def __init__(self, logs: Mapping[str, str] | None = None) -> None:
        self.logs: dict[str, str] = dict(logs or {})
        self.reads: list[str] = []
        # run id -> the "group:stream" sources its log came from (default: the run's error stream)
        self.sources: dict[str, tuple[str, ...]] = {}

    def read_run_logs(
        self, job_run_id: str, log_group_prefix: str | None = None, continuous_log_group: str | None = None
    ) -> LogRead:
        self.reads.append(job_run_id)
        if job_run_id not in self.logs:
            return LogRead("", (), (f"no CloudWatch log found for run {job_run_id}",))
        sources = self.sources.get(job_run_id, (f"/aws-glue/jobs/error:{job_run_id}",))
        return LogRead(self.logs[job_run_id], sources)

    def __contains__(self, job_run_id: object) -> bool:
        return job_run_id in self.logs

    def __len__(self) -> int:
        return len(self.logs)


class RecordingNotifier:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        self.messages.append((subject, dict(message)))
        return f"msg-{len(self.messages)}"

    def __len__(self) -> int:
        return len(self.messages)


class StaticSettings:
    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values = dict(values or {})
        self.loads = 0

    def load(self) -> Mapping[str, Any]:
        self.loads += 1
        return dict(self.values)


# -- wiring -----------------------------------------------------------------------------------------
TEST_ENV: dict[str, str] = {
    "STORE_BACKEND": "sqlite",
    "SQLITE_PATH": ":memory:",
    "QUARANTINE_URI": "s3://quarantine-bucket/selfheal",
    "BACKOFF_SECONDS": "60",
    "POLL_SECONDS": "30",
    "MAX_POLLS": "5",
    "AWS_REGION": "us-east-1",
}


def make_config(**env: str) -> Config:
    return Config.from_env({**TEST_ENV, **env})


def make_deps(env: Mapping[str, str] | None = None, **overrides: Any) -> Dependencies:
    """A ``Dependencies`` of fresh fakes sharing one ``trace``; any field can be overridden by name."""
    trace: list[str] = []
    fields: dict[str, Any] = {
        "config": Config.from_env({**TEST_ENV, **(env or {})}),
        "store": InMemoryEventStore(trace),
        "qtable": InMemoryQTableStore(),
        "glue": FakeGlue(trace),
        "logs": FakeLogReader(),
        "notifier": RecordingNotifier(),
        "settings": StaticSettings(),
    }
    fields.update(overrides)
    return Dependencies(**fields)
