"""A failure storm replayed through the local engine (``selfheal storm``): N failure events across J
jobs within one simulated minute, shared sources down until given simulated times, every incident on the
real state machine and handlers, all executions at once (one thread each), on one simulated clock.

Every figure is counted from what happened, not from the design: Glue runs from moto's ``StartJobRun``
(through the engine's run hook), notifications from the SNS ``Publish`` calls, Q-updates from the update
records in the local Q-table against the updates each incident's final log implies, throttled calls from
the emulated per-second quotas.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selfheal.errors import UsageError

START = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
# Per-second request quotas of the APIs the incident path calls most, as documented by AWS (defaults per
# account and region): SSM GetParameter (standard throughput), CloudWatch Logs DescribeLogStreams and
# GetLogEvents. A call over its second's quota is answered ThrottlingException, as the service would.
QUOTAS: dict[str, int] = {
    "ssm:GetParameter": 40,
    "logs:DescribeLogStreams": 25,
    "logs:GetLogEvents": 25,
}
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "Throttled", "TooManyRequestsException"})


@dataclass(frozen=True)
class Source:
    """A shared source: the error its readers fail with, and until when (simulated minutes) it is down."""

    name: str
    message: str
    down_minutes: float


@dataclass(frozen=True)
class StormScenario:
    incidents: int = 500
    jobs: int = 100
    # Job i reads sources[i % len(sources)].
    sources: tuple[Source, ...] = (
        Source(
            "s3://shared-lake/orders",
            "AnalysisException: Path does not exist: s3://shared-lake/orders/dt=2026-11-26",
            30.0,
        ),
    )
    spread_seconds: float = 60.0  # the failure events arrive within this much simulated time
    storm_settings: Mapping[str, Any] = field(default_factory=dict)  # the settings parameter's "storm"
    storm_control: bool = True
    quotas: bool = True
    timeout_seconds: float = 3600.0  # wall time allowed for the whole storm

    def __post_init__(self) -> None:
        if self.incidents < 1 or self.jobs < 1:
            raise UsageError("a storm needs at least one incident and one job")
        if not self.sources:
            raise UsageError("a storm needs at least one source")


@dataclass
class _Run:
    at: float  # simulated seconds
    job: str
    marker: str
    succeeded: bool


class _Quotas:
    """Emulated per-second quotas on the simulated clock (botocore before-call hook)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.counts: Counter[tuple[str, int]] = Counter()
        self.throttled = 0
        self.enabled = False
        self._lock = threading.Lock()

    def before_call(self, model: Any, **_: Any) -> Any:
        if not self.enabled:
            return None
        key = f"{model.service_model.service_name}:{model.name}"
        quota = QUOTAS.get(key)
        if quota is None:
            return None
        second = int(self.clock.seconds)
        with self._lock:
            self.counts[(key, second)] += 1
            if self.counts[(key, second)] <= quota:
                return None
            self.throttled += 1
        from selfheal.local.faults import _Http

        return _Http(400), {
            "Error": {"Code": "ThrottlingException", "Message": f"Rate exceeded (emulated quota {quota}/s)"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "emulated-quota"},
        }


def failure_event(job: str, run_id: str, message: str, sequence: int) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"selfheal-storm-{sequence:06d}",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": START.isoformat().replace("+00:00", "Z"),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "jobName": job,
            "severity": "ERROR",
            "state": "FAILED",
            "jobRunId": run_id,
            "message": message,
        },
    }


