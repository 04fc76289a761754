"""Fault injection for the local engine: AWS calls that fail, time out after succeeding, or Lambda responses
that are lost, so that the incident path can be shown to survive them (``selfheal replay --inject``).

A fault spec is one of:

- ``SERVICE:Operation=ErrorCode`` - the call fails with that error code (a botocore ``ClientError``, as the
  service returns it after botocore's own retries), e.g. ``sns:Publish=Throttled``,
  ``glue:StartJobRun=ThrottlingException``, ``s3:PutObject=SlowDown``;
- ``timeout:SERVICE:Operation`` - the call goes through, then the client sees a ``ReadTimeoutError`` (the
  request was processed but its response never arrived);
- ``lost:STATE`` - the Lambda of that Task state ran to completion but its response is lost: Step Functions
  sees ``Lambda.ServiceException``;

each optionally followed by `` xN`` (the first N matching calls; the default is the first one) or
`` always``. SERVICE is the boto3 client name (``glue``, ``logs``, ``ssm``, ``sns``, ``dynamodb``, ``s3``).

AWS calls are intercepted with botocore event hooks (``before-call`` answers with the error response,
``after-call`` raises the timeout) on every client created once the hooks are installed: the handlers'
and the Step Functions interpreter's (its ``sns:publish`` Tasks). The local event store is SQLite and the
local audit trail a directory, so ``dynamodb:PutItem`` / ``dynamodb:Query`` / ``dynamodb:Scan`` faults
apply to the SQLite store's append (and open) / load / listing, and ``s3:PutObject`` faults to the audit
directory writer, raising what the DynamoDB and S3 adapters would.

The controller also records the calls that succeeded while an execution runs (Glue runs started, catalog
updates, SNS messages), which ``replay --json`` reports and the fault tests check.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# The functions a ``lost:`` fault names (RunFinished is the function behind "Await Run End").
LAMBDA_STATES = (
    "Diagnose",
    "Propose",
    "SafetyGate",
    "Execute",
    "Validate",
    "Escalate",
    "Learn",
    "RunFinished",
)
SERVICES = ("glue", "logs", "ssm", "sns", "dynamodb", "s3", "lambda", "stepfunctions", "sqs")
# Operations the local stand-ins (SQLite store, audit directory) map onto.
STORE_OPERATIONS = {
    ("dynamodb", "PutItem"),
    ("dynamodb", "Query"),
    ("dynamodb", "Scan"),
    ("s3", "PutObject"),
}
DECISION_SUBJECT = "selfheal: decision requested"

_SPEC = re.compile(
    r"""^\s*(?:
        lost:(?P<state>[A-Za-z][A-Za-z ]*?)
      | timeout:(?P<tservice>[a-z0-9-]+):(?P<toperation>[A-Z][A-Za-z0-9]*)
      | (?P<service>[a-z0-9-]+):(?P<operation>[A-Z][A-Za-z0-9]*)=(?P<code>[A-Za-z][A-Za-z0-9.]*)
    )(?:\s+(?:x(?P<times>[1-9][0-9]*)|(?P<always>always)))?\s*$""",
    re.VERBOSE,
)

# HTTP status of an injected error: what the service answers with that code.
_SERVER_ERRORS = {
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceException",
}
_STATUS = {"SlowDown": 503, "ServiceUnavailable": 503, "ServiceUnavailableException": 503}


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    kind: str  # "error" | "timeout" | "lost"
    service: str  # boto3 client name; "" for lost
    operation: str  # API operation, or the Task state for lost
    code: str = ""  # the error code, for "error"
    times: int | None = 1  # None: always
    spec: str = ""

    @property
    def status(self) -> int:
        if self.code in _STATUS:
            return _STATUS[self.code]
        if self.code in _SERVER_ERRORS:
            return 500
        if "AccessDenied" in self.code or self.code in ("AuthorizationError", "UnrecognizedClientException"):
            return 403
        return 400


def parse(spec: str) -> Fault:
    """One fault from its spec; raises FaultSpecError with what is wrong."""
    match = _SPEC.match(spec)
    if match is None:
        raise FaultSpecError(
            f"bad fault {spec!r}: expected SERVICE:Operation=ErrorCode, timeout:SERVICE:Operation or "
            "lost:STATE, optionally followed by ' xN' or ' always'"
        )
    times = None if match["always"] else int(match["times"] or 1)
    if match["state"]:
        state = match["state"].strip()
        if state not in LAMBDA_STATES:
            raise FaultSpecError(
                f"bad fault {spec!r}: lost: takes a Lambda Task ({', '.join(LAMBDA_STATES)})"
            )
        return Fault("lost", "", state, times=times, spec=spec.strip())
    service = match["tservice"] or match["service"]
    if service not in SERVICES:
        raise FaultSpecError(f"bad fault {spec!r}: unknown service {service!r} ({', '.join(SERVICES)})")
    if match["tservice"]:
        return Fault("timeout", service, match["toperation"], times=times, spec=spec.strip())
    return Fault("error", service, match["operation"], match["code"], times=times, spec=spec.strip())


@dataclass
class _Armed:
    fault: Fault
    left: int | None  # None: always
    fired: int = 0

    def take(self) -> bool:
        if self.left is None:
            self.fired += 1
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        self.fired += 1
        return True


@dataclass
class CallLog:
    """What succeeded while faults were armed (one execution), and which faults fired."""

    calls: dict[str, int] = field(default_factory=dict)  # "service:Operation" -> successful calls
    runs_started: list[str] = field(default_factory=list)  # --selfheal-attempt marker of each run
    catalog_updates: list[str] = field(default_factory=list)  # "db.table" of each UpdateTable
    published: list[tuple[str, str]] = field(default_factory=list)  # (Subject, Message) of each Publish
    fired: dict[str, int] = field(default_factory=dict)  # fault spec -> times it fired

    @property
    def notifications(self) -> list[str]:
        """The messages sent to tell a human about the incident (not requests for a decision)."""
        return [message for subject, message in self.published if subject != DECISION_SUBJECT]


class FaultController:
    """Process-wide: botocore hooks and the local store patches ask it whether to fail a call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._log = CallLog()
        self._recording = False
        self._local = threading.local()

    # -- arming ----------------------------------------------------------------------------------
    def arm(self, faults: list[Fault]) -> None:
        with self._lock:
            self._armed = [_Armed(f, f.times) for f in faults]
            self._log = CallLog()
            self._recording = True

    def disarm(self) -> CallLog:
        with self._lock:
            log = self._log
            log.fired = {a.fault.spec: a.fired for a in self._armed}
            self._armed = []
            self._log = CallLog()
            self._recording = False
            return log

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """The engine's own calls (provisioning, seeding the world, the local on-call) are not faulted."""
        depth = getattr(self._local, "suspended", 0)
        self._local.suspended = depth + 1
        try:
            yield
        finally:
            self._local.suspended = depth

    def _active(self) -> bool:
        return not getattr(self._local, "suspended", 0)

    def _take(self, kind: str, service: str, operation: str) -> Fault | None:
        if not self._armed or not self._active():
            return None
        with self._lock:
            for armed in self._armed:
                fault = armed.fault
                matches = (fault.kind, fault.service, fault.operation) == (kind, service, operation)
                if matches and armed.take():
                    return fault
        return None

    def take_lost(self, state: str) -> Fault | None:
        return self._take("lost", "", state)

    # -- what succeeded --------------------------------------------------------------------------
    def record(self, service: str, operation: str, params: Mapping[str, Any] | None) -> None:
        if not self._recording or not self._active():
            return
        params = params or {}
        key = f"{service}:{operation}"
        with self._lock:
            log = self._log
            log.calls[key] = log.calls.get(key, 0) + 1
            if key == "glue:StartJobRun":
                arguments = params.get("Arguments") or {}
                log.runs_started.append(str(arguments.get("--selfheal-attempt", "")))
            elif key == "glue:UpdateTable":
                table = (params.get("TableInput") or {}).get("Name", "")
                log.catalog_updates.append(f"{params.get('DatabaseName', '')}.{table}")
            elif key == "sns:Publish":
                message = params.get("Message", "")
                if not isinstance(message, str):
                    message = json.dumps(message, default=str)
                elif params.get("MessageStructure") == "json":
                    message = str(json.loads(message).get("sqs", message))  # the machine-readable part
                log.published.append((str(params.get("Subject", "")), message))

    # -- botocore hooks --------------------------------------------------------------------------
    def before_parameter_build(self, params: Any, context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context["selfheal_params"] = dict(params) if isinstance(params, Mapping) else {}

    def before_call(self, model: Any, context: Any = None, **_: Any) -> Any:
        service, operation = _names(model)
        fault = self._take("error", service, operation)
        if fault is None:
            return None
        return _Http(fault.status), error_response(fault)

    def after_call(self, http_response: Any, model: Any, context: Any = None, **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300:
            return
        service, operation = _names(model)
        params = context.get("selfheal_params") if isinstance(context, dict) else None
        self.record(service, operation, params)
        if self._take("timeout", service, operation) is not None:
            raise read_timeout(service)

    # -- the local stand-ins for DynamoDB and S3 -------------------------------------------------
    def before_store(self, service: str, operation: str) -> None:
        """Raise what the DynamoDB (S3) adapter would raise for an injected error on this call."""
        fault = self._take("error", service, operation)
        if fault is None:
            return
        from botocore.exceptions import ClientError

        error = ClientError(error_response(fault), operation)  # type: ignore[arg-type]
        if service == "dynamodb":
            # What DynamoDbEventStore does with a ClientError: throttling/5xx become retryable.
            from selfheal_core.adapters.throttling import raise_if_transient

            raise_if_transient(error, f"DynamoDB {operation} (local SQLite store)")
        raise error

    def after_store(self, service: str, operation: str) -> None:
        self.record(service, operation, None)
        if self._take("timeout", service, operation) is not None:
            raise read_timeout(service)


@dataclass(frozen=True)
class _Http:
    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    text: str = ""


def _names(model: Any) -> tuple[str, str]:
    return str(model.service_model.service_name), str(model.name)


def error_response(fault: Fault) -> dict[str, Any]:
    return {
        "Error": {"Code": fault.code, "Message": f"injected fault {fault.spec}"},
        "ResponseMetadata": {"HTTPStatusCode": fault.status, "RequestId": "injected-fault"},
    }


def read_timeout(service: str) -> Exception:
    from botocore.exceptions import ReadTimeoutError

    return ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com/")


controller = FaultController()
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Register the hooks for every botocore session and client created from now on (as moto registers
    its stubber), and on boto3's default session if it already exists."""
    global _installed
    with _install_lock:
        if _installed:
            return
        import boto3
        from botocore.handlers import BUILTIN_HANDLERS

        hooks: list[tuple[str, Any]] = [
            ("before-parameter-build", controller.before_parameter_build),
            ("before-call", controller.before_call),
            ("after-call", controller.after_call),
        ]
        BUILTIN_HANDLERS.extend(hooks)
        if boto3.DEFAULT_SESSION is not None:
            for event, handler in hooks:
                boto3.DEFAULT_SESSION.events.register(event, handler)
        _installed = True
