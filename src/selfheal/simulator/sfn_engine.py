"""The Step Functions engine: each incident runs through the project's real state machine
(``statemachine/incident.asl.json``) and real handlers (``functions/*/app.py``) on the local engine
(moto's Step Functions interpreter, ``selfheal.local.engine``).

The state machine decides WHAT is done: the policy behind the gate, the attempt loop, the escalation. The
scenario decides HOW LONG it takes and whether each run succeeds, with the same common random numbers as
the in-process engine: the runs Execute starts are decided by ``Incident.run_succeeds`` and the incident is
accounted for by the same ``IncidentTally`` the in-process engine uses, fed with the actions the deployed
handlers recorded in the incident's event log.

Only ``rules`` and ``learned`` are state-machine policies (what the deployed system can run). Every other
policy (``manual``, ``glue_retries``, ``backoff_retries``, ``oracle``...) runs on the in-process engine;
``ran_on`` records where each policy ran.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.drift import Column
from selfheal_core.domain.events import IncidentEvent
from selfheal_core.domain.incident import fold, incident_id_for
from selfheal_core.domain.learning import QRow
from selfheal_core.job_contract import ACTION_ARGUMENT, ATTEMPT_ARGUMENT, QUARANTINE_TAG, TABLES_ARGUMENT
from selfheal_core.vocabulary import Action

from selfheal.local.engine import ACCOUNT, REGION, EngineOptions, LocalEngine
from selfheal.local.replay import IncidentSummary, summarise
from selfheal.local.world import JobFixture, World
from selfheal.simulator.engine import (
    DeployedSettings,
    IncidentResult,
    IncidentTally,
    InProcessEngine,
    account,
    approval_answer,
    oncall_answer,
    run_id_for,
)
from selfheal.simulator.policies import Policy
from selfheal.simulator.scenario import Scenario
from selfheal.simulator.world import _BASE_COLUMNS as BASE_COLUMNS
from selfheal.simulator.world import Incident

STATE_MACHINE_POLICIES: tuple[str, ...] = ("rules", "learned")


def data_quality_result(job_name: str, run_id: str, fraction: float) -> dict[str, Any]:
    """The Glue Data Quality result a failed run with this bad-record fraction published (the trusted
    channel Diagnose reads the fraction from). Its row counts divide back to exactly ``fraction``: the
    decimal the scenario wrote is an exact ratio of integers, and integer division rounds correctly."""
    failed, processed = Decimal(repr(float(fraction))).as_integer_ratio()
    return {
        "ResultId": f"dqresult-{run_id}",
        "JobName": job_name,
        "JobRunId": run_id,
        "RuleResults": [{"Name": "row-level rules", "Result": "FAIL" if failed else "PASS"}],
        "AggregatedMetrics": {"TotalRowsProcessed": processed, "TotalRowsFailed": failed},
    }


def failure_event(job_name: str, run_id: str, message: str, sequence: int) -> dict[str, Any]:
    """The EventBridge ``Glue Job State Change`` event of the incident's failed run."""
    return {
        "version": "0",
        "id": f"selfheal-sim-{sequence:08d}",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": ACCOUNT,
        "time": "2026-11-26T02:14:07Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "jobName": job_name,
            "severity": "ERROR",
            "state": "FAILED",
            "jobRunId": run_id,
            "message": message,
        },
    }


def run_through(engine: LocalEngine, event: Mapping[str, Any], timeout: float = 120.0) -> IncidentSummary:
    return summarise(event, engine.wait(engine.start(event), timeout=timeout), engine.options.home)


@dataclass
class Anomaly:
    """The state machine did something the scenario's semantics do not account for."""

    policy: str
    index: int
    what: str


@dataclass
class _Session:
    """One local engine (one emulated account) for one state-machine policy, reused across incidents."""

    key: str
    engine: LocalEngine
    home: Path
    world: World
    run_logs: dict[str, str] = field(default_factory=dict)
    data_quality: list[Mapping[str, Any]] = field(default_factory=list)


