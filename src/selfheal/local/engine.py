"""Run the project's state machine and handlers locally, on moto's Step Functions interpreter.

One ``LocalEngine`` is one emulated AWS account: the seven functions (dispatched in-process to
``functions/<name>/app.py``), the SNS topic with a local on-call responder, the settings parameter, the
Glue jobs, catalog tables and logs of the simulated world, and the state machine from
``statemachine/incident.asl.json`` with its substitutions applied. Incident logs and Q-values persist in
SQLite under ``SELFHEAL_HOME``, exactly as the deployed functions persist them in DynamoDB.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import moto  # noqa: F401  (imported before any boto3 client is made, so every client is mocked)
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.job_contract import ATTEMPT_ARGUMENT

from selfheal import _bundled
from selfheal.errors import UsageError
from selfheal.local import patches
from selfheal.local.faults import CallLog, Fault, controller
from selfheal.local.world import RunOutcomeDecider, World

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "selfheal-local"
ASL_PATH = _bundled.STATE_MACHINE
FUNCTIONS: dict[str, str] = {
    "Diagnose": "diagnose",
    "Propose": "propose",
    "SafetyGate": "safety_gate",
    "Execute": "execute",
    "Validate": "validate",
    "Escalate": "escalate",
    "Learn": "learn",
    "RunFinished": "run_finished",
}
# RunFinished takes its three adapters, not the shared Dependencies, and reads no clock: a simulated clock is
# handed to every other function only.
UNCLOCKED = frozenset({"RunFinished"})
RUN_EVENT_DELIVERY = ("deliver", "lose", "duplicate")
ASYNC_ATTEMPTS = 3  # an asynchronous Lambda invocation: the first try and two retries
_import_lock = threading.RLock()
_modules: dict[str, ModuleType] = {}


def function_name(logical: str) -> str:
    return f"{STACK}-{logical}"


def load_handler(directory: str) -> Callable[..., Any]:
    """Import ``functions/<directory>/app.py`` once, under a unique module name."""
    if directory not in _modules:
        path = _bundled.handler_file(directory)
        spec = importlib.util.spec_from_file_location(f"selfheal_functions.{directory}.app", path)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot load handler {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[directory] = module
    handler: Callable[..., Any] = _modules[directory].lambda_handler
    return handler


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


@dataclass(frozen=True)
class EngineOptions:
    home: Path
    seed: int = 0
    outcome: str | None = None  # "success" | "failure" forces every run Execute starts
    mode: str = "auto"
    kill_switch: bool = False
    # The local on-call's answer to any wait: "answer" approves a held proposal and fixes the rest by
    # hand; "approve", "reject" or "resolve" give that answer to every wait; "timeout": nobody answers.
    # "wait": a human answers with ``selfheal incidents approve|reject|resolve`` from another terminal.
    human: str = "answer"
    learning: bool = True
    policy: str = "learned"  # "learned" | "rules"
    max_attempts: int = 3
    world: World = field(default_factory=lambda: World(jobs={}, run_logs={}))
    # Decides whether each run Execute starts succeeds, from (job name, run arguments); when given, it
    # replaces the world's seeded dice (``RunOutcomeDecider``), e.g. with a simulator's common random numbers.
    decider: Callable[[str, Mapping[str, str]], bool] | None = None
    # The local on-call's answer to a decision request (default: they fixed it by hand).
    answer: Callable[[], Mapping[str, Any]] | None = None
    # The local on-call's answer to an approval request (default: with ``human="answer"``, approve).
    approval_answer: Callable[[], Mapping[str, Any]] | None = None
    # Extra environment for the functions (a simulator sets the scenario's timings and human cost).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Faults injected into each execution (``selfheal replay --inject``, the fault tests).
    faults: tuple[Fault, ...] = ()
    # Soft rules and autonomy level "approve" hold an action for the on-call's approval (as deployed).
    approvals: bool = True
    # What happens to the Glue Job State Change event that ends a run Execute started: delivered to
    # RunFinished once (as EventBridge does), lost, or delivered twice.
    run_events: str = "deliver"
    # Another state machine definition (``selfheal cost`` runs the recorded polling baseline with it).
    asl_path: Path | None = None
    # Keep finished executions in the emulated Step Functions (False for long streams: the result already
    # holds the history).
    keep_executions: bool = True

    # The functions' clock (storm control's windows and holds); None: the real one. ``selfheal storm``
    # gives its simulated clock.
    clock: Callable[[], datetime] | None = None


@dataclass
class SimulatedRun:
    """A run Execute started, held RUNNING until the simulated clock reaches its end."""

    job_name: str
    run: Any  # moto's FakeJobRun
    succeeds: bool
    ends_at: float  # simulated seconds
    runtime: timedelta


@dataclass(frozen=True)
class Invocation:
    function: str  # logical name, e.g. "Validate"
    seconds: float  # wall time of the handler in this process


@dataclass
class ExecutionResult:
    execution_arn: str
    status: str
    output: Mapping[str, Any] | None
    path: list[str]
    waits: list[tuple[str, float]]
    error: str | None = None
    # The AWS calls that succeeded during the execution and the faults that fired.
    calls: CallLog = field(default_factory=CallLog)
    # The execution's history events (as GetExecutionHistory returns them).
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def transitions(self) -> int:
        """State transitions, as Step Functions bills them: one per state entered."""
        return sum(1 for e in self.history if _kind(e).endswith("StateEntered"))


class LocalEngine:
    def __init__(self, options: EngineOptions) -> None:
        if options.run_events not in RUN_EVENT_DELIVERY:
            raise UsageError(
                f"run_events must be one of {', '.join(RUN_EVENT_DELIVERY)}, got {options.run_events!r}"
            )
        self.options = options
        self.decider = RunOutcomeDecider(options.world, options.seed, options.outcome)
        self._mock: Any = None
        self._seeded_jobs: set[str] = set()
        self._failed_logs: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._inputs: dict[str, Mapping[str, Any]] = {}
        self._runs_lock = threading.RLock()
        self._running: dict[str, SimulatedRun] = {}
        self.simulated_seconds = 0.0  # the skipped waits so far: the simulated Glue runs' clock
        self.invocations: list[Invocation] = []  # every function call, in order (``selfheal cost``)
        self.last_calls = CallLog()  # what the last execution's AWS calls did (and the faults that fired)
        self._answered: set[str] = set()  # task tokens the local on-call has answered
        self._oncall_store: Any = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalEngine:
        from moto import mock_aws

        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "local")
        patches.apply()
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        patches.state["dispatch"] = self._dispatch
        patches.state["on_job_run"] = self._on_job_run
        patches.state["data_quality"] = self.options.world.data_quality
        patches.state["on_wait"] = self._advance
        with controller.suspended():
            self._provision()
        self._saved_environ = {k: os.environ.get(k) for k in self.function_environment()}
        os.environ.update(self.function_environment())
        return self

    def __exit__(self, *exc: object) -> None:
        for key, value in getattr(self, "_saved_environ", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        patches.state["dispatch"] = None
        patches.state["on_job_run"] = None
        if self._oncall_store is not None:
            self._oncall_store.close()
            self._oncall_store = None
        patches.state["data_quality"] = []
        patches.state["on_wait"] = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # boto3-stubs types a client by its literal service name; this cache takes any name.
            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    # -- provisioning ----------------------------------------------------------------------------
    def function_environment(self) -> dict[str, str]:
        home = self.options.home
        return {
            "STORE_BACKEND": "sqlite",
            "SQLITE_PATH": str(home / "selfheal.sqlite3"),
            # No AUDIT_DIR: the audit trail is written from the log after each execution
            # (``write_audit``), as the AuditWriter function writes it from the table's stream in AWS,
            # so a failing audit write never blocks a remediation.
            "TOPIC_ARN": self.topic_arn,
            "SETTINGS_PARAMETER": self.settings_parameter,
            "QUARANTINE_URI": "s3://selfheal-local-quarantine",
            "BACKOFF_SECONDS": "600",
            "POLL_SECONDS": "60",
            "MAX_POLLS": "30",
            "RUN_WAIT_SECONDS": "3000",
            "MAX_ATTEMPTS": str(self.options.max_attempts),
            "AWAIT_HUMAN": "true",
            "HUMAN_TIMEOUT_SECONDS": "1" if self.options.human == "timeout" else "3600",
            "APPROVAL_TIMEOUT_SECONDS": "1" if self.options.human == "timeout" else "3600",
            "APPROVALS": "true" if self.options.approvals else "false",
            "ANSWERS_FILE": str(home / ANSWERS_FILE),
            "LEARNING_ENABLED": "true" if self.options.learning else "false",
            "EXPLORATION_SEED": str(self.options.seed),
            "POLICY": self.options.policy,
            "AWS_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "selfheal",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("SELFHEAL_LOG_LEVEL", "CRITICAL"),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "SETTINGS_MAX_AGE_SECONDS": "0",
            **self.options.environment,
        }

    def _provision(self) -> None:
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=f"{STACK}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        sns = self.client("sns")
        self.topic_arn = sns.create_topic(Name=f"{STACK}-escalations")["TopicArn"]
        sqs = self.client("sqs")
        self.oncall_queue = sqs.create_queue(QueueName=f"{STACK}-oncall")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.oncall_queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.settings_parameter = f"/{STACK}/settings"
        self.client("ssm").put_parameter(
            Name=self.settings_parameter,
            Type="String",
            Value=json.dumps(
                {
                    **local_settings(self.options.home),
                    "mode": self.options.mode,
                    "kill_switch": self.options.kill_switch,
                }
            ),
        )
        for group in ("/aws-glue/jobs/error", "/aws-glue/jobs/output"):
            self.client("logs").create_log_group(logGroupName=group)

        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "# dispatched in-process by the local engine\n")
        lam = self.client("lambda")
        env = self.function_environment()
        substitutions = {"EscalationTopicArn": self.topic_arn}
        for logical in FUNCTIONS:
            arn = lam.create_function(
                FunctionName=function_name(logical),
                Runtime="python3.11",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": code.getvalue()},
                Environment={"Variables": env},
            )["FunctionArn"]
            substitutions[f"{logical}FunctionArn"] = arn

        definition = (self.options.asl_path or ASL_PATH).read_text()
        self.emits_run_events = "${RunFinishedFunctionArn}" in definition
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", value)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=f"{STACK}-incident", definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]

    # -- the simulated Glue world ----------------------------------------------------------------
    def seed_failed_run(self, job_name: str, run_id: str, state: str, message: str) -> None:
        """Make the world match the event: the job, its tables' history, a past success, the failed run."""
        with controller.suspended():
            self._seed_failed_run(job_name, run_id, state, message)

    def _seed_failed_run(self, job_name: str, run_id: str, state: str, message: str) -> None:
        from moto.glue.models import FakeJobRun, glue_backends

        backend = glue_backends[ACCOUNT][REGION]
        self._seed_job(job_name)
        job = backend.get_job(job_name)
        if not any(r.job_run_id == run_id for r in job.job_runs):
            failed = FakeJobRun(job_name, arguments={"--source_date": "2026-11-26"})
            failed.job_run_id = run_id
            failed.status = state
            failed.error_message = message  # type: ignore[attr-defined]
            job.job_runs.append(failed)
        log = self.options.world.run_logs.get(run_id) or message
        self._failed_logs[job_name] = log
        self._put_log("/aws-glue/jobs/error", run_id, log)

    def _seed_job(self, job_name: str) -> None:
        """Create the job once: its tables' history, then a past success, then the catalog change."""
        from moto.glue.models import FakeJobRun, glue_backends

        glue = self.client("glue")
        fixture = self.options.world.job(job_name)
        backend = glue_backends[ACCOUNT][REGION]
        if job_name not in self._seeded_jobs:
            glue.create_job(
                Name=job_name,
                Role=f"arn:aws:iam::{ACCOUNT}:role/glue-{job_name}",
                Command={"Name": "glueetl", "ScriptLocation": f"s3://scripts/{job_name}.py"},
                DefaultArguments=dict(fixture.default_arguments),
                Tags=dict(fixture.tags),
            )
            histories = {name: versions for name, versions in fixture.tables.items() if versions}
            for table, versions in histories.items():
                _create_table(backend, table, versions[0], replace=False)
            success = FakeJobRun(job_name, arguments={})
            success.status = "SUCCEEDED"
            backend.get_job(job_name).job_runs.append(success)
            time.sleep(0.002)  # the catalog change comes after the last success
            for table, versions in histories.items():
                _update_table(backend, table, versions[1:])
            self._seeded_jobs.add(job_name)

    def reset_tables(self, job_name: str, tables: Mapping[str, list[list[dict[str, str]]]]) -> None:
        """Replace the catalog history of ``tables`` ("db.table" -> column lists, oldest first), all newer
        than the job's last success: for a world whose catalog changes from one incident to the next."""
        with controller.suspended():
            self._reset_tables(job_name, tables)

    def _reset_tables(self, job_name: str, tables: Mapping[str, list[list[dict[str, str]]]]) -> None:
        from moto.glue.models import glue_backends

        catalog = glue_backends[ACCOUNT][REGION]
        self._seed_job(job_name)
        time.sleep(0.002)  # the new history comes after every run so far
        for table, versions in tables.items():
            if versions:
                _create_table(catalog, table, versions[0], replace=True)
                _update_table(catalog, table, versions[1:])

    def _put_log(self, group: str, stream: str, text: str) -> None:
        # Glue writes the run's log, not selfheal: set straight in moto's CloudWatch Logs (no API call,
        # so no fault applies to it).
        from moto.logs.models import logs_backends

        backend = logs_backends[ACCOUNT][REGION]
        if stream in backend.groups[group].streams:
            return
        backend.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line] or [
            {"timestamp": now, "message": text or "(empty)"}
        ]
        backend.put_log_events(group, stream, events)

    def _on_job_run(self, job_name: str, run: Any) -> None:
        """A run Execute started: decided now, held RUNNING until its runtime is over on the simulated
        clock (the polling path) or until selfheal waits for its end event (the event path)."""
        arguments = run.arguments or {}
        if ATTEMPT_ARGUMENT not in arguments:
            return
        decide = self.options.decider or self.decider.succeeds
        runtime = timedelta(minutes=self.options.world.job(job_name).runtime_minutes)
        succeeds = decide(job_name, arguments)
        run.held_state = "RUNNING"
        with self._runs_lock:
            ends_at = self.simulated_seconds + runtime.total_seconds()
            self._running[run.job_run_id] = SimulatedRun(job_name, run, succeeds, ends_at, runtime)

    def _advance(self, seconds: float) -> None:
        """A skipped wait: the simulated clock moves on and the runs whose runtime is over end."""
        with self._runs_lock:
            self.simulated_seconds += seconds
            due = [r for r in self._running.values() if r.ends_at <= self.simulated_seconds]
        for simulated in due:
            self._end_run(simulated.run.job_run_id)

    def _end_run(self, run_id: str, jump: bool = False) -> None:
        """The run ends (``jump``: the clock moves to its end, as while selfheal waits for the event),
        and Glue emits its Glue Job State Change event, which EventBridge delivers to RunFinished."""
        with self._runs_lock:
            simulated = self._running.pop(run_id, None)
            if simulated is None:
                return
            if jump:
                self.simulated_seconds = max(self.simulated_seconds, simulated.ends_at)
        run = simulated.run
        # The run "took" its runtime and ended now (a completion in the future would move the job's last
        # success past the catalog's newest version and hide drift from the next incident).
        run.completed_on = datetime.now(UTC).replace(tzinfo=None)
        run.started_on = run.completed_on - simulated.runtime
        state = "SUCCEEDED" if simulated.succeeds else "FAILED"
        if not simulated.succeeds:
            run.status = "FAILED"
            log = self._failed_logs.get(simulated.job_name, "the job failed again")
            run.error_message = log.splitlines()[0] if log else "the job failed again"
            self._put_log("/aws-glue/jobs/error", run_id, self._failed_logs.get(simulated.job_name, ""))
        run.held_state = state
        if not self.emits_run_events or self.options.run_events == "lose":
            return
        for _ in range(2 if self.options.run_events == "duplicate" else 1):
            self.emit_run_event(simulated.job_name, run_id, state)

    def emit_run_event(self, job_name: str, run_id: str, state: str) -> dict[str, Any]:
        """Deliver a Glue Job State Change event to RunFinished, as the EventBridge rule does."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Glue Job State Change",
            "source": "aws.glue",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [],
            "detail": {"jobName": job_name, "severity": "INFO", "state": state, "jobRunId": run_id},
        }
        # An asynchronous invocation: Lambda retries a function error twice; then the event is dropped (the
        # wait's timeout and Validate's own look cover it).
        for _ in range(ASYNC_ATTEMPTS):
            ok, result = self._dispatch(function_name("RunFinished"), event, from_task=False)
            if ok:
                break
        return result

    # -- Lambda dispatch -------------------------------------------------------------------------
    def _dispatch(
        self, name: str, payload: dict[str, Any], from_task: bool = True
    ) -> tuple[bool, dict[str, Any]]:
        logical = next((k for k in FUNCTIONS if function_name(k) == name), None)
        if logical is None:
            return False, {"errorType": "ResourceNotFoundException", "errorMessage": f"no function {name}"}
        # The functions' environment is set once for the engine's lifetime (all local functions share it):
        # changing os.environ per call would race with threads that read it, such as boto3's.
        began = time.perf_counter()
        try:
            with _import_lock:
                handler = load_handler(FUNCTIONS[logical])
            # Handlers write logs (and Powertools, past 100 values, a metrics blob even when disabled) to
            # stdout; locally stdout belongs to the CLI's output, such as one JSON object.
            context = LambdaContext(name)
            with contextlib.redirect_stdout(sys.stderr):
                if self.options.clock is None or logical in UNCLOCKED:
                    result = handler(payload, context)
                else:
                    result = handler(payload, context, deps=self._clocked_dependencies(context))
        except Exception as error:  # the Lambda runtime turns any exception into a function error
            return False, {"errorType": type(error).__name__, "errorMessage": str(error)}
        finally:
            self.invocations.append(Invocation(logical, time.perf_counter() - began))
        lost = controller.take_lost(logical) if from_task else None
        if lost is not None:
            # The function ran and its effects stand, but Step Functions never gets its response: the
            # Invoke call fails, which the patched interpreter reports as Lambda.ServiceException.
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("ServiceException", f"injected fault {lost.spec}: the response was lost")
        if logical == "RunFinished" and result.get("reason") == "still_running":
            # Selfheal now waits for this run's end: the simulated clock runs to it and Glue says so.
            self._end_run(str(result["run_id"]), jump=True)
        return True, result

    def _clocked_dependencies(self, context: LambdaContext) -> Any:
        from selfheal_core.runtime.wiring import default_dependencies

        assert self.options.clock is not None
        return dataclasses.replace(default_dependencies(context), clock=self.options.clock)

    # -- running ---------------------------------------------------------------------------------
    def start(self, event: Mapping[str, Any]) -> str:
        try:
            trigger = trigger_from_event(event)
        except (KeyError, TypeError, ValueError):
            trigger = None  # a malformed event still runs: Diagnose rejects it and Escalate records it
        if trigger is not None:
            self.seed_failed_run(trigger.job_name, trigger.job_run_id, "FAILED", trigger.message)
        with controller.suspended():
            sfn = self.client("stepfunctions")
        controller.arm(list(self.options.faults))
        with controller.suspended():
            arn = sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(event)
            )["executionArn"]
        self._inputs[str(arn)] = event
        return str(arn)

    def wait(self, execution_arn: str, timeout: float = 120.0) -> ExecutionResult:
        try:
            with controller.suspended():
                result = self._wait(execution_arn, timeout)
            # The audit trail is written after the execution, from the log (faults still apply to it).
            self.write_audit(self.incidents_of(execution_arn))
        finally:
            calls = self.last_calls = controller.disarm()
        result.calls = calls
        return result

    def incidents_of(self, execution_arn: str) -> list[str]:
        """The incident an execution worked on, from its input (the same rule as Diagnose and Escalate)."""
        event = self._inputs.pop(execution_arn, None)
        return [] if event is None else _incident_ids(event)

    def write_audit(self, incident_ids: list[str] | None = None) -> int:
        """Write the events of these incidents (all when None) missing from the audit directory; a failed
        write is left for the next pass. Returns the number of files written."""
        from selfheal_core.adapters.sqlite_store import SqliteEventStore

        from selfheal.local.audit import write_missing

        store = SqliteEventStore(self.options.home / "selfheal.sqlite3")
        try:
            with controller.suspended():
                ids = incident_ids if incident_ids is not None else store.incident_ids()
                logs = {incident_id: store.load(incident_id) for incident_id in ids}
        finally:
            store.close()
        return write_missing(self.options.home / "audit", logs)

    def _wait(self, execution_arn: str, timeout: float) -> ExecutionResult:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        sfn = self.client("stepfunctions")
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        deadline = time.monotonic() + timeout
        waits_before = len(patches.state["waits"])
        polls = 0
        # The status is read from moto's backend, not through boto3: polling the API every few ms takes
        # the interpreter thread's CPU (the GIL) and halves the speed of a stream of executions.
        while (
            getattr(status := backend.describe_execution(execution_arn).status, "value", status) == "RUNNING"
        ):
            polls += 1
            if polls % 10 == 0:
                self._answer_oncall(execution_arn)
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, error="LocalTimeout")
                raise UsageError(f"the local execution did not finish within {timeout:.0f} s")
            time.sleep(0.002)
        # Read from the backend too: through boto3, moto serialises the whole history (most of an incident's
        # wall time in a long stream).
        execution: Any = backend.describe_execution(execution_arn)
        described = execution.to_describe_output()
        history = list(execution.to_history_output()["events"])
        if not self.options.keep_executions:
            # History kept only as long as needed: moto scans every execution it holds on each task token
            # and each look-up, so a stream of thousands would slow down with each incident.
            with contextlib.suppress(ValueError):
                execution.state_machine.executions.remove(execution)
        path = [
            e["stateEnteredEventDetails"]["name"]
            for e in history
            if _kind(e).endswith("StateEntered") and "stateEnteredEventDetails" in e
        ]
        failure = next((e for e in history if _kind(e) == "ExecutionFailed"), None)
        error = None
        if failure is not None:
            details = failure.get("executionFailedEventDetails", {})
            error = f"{details.get('error', '')}: {details.get('cause', '')}"
        output = json.loads(described["output"]) if described.get("output") else None
        status = described["status"]
        return ExecutionResult(
            execution_arn=execution_arn,
            status=str(getattr(status, "value", status)),
            output=output,
            path=path,
            waits=list(patches.state["waits"][waits_before:]),
            error=error,
            history=history,
        )

    def run(self, event: Mapping[str, Any]) -> ExecutionResult:
        # A human answering from another terminal has as long as the wait lasts (an hour locally).
        timeout = WAIT_FOR_HUMAN_SECONDS if self.options.human == "wait" else 120.0
        return self.wait(self.start(event), timeout)

    def _answer_oncall(self, execution_arn: str) -> None:
        """The local on-call engineer: finds the waiting question in the incident's log (as
        ``selfheal incidents approve|reject|resolve`` does) and answers it, or lets it time out."""
        from selfheal_core.domain.answers import waiting_request

        if self.options.human == "timeout":
            return
        if self.options.human == "wait":  # a human answers from another terminal
            from selfheal.commands.answer import take_local_answers

            for answer in take_local_answers(self.options.home):
                with contextlib.suppress(Exception):  # a stale answer (its wait is over) is dropped
                    self.client("stepfunctions").send_task_success(
                        taskToken=answer["task_token"], output=answer["output"]
                    )
            return
        event = self._inputs.get(execution_arn)
        if event is None:
            return
        for incident_id in _incident_ids(event):
            waiting = waiting_request(self._store().load(incident_id))
            if waiting is None or waiting.task_token in self._answered:
                continue
            self._answered.add(waiting.task_token)
            self.client("stepfunctions").send_task_success(
                taskToken=waiting.task_token, output=json.dumps(self.oncall_answer(waiting.question))
            )

    def oncall_answer(self, question: str) -> Mapping[str, Any]:
        human = self.options.human
        if human == "answer":
            if question == "approval":
                return (
                    self.options.approval_answer()
                    if self.options.approval_answer
                    else ONCALL_ANSWERS["approve"]
                )
            return self.options.answer() if self.options.answer else DEFAULT_ANSWER
        return ONCALL_ANSWERS.get(human, ONCALL_ANSWERS["reject"])

    def _store(self) -> Any:
        if self._oncall_store is None:
            from selfheal_core.adapters.sqlite_store import SqliteEventStore

            self._oncall_store = SqliteEventStore(self.options.home / "selfheal.sqlite3")
        return self._oncall_store


def _incident_ids(event: Mapping[str, Any]) -> list[str]:
    from selfheal_core.domain.incident import incident_id_for
    from selfheal_core.steps.escalate import UNKNOWN_JOB

    try:
        trigger = trigger_from_event(event)
    except (KeyError, TypeError, ValueError):
        return [incident_id_for(UNKNOWN_JOB, str(event.get("id") or "unknown-event"))]
    return [incident_id_for(trigger.job_name, trigger.job_run_id)]


def local_settings(home: Path) -> dict[str, Any]:
    """``$SELFHEAL_HOME/settings.json``: the local mirror of the stack's settings parameter (autonomy
    levels; ``selfheal autonomy set`` writes it). Missing is empty; unreadable is a clear error."""
    path = home / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold one JSON object")
    return data


SETTINGS_FILE = "settings.json"
WAIT_FOR_HUMAN_SECONDS = 3700.0
ANSWERS_FILE = "answers.jsonl"
ONCALL_ANSWERS: dict[str, Mapping[str, Any]] = {
    "approve": {"decision": "approve", "answered_by": "local-oncall", "note": "approved"},
    "reject": {"decision": "reject", "answered_by": "local-oncall", "note": "rejected"},
    "resolve": {"decision": "resolved", "answered_by": "local-oncall", "note": "fixed by hand"},
}
DEFAULT_ANSWER = ONCALL_ANSWERS["resolve"]


def _kind(event: Mapping[str, Any]) -> str:
    """A history event's type as AWS spells it (moto's backend holds an enum)."""
    kind = event.get("type", "")
    return str(getattr(kind, "value", kind))


def _status(backend: Any, execution_arn: str) -> str:
    status = backend.describe_execution(execution_arn).status
    return str(getattr(status, "value", status))


# The simulated world's catalog is written straight into moto's backend, not through the Glue API: it is
# the world changing, not a call selfheal makes (through boto3 it was ~8% of an incident's wall time in a
# long stream of incidents).
def _create_table(catalog: Any, table: str, columns: list[dict[str, str]], *, replace: bool) -> None:
    """``table`` ("db.table") with ``columns`` as its first version; ``replace`` drops an existing one
    (else moto's TableAlreadyExistsException, as CreateTable answers)."""
    from moto.glue.exceptions import TableNotFoundException

    database, _, name = table.partition(".")
    if database not in catalog.databases:
        catalog.create_database(database, {"Name": database})
    if replace:
        with contextlib.suppress(TableNotFoundException):
            catalog.delete_table(database, name)
    catalog.create_table(database, name, _table_input(name, columns))


def _update_table(catalog: Any, table: str, versions: list[list[dict[str, str]]]) -> None:
    """A new catalog version of ``table`` per column list, in order."""
    database, _, name = table.partition(".")
    for columns in versions:
        catalog.update_table(database, name, _table_input(name, columns))


def _table_input(name: str, columns: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": c["Name"], "Type": c["Type"]} for c in columns],
            "Location": f"s3://datalake/{name}/",
        },
        "PartitionKeys": [],
    }
