"""Small, idempotent patches of moto 5.2.5 internals that the local engine needs (pinned for that reason).

- Lambda invocations are dispatched to the project's handlers in this process.
- Wait states and Retry intervals are skipped and recorded instead of slept ("fast time").
- GetJobRuns answers newest first, as Glue does, and a job keeps its newest 60 runs.
- Glue job runs started by Execute get their outcome from a simulated Glue environment, and a run can
  carry an ``ErrorMessage`` (moto's runs always succeed and have none); a run is held RUNNING until the
  engine ends it (skipped waits advance the engine's simulated clock).
- boto3 clients inside the interpreter are cached (it builds a new one per Task otherwise); the parsed
  ASL and, for a machine of stateless states, its evaluation components are kept per definition (moto
  builds both at every execution), and so is each parsed JSONPath (moto parses a path at every
  evaluation, about 37 times per incident).
- A Lambda service error (the ``ClientError`` of the Invoke call itself, e.g. a lost response) on a Task
  whose Resource is a function ARN is named ``Lambda.<code>`` as in AWS (moto names it ``Exception``).
- Fault injection (``faults.py``): botocore hooks on every client, and the local stand-ins for DynamoDB
  (the SQLite event store, run watches and Q-table) and S3 (the audit directory) ask the fault
  controller before and after each operation (which also counts them).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from selfheal.local import faults

_applied = False
# Runs of a job the local Glue keeps: selfheal reads the newest 50 (Diagnose, Execute).
RUN_HISTORY = 60
_lock = threading.Lock()

# Set by the engine: function name -> callable(payload: dict) -> (ok: bool, result: dict)
Dispatcher = Callable[[str, dict[str, Any]], tuple[bool, dict[str, Any]]]
# "data_quality": the world's Glue Data Quality results (GetDataQualityResult shapes), which moto lacks.
state: dict[str, Any] = {
    "dispatch": None,
    "on_job_run": None,
    "on_wait": None,
    "waits": [],
    "data_quality": [],
}


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        _patch_lambda()
        _patch_time()
        _patch_glue()
        _patch_client_cache()
        _patch_asl_parse_cache()
        _patch_jsonpath_cache()
        _patch_lambda_service_errors()
        _patch_local_stores()
        faults.install()
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        _applied = True


def _patch_lambda() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        name = function_name.split(":function:")[-1].split(":")[0]
        dispatch: Dispatcher | None = state["dispatch"]
        if dispatch is None:
            raise RuntimeError("no local Lambda dispatcher is installed")
        payload = json.loads(body) if body else {}
        ok, result = dispatch(name, payload)
        if not ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(result, default=str).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


def _patch_time() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    class _FastTime:
        """Stands in for the ``time`` module inside the retrier: records sleeps instead of sleeping."""

        def __getattr__(self, name: str) -> Any:
            import time

            return getattr(time, name)

        def sleep(self, seconds: float) -> None:
            state["waits"].append(("retry", float(seconds)))
            _waited(float(seconds))

    retrier_decl.time = _FastTime()  # type: ignore[attr-defined,assignment]

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        state["waits"].append(("wait", float(wait_seconds)))
        _waited(float(wait_seconds))

    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]


def _waited(seconds: float) -> None:
    """Simulated time passed (a skipped wait): the engine ends the runs whose runtime is over."""
    hook = state["on_wait"]
    if hook is not None:
        hook(seconds)


def _still_going(run: Any) -> bool:
    return run.status in ("STARTING", "RUNNING") or getattr(run, "held_state", None) == "RUNNING"


def _patch_glue() -> None:
    from moto.glue.models import FakeJob, FakeJobRun

    original_start = FakeJob.start_job_run

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        run_id = str(original_start(self, *args, **kwargs))
        hook = state["on_job_run"]
        if hook is not None:
            run = next(r for r in self.job_runs if r.job_run_id == run_id)
            hook(self.name, run)
        return run_id

    FakeJob.start_job_run = start_job_run  # type: ignore[method-assign]

    original_get_job_runs = FakeJob.get_job_runs

    def get_job_runs(self: Any) -> list[Any]:
        # Glue answers newest first (moto: oldest first), so the first page holds the recent runs that
        # Diagnose and Execute look for. Only the newest RUN_HISTORY runs are kept (and any still going):
        # selfheal reads at most 50, and moto's cost grows with every run a long stream leaves behind.
        # Pruned in place: a run another thread appends meanwhile (the engine seeds failed runs) stays.
        runs = original_get_job_runs(self)
        for stale in [r for r in runs[: max(0, len(runs) - RUN_HISTORY)] if not _still_going(r)]:
            runs.remove(stale)
        return list(reversed(runs))

    FakeJob.get_job_runs = get_job_runs  # type: ignore[method-assign]

    original_as_dict = FakeJobRun.as_dict

    def as_dict(self: Any) -> dict[str, Any]:
        data = original_as_dict(self)
        # A simulated run is held in its state (RUNNING until the engine ends it); moto's own runs jump
        # to SUCCEEDED at the first read.
        held = getattr(self, "held_state", None)
        if held:
            data["JobRunState"] = held
        message = getattr(self, "error_message", None)
        if message:
            data["ErrorMessage"] = message
        data["LogGroupName"] = "/aws-glue/jobs"
        return data

    FakeJobRun.as_dict = as_dict  # type: ignore[method-assign]
    _patch_glue_data_quality()


def _patch_glue_data_quality() -> None:
    """``GetDataQualityResult`` and ``ListDataQualityResults`` (filtered by job name and run id), answered
    from the local world's results: the trusted channel a bad-record fraction comes through."""
    from moto.core.responses import ActionResult
    from moto.glue.exceptions import EntityNotFoundException
    from moto.glue.responses import GlueResponse

    def results() -> list[dict[str, Any]]:
        return list(state["data_quality"])

    def get_data_quality_result(self: Any) -> ActionResult:
        result_id = self._get_param("ResultId")
        found = next((r for r in results() if r.get("ResultId") == result_id), None)
        if found is None:
            raise EntityNotFoundException(f"Data quality result {result_id} not found")
        return ActionResult(dict(found))

    def list_data_quality_results(self: Any) -> ActionResult:
        wanted = self._get_param("Filter") or {}
        keys = ("JobName", "JobRunId")
        listed = [
            {k: r[k] for k in ("ResultId", "JobName", "JobRunId") if k in r}
            for r in results()
            if all(r.get(k) == wanted[k] for k in keys if wanted.get(k))
        ]
        return ActionResult({"Results": listed})

    GlueResponse.get_data_quality_result = get_data_quality_result  # type: ignore[attr-defined]
    GlueResponse.list_data_quality_results = list_data_quality_results  # type: ignore[attr-defined]