class StepFunctionsEngine:
    """Implements the ``Engine`` protocol with the deployed state machine for ``rules`` and ``learned``.

    One ``LocalEngine`` is provisioned per state-machine policy (``rules``: the rulebook, no learning;
    ``learned``: the Q-learner with the Q-table in the engine's SQLite store, learning unless
    ``learning=False``) and kept for the whole evaluation; evaluation runs one policy's whole stream at a
    time, so at most one is open. Use it as a context manager, or call ``close()``.
    """

    name = "stepfunctions"

    def __init__(
        self,
        scenario: Scenario,
        home: str | Path | None = None,
        *,
        learning: bool = True,
        seed: int = 0,
        keep_events: bool = False,
    ) -> None:
        self.scenario = scenario
        self.learning = learning
        self.seed = seed
        self._own_home = home is None
        self.home = Path(tempfile.mkdtemp(prefix="selfheal-sfn-")) if home is None else Path(home)
        self.inprocess = InProcessEngine(scenario)
        self.ran_on: dict[str, str] = {}  # policy name -> "stepfunctions" | "inprocess"
        self.anomalies: list[Anomaly] = []
        self.executions = 0
        # (policy, incident index) -> the incident's event log, when ``keep_events`` (for tests and audits)
        self.events: dict[tuple[str, int], list[IncidentEvent]] | None = {} if keep_events else None
        self._session: _Session | None = None
        self._current: Incident | None = None
        self._harmed = False
        self._requests = 0  # approval requests of the current incident
        self._sequence = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> StepFunctionsEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._close_session()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def _close_session(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            session.engine.__exit__(None, None, None)

    def _session_for(self, key: str) -> _Session:
        if self._session is not None and self._session.key == key:
            return self._session
        self._close_session()
        home = self.home / key
        suffix = 1
        while home.exists():  # a second run of the same policy starts from a fresh store and Q-table
            suffix += 1
            home = self.home / f"{key}-{suffix}"
        home.mkdir(parents=True)
        run_logs: dict[str, str] = {}
        jobs = {
            job.name: JobFixture(
                name=job.name,
                tags={"criticality": job.criticality.value, QUARANTINE_TAG: "enabled"},
                default_arguments={TABLES_ARGUMENT: ",".join(job.tables)} if job.tables else {},
                runtime_minutes=job.runtime_minutes,
            )
            for job in self.scenario.jobs
        }
        data_quality: list[Mapping[str, Any]] = []
        world = World(jobs=jobs, run_logs=run_logs, data_quality=data_quality)
        options = EngineOptions(
            home=home,
            seed=self.seed,
            human="answer",
            policy=key,
            learning=self.learning if key == "learned" else False,
            max_attempts=self.scenario.max_attempts,
            world=world,
            decider=self._decide,
            answer=lambda: oncall_answer(self._harmed).to_json(),
            approval_answer=self._approval_answer,
            environment=self._environment(),
            # The events are read from the incident log; the execution's history is not needed once it ended.
            keep_executions=False,
            approvals=self.scenario.active_approvals is not None,
        )
        engine = LocalEngine(options)
        engine.__enter__()
        self._session = _Session(key, engine, home, world, run_logs, data_quality)
        return self._session

    def _environment(self) -> dict[str, str]:
        """The deployed functions configured as the in-process engine runs the same steps."""
        scenario = self.scenario
        deployed = DeployedSettings.for_scenario(scenario)
        return {
            "BACKOFF_SECONDS": repr(deployed.backoff_seconds),
            "HUMAN_HOURS": repr(scenario.human.mean_hours),
            "DECISION_SECONDS": repr(float(scenario.decision_seconds)),
            # Held actions are sent for approval only when the scenario models approvals (as in-process).
            "APPROVALS": "true" if scenario.active_approvals is not None else "false",
        }

    @property
    def local_engine(self) -> LocalEngine | None:
        """The open session's local engine (its function invocations, the last execution's AWS calls),
        for benchmarks; None before the first incident of a state-machine policy."""
        return None if self._session is None else self._session.engine

    def q_rows(self, key: str) -> dict[str, QRow]:
        """The Q-table the deployed Learn wrote for the policy ``key`` (the open session's store)."""
        if self._session is None or self._session.key != key:
            raise ValueError(f"no open session for {key!r}")
        store = SqliteQTableStore(self._session.home / "selfheal.sqlite3")
        try:
            return store.all_rows()
        finally:
            store.close()

    # -- the Engine protocol -------------------------------------------------------------------------
    def run_incident(self, incident: Incident, policy: Policy) -> IncidentResult:
        key = policy.name if policy.name in STATE_MACHINE_POLICIES else None
        if key is None:
            self.ran_on[policy.name] = InProcessEngine.name
            return self.inprocess.run_incident(incident, policy)
        self.ran_on[policy.name] = self.name
        session = self._session_for(key)
        events = self._execute(session, incident)
        if self.events is not None:
            self.events[(key, incident.index)] = events
        if not events:
            self.anomalies.append(Anomaly(key, incident.index, "the execution left no event log"))
            events = self._empty_log(incident)
        return account(
            self.scenario,
            incident,
            policy,
            fold(events),
            lambda what: self.anomalies.append(Anomaly(key, incident.index, what)),
        )

    # -- one incident through the state machine ------------------------------------------------------
    def _execute(self, session: _Session, incident: Incident) -> list[IncidentEvent]:
        self._sequence += 1
        job = incident.job
        run_id = run_id_for(incident)
        session.run_logs[run_id] = incident.message
        session.data_quality.clear()
        if incident.mode.bad_record_fraction is not None:
            session.data_quality.append(
                data_quality_result(job.name, run_id, incident.mode.bad_record_fraction)
            )
        # The catalog as the simulator generated it for THIS incident (job names repeat across incidents).
        session.engine.reset_tables(job.name, incident_tables(incident))
        self._current, self._harmed, self._requests = incident, False, 0
        try:
            run_through(session.engine, failure_event(job.name, run_id, incident.message, self._sequence))
        finally:
            self._current = None
            session.run_logs.pop(run_id, None)
            session.data_quality.clear()
        self.executions += 1
        store = SqliteEventStore(session.home / "selfheal.sqlite3")
        try:
            return store.load(incident_id_for(job.name, run_id))
        finally:
            store.close()

    def _decide(self, job_name: str, arguments: Mapping[str, str]) -> bool:
        """The outcome of a run Execute started: the simulator's own draw for this incident and attempt."""
        incident = self._current
        if incident is None or job_name != incident.job.name:
            return False
        marker = str(arguments.get(ATTEMPT_ARGUMENT, ""))
        try:
            attempt = int(marker.rpartition("#")[2])
            action = Action(arguments.get(ACTION_ARGUMENT, "retry"))
        except ValueError:
            return False
        self._harmed = self._harmed or action in incident.mode.harm
        return IncidentTally(self.scenario, incident).run_succeeds(attempt, action)

    def _approval_answer(self) -> Mapping[str, Any]:
        """The on-call's answer to the incident's approval request: the world's draw for it, the one
        the in-process engine and ``account`` read (an incident that is not running is rejected)."""
        incident, approvals = self._current, self.scenario.active_approvals
        if incident is None or approvals is None:
            return approval_answer(False, self._harmed)
        self._requests += 1
        _, approved = incident.approval(approvals, self._requests)
        return approval_answer(approved, self._harmed)

    def _empty_log(self, incident: Incident) -> list[IncidentEvent]:
        from selfheal_core.domain.events import Opened

        run_id = run_id_for(incident)
        opened = Opened(incident.job.name, run_id)
        return [IncidentEvent(incident_id_for(incident.job.name, run_id), 0, "", opened)]


def incident_tables(incident: Incident) -> dict[str, list[list[dict[str, str]]]]:
    """The catalog versions the simulator generated for the incident (column lists, oldest first).

    The simulator keeps only what its diagnosis made of them: per table, the drift report between the
    baseline (its fixed base schema) and the current version. Applying that report to the base schema
    gives back exactly the current version (one column removed, renamed in place or retyped in place).
    """
    baseline = list(BASE_COLUMNS)
    out: dict[str, list[list[dict[str, str]]]] = {}
    for report in incident.diagnosis.drift:
        current = list(baseline)
        renamed = dict(report.renamed)
        retyped = {name: after for name, _, after in report.type_changed}
        current = [
            Column(renamed.get(c.name, c.name), retyped.get(c.name, c.type))
            for c in current
            if c.name not in report.removed
        ]
        out[report.table] = [columns_of(baseline), columns_of(current)]
    return out


def columns_of(columns: list[Column]) -> list[dict[str, str]]:
    return [{"Name": c.name, "Type": c.type} for c in columns]