def run_storm(scenario: StormScenario, home: Path | None = None) -> dict[str, Any]:
    """Replay the storm; returns the figures of ``selfheal storm --json``."""
    from botocore.handlers import BUILTIN_HANDLERS
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from selfheal.local import virtual_time
    from selfheal.local.engine import ACCOUNT, REGION, EngineOptions, LocalEngine
    from selfheal.local.faults import controller
    from selfheal.local.world import World

    own_home = home is None
    home = Path(tempfile.mkdtemp(prefix="selfheal-storm-")) if home is None else home
    clock = virtual_time.VirtualClock(START)
    quotas = _Quotas(clock)
    if ("before-call", quotas.before_call) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(("before-call", quotas.before_call))
    jobs = [f"storm-job-{n:03d}" for n in range(scenario.jobs)]
    source_of = {job: scenario.sources[n % len(scenario.sources)] for n, job in enumerate(jobs)}
    runs: list[_Run] = []
    runs_lock = threading.Lock()

    def decide(job: str, arguments: Mapping[str, str]) -> bool:
        source = source_of.get(job)
        now = clock.seconds
        succeeded = source is None or now >= source.down_minutes * 60.0
        with runs_lock:
            runs.append(_Run(now, job, str(arguments.get("--selfheal-attempt", "")), succeeded))
        return succeeded

    environment = {
        "AWAIT_HUMAN": "false",  # a storm's human answers once per group, outside this benchmark
        "STORM_TABLE": "storm" if scenario.storm_control else "",
    }
    options = EngineOptions(
        home=home,
        policy="rules",
        learning=True,
        world=World(jobs={}, run_logs={}),
        decider=decide,
        environment=environment,
        clock=clock.now,
    )
    wall = time.monotonic()
    engine = LocalEngine(options)
    engine.__enter__()
    virtual_time.install()
    try:
        settings = {"mode": "auto", "kill_switch": False, "storm": dict(scenario.storm_settings)}
        with controller.suspended():
            engine.client("ssm").put_parameter(
                Name=engine.settings_parameter, Type="String", Value=json.dumps(settings), Overwrite=True
            )
        events = []
        for n in range(scenario.incidents):
            job = jobs[n % len(jobs)]
            event = failure_event(job, f"jr_storm_{n:06d}", source_of[job].message, n)
            engine.seed_failed_run(job, f"jr_storm_{n:06d}", "FAILED", source_of[job].message)
            events.append((scenario.spread_seconds * n / scenario.incidents, event))
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        sfn = engine.client("stepfunctions")
        arns: list[str] = []
        virtual_time.activate(clock)
        controller.arm([])
        quotas.enabled = scenario.quotas
        with clock.joined(expected=False):
            for at, event in events:
                clock.sleep_until(at)
                clock.expect()
                with controller.suspended():
                    arn = sfn.start_execution(
                        stateMachineArn=engine.state_machine_arn,
                        name=str(uuid.uuid4()),
                        input=json.dumps(event),
                    )["executionArn"]
                arns.append(str(arn))
        deadline = time.monotonic() + scenario.timeout_seconds
        statuses = _wait_all(backend, arns, deadline)
        quotas.enabled = False
        calls = controller.disarm()
        virtual_time.activate(None)
        figures, details = _figures(scenario, home, events, runs, calls, statuses, quotas.throttled)
        details["simulated_minutes"] = round(clock.seconds / 60.0, 1)
        return {**figures, "wall_seconds": round(time.monotonic() - wall, 1), "details": details}
    finally:
        quotas.enabled = False
        virtual_time.activate(None)
        engine.__exit__(None, None, None)
        if own_home:
            import shutil

            shutil.rmtree(home, ignore_errors=True)


def _wait_all(backend: Any, arns: Sequence[str], deadline: float) -> Counter[str]:
    while True:
        statuses: Counter[str] = Counter()
        for arn in arns:
            status = backend.describe_execution(arn).status
            statuses[str(getattr(status, "value", status))] += 1
        if statuses["RUNNING"] == 0:
            return statuses
        if time.monotonic() > deadline:
            raise UsageError(f"the storm did not finish in time: {dict(statuses)}")
        time.sleep(0.2)


def _figures(
    scenario: StormScenario,
    home: Path,
    events: Sequence[tuple[float, Mapping[str, Any]]],
    runs: Sequence[_Run],
    calls: Any,
    statuses: Counter[str],
    throttled: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
    from selfheal_core.domain.decisions import LearningTerms, transitions
    from selfheal_core.domain.events import Correlated
    from selfheal_core.domain.incident import Outcome, fold, incident_id_for
    from selfheal_core.domain.qlearning import job_state_key, state_key
    from selfheal_core.domain.safety import SafetyGate, SafetySettings

    store = SqliteEventStore(home / "selfheal.sqlite3")
    qtable = SqliteQTableStore(home / "selfheal.sqlite3")
    try:
        expected: set[str] = set()
        groups: set[str] = set()
        outcomes: Counter[str] = Counter()
        gate = SafetyGate(SafetySettings())
        for _, event in events:
            detail = event["detail"]
            incident_id = incident_id_for(detail["jobName"], detail["jobRunId"])
            records = store.load(incident_id)
            if not records:
                outcomes["no_log"] += 1
                continue
            state = fold(records)
            outcomes[state.outcome.value if state.learned else f"{state.outcome.value}_unlearned"] += 1
            groups.update(r.event.group_id for r in records if isinstance(r.event, Correlated))
            if state.outcome is Outcome.OPEN and not state.learned:
                continue
            for index, step in enumerate(transitions(state, gate, LearningTerms())):
                for key in (state_key(step.state), job_state_key(step.state)):
                    expected.add(f"{incident_id}#{index}#{key}")
        applied = {str(r["update_id"]) for r in qtable.update_records()}
    finally:
        store.close()
        qtable.close()
    markers = Counter(run.marker for run in runs)
    recovery = min(s.down_minutes for s in scenario.sources) * 60.0
    figures = {
        "incidents": scenario.incidents,
        "groups": len(groups),
        "notifications": len(calls.published),
        "glue_runs_started": len(runs),
        "wasted_runs": sum(1 for run in runs if not run.succeeded),
        "duplicate_remediations": sum(count - 1 for count in markers.values() if count > 1),
        "lost_q_updates": len(expected - applied),
        "throttled_calls": throttled,
    }
    details = {
        "glue_runs_before_recovery": sum(1 for run in runs if run.at < recovery),
        "start_job_run_calls": int(calls.calls.get("glue:StartJobRun", 0)),
        "expected_q_updates": len(expected),
        "outcomes": dict(sorted(outcomes.items())),
        "executions": dict(sorted(statuses.items())),
    }
    return figures, details