def _patch_client_cache() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    cache: dict[tuple[str, str, bool], Any] = {}
    cache_lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber

        key = (region, service, bool(botocore_stubber.enabled))
        with cache_lock:
            if key not in cache:
                cache[key] = original(region=region, service=service, state_credentials=state_credentials)
            return cache[key]

    boto_client.boto_client_for = boto_client_for
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_eval
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns as sns

    lambda_eval.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    if hasattr(sns, "boto_client_for"):
        sns.boto_client_for = boto_client_for


def _patch_asl_parse_cache() -> None:
    """moto parses the ASL (ANTLR) and builds its evaluation components at every execution, a third of an
    execution's time: both are kept per definition. The components of the states this ASL uses (Task,
    Choice, Pass, Wait, Succeed, Fail) are set when built and never changed by an evaluation, which keeps
    its state in the execution's environment; their heap keys, drawn lazily, are drawn here once so that
    concurrent executions cannot draw two."""
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = asl_parser.AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}
    programs: dict[str, tuple[Any, Any]] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            if definition in programs:
                return programs[definition]
            tree = trees.get(definition)
            if tree is None:
                tree = trees[definition] = original(definition)[1]
            program = Preprocessor().visit(tree)
            if _only_stateless_states(definition):
                _set_heap_keys(program)
                programs[definition] = (program, tree)
            return program, tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


# States whose evaluation components keep nothing between executions (Map and Parallel run workers).
_STATELESS_STATES = frozenset({"Task", "Choice", "Pass", "Wait", "Succeed", "Fail"})


def _only_stateless_states(definition: str) -> bool:
    try:
        states = json.loads(definition)["States"].values()
        return all(state.get("Type") in _STATELESS_STATES for state in states)
    except (ValueError, KeyError, AttributeError, TypeError):
        return False


def _set_heap_keys(root: Any) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [root]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            _ = item.heap_key
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("moto."):
            pending.extend(vars(item).values())


def _patch_jsonpath_cache() -> None:
    """A parsed JSONPath is an immutable expression tree (``find`` and ``update_or_create`` take the data),
    so one per path string serves every evaluation."""
    import moto.stepfunctions.parser.asl.component.common.path.result_path as result_path
    import moto.stepfunctions.parser.asl.utils.json_path as json_path

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)  # type: ignore[attr-defined]
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)  # type: ignore[attr-defined]


def _patch_lambda_service_errors() -> None:
    """In AWS a Task with a function ARN Resource fails with ``Lambda.ServiceException`` (and the other
    ``Lambda.*`` names the ASL retries) when the Invoke call itself fails; moto reports ``Exception``."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )

    original = StateTaskLambda._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        event = original(self, env, ex)
        if isinstance(ex, ClientError):
            from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
                CustomErrorName,
            )

            name = f"Lambda.{ex.response.get('Error', {}).get('Code') or 'ServiceException'}"
            event.error_name = CustomErrorName(name)  # type: ignore[misc]
            details: Any = event.event_details or {}
            failed = details.get("lambdaFunctionFailedEventDetails")
            if failed is not None:
                failed["error"] = name
        return event

    StateTaskLambda._from_error = _from_error  # type: ignore[method-assign]


def _patch_local_stores() -> None:
    """``dynamodb:*`` faults apply to the SQLite event store, ``s3:PutObject`` to the audit directory."""
    from selfheal_core.adapters.audit import DirectoryAuditSink
    from selfheal_core.adapters.run_watch import SqliteRunWatches
    from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore

    def faulted(cls: Any, name: str, service: str, operation: str) -> None:
        original = getattr(cls, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            faults.controller.before_store(service, operation)
            result = original(self, *args, **kwargs)
            faults.controller.after_store(service, operation)
            return result

        method.__doc__ = original.__doc__
        setattr(cls, name, method)

    faulted(SqliteEventStore, "open", "dynamodb", "PutItem")
    faulted(SqliteEventStore, "append", "dynamodb", "PutItem")
    faulted(SqliteEventStore, "load", "dynamodb", "Query")
    if hasattr(SqliteEventStore, "open_incidents"):
        faulted(SqliteEventStore, "open_incidents", "dynamodb", "Scan")
    faulted(DirectoryAuditSink, "write", "s3", "PutObject")
    # Counted as the DynamoDB calls they stand for (``selfheal cost``): the RUN#<run id> items in the
    # events table, and the Q-table's BatchGetItem and per-update TransactWriteItems.
    faulted(SqliteRunWatches, "watch", "dynamodb", "PutItem")
    faulted(SqliteRunWatches, "find", "dynamodb", "GetItem")
    faulted(SqliteQTableStore, "load_rows", "dynamodb", "BatchGetItem")
    faulted(SqliteQTableStore, "apply", "dynamodb", "TransactWriteItems")
