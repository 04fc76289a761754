"""The typed contracts between the state machine and its steps: what each Task receives and returns.

Each is a frozen dataclass; ``to_json`` gives what the Lambda returns, and ``schema_for`` derives the JSON
Schema a handler validates its input against. ``tests/template/test_contracts.py`` checks that every path
the ASL reads (``$.gate.action``, ``$.execution.poll_seconds``...) is a field of the step that writes it,
and that the committed schemas are the generated ones, so the ASL, the schemas and the code cannot drift.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

INCIDENT_ID_PATTERN = "^inc-[0-9a-f]{16}$"


class Contract:
    """Mixin: JSON out, and the JSON Schema of the fields."""

    title: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentRef(Contract):
    """Input of Propose, SafetyGate, Execute and Validate: which incident (the log holds the rest)."""

    title: ClassVar[str] = "Input of Propose, SafetyGate, Execute and Validate"
    incident_id: str


HumanDecision = Literal[
    "approve", "reject", "resolved", "timeout", "fixed", "rejected", "timed_out", "failed"
]


@dataclass(frozen=True)
class HumanAnswer(Contract):
    """A human's answer as the state machine passes it on, checked (Check Answer), or the timeout or
    failed request that stands in for one."""

    decision: HumanDecision
    by: str = ""
    notes: str = ""
    minutes_to_fix: float | None = field(default=None, metadata={"json_schema": {"minimum": 0}})
    harmful: bool = False
    category: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class AnswerPayload(Contract):
    """What SendTaskSuccess carries (``selfheal incidents approve|reject|resolve``, the link function)."""

    decision: Literal["approve", "reject", "resolved"]
    category: str | None = None
    action: str | None = None
    note: str | None = None
    answered_by: str = ""


@dataclass(frozen=True)
class LearnInput(Contract):
    title: ClassVar[str] = "Learn input: the incident, and the human's answer when one was awaited"
    incident_id: str
    human: HumanAnswer | None = None


# -- outputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiagnoseResult(Contract):
    incident_id: str
    job_name: str
    job_run_id: str
    duplicate: bool
    reason: str | None = None  # why a duplicate is not a new incident
    category: str | None = None
    confidence: float | None = None
    signature: str | None = None
    drift: bool = False
    risk: str | None = None
    # The run is still going (a Data Quality result arrives before its run ends): nothing is diagnosed
    # yet; the state machine waits ``poll_seconds`` and calls Diagnose again, which counts its looks.
    run_in_progress: bool = False
    in_progress_checks: int = 0
    poll_seconds: int = 0
    # The claims checked against facts, named like the gate's rules: {"name", "verdict", "evidence"}.
    checks: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class ProposeResult(Contract):
    attempt: int
    action: str
    explored: bool


@dataclass(frozen=True)
class GateResult(Contract):
    action: str
    proposed: str
    rules_fired: tuple[str, ...]
    shadow: bool
    wait_seconds: int
    # ``action`` runs only once a human approves it: the soft rules / autonomy level that asked.
    needs_approval: bool = False
    approval: tuple[str, ...] = ()
    autonomy: str = "auto"
    # Storm control holds the attempt (waiting for its group's probe or the action budget): the state
    # machine waits ``wait_seconds`` and calls SafetyGate again; nothing is executed.
    hold: bool = False


@dataclass(frozen=True)
class ExecuteResult(Contract):
    attempt: int
    action: str
    job_run_id: str | None
    awaiting_run: bool
    poll_seconds: int
    stopped_by: str | None = None
    restored: tuple[str, ...] = ()  # "db.table@version" restored by a rollback
    quarantine_path: str | None = None
    # How long "Await Run End" waits for the run's end event: the run's Glue timeout plus a margin, at
    # most RUN_WAIT_SECONDS.
    wait_seconds: int = 1
    job_name: str = ""


@dataclass(frozen=True)
class RunEnd(Contract):
    """What releases "Await Run End" (RunFinished's SendTaskSuccess output)."""

    job_run_id: str
    state: str
    source: Literal["event", "watch"]


@dataclass(frozen=True)
class ValidateResult(Contract):
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    fixed: bool
    attempts_left: bool


@dataclass(frozen=True)
class EscalateResult(Contract):
    incident_id: str
    reason: str
    await_human: bool
    timeout_seconds: int
    # "approval": a held proposal waits for approval; "fix": a human owns it; None: nothing is awaited.
    question: str | None = None


@dataclass(frozen=True)
class LearnResult(Contract):
    incident_id: str
    outcome: str
    final_action: str
    attempts: int
    row_updates: int


# Where the ASL puts each Task's result (its ResultPath), and the contract of that result.
RESULT_PATHS: dict[str, tuple[str, type[Contract]]] = {
    "Diagnose": ("$", DiagnoseResult),
    "Propose": ("$.proposal", ProposeResult),
    "SafetyGate": ("$.gate", GateResult),
    "Execute": ("$.execution", ExecuteResult),
    "Await Run End": ("$.run_end", RunEnd),
    "Validate": ("$.validation", ValidateResult),
    "Escalate": ("$", EscalateResult),
    "Await Approval": ("$.human", AnswerPayload),
    "Await Human Decision": ("$.human", AnswerPayload),
    "Check Answer": ("$.human", HumanAnswer),
    "Record Answer": ("$.human", HumanAnswer),
    "Learn": ("$.result", LearnResult),
}

# The handler input schemas generated from these contracts (``scripts/generate_schemas.py``). The
# Diagnose and Escalate inputs are AWS's EventBridge events and the workflow state: hand-written schemas.
GENERATED_SCHEMAS: dict[str, type[Contract]] = {"incident": IncidentRef, "learn": LearnInput}


# -- JSON Schema from the dataclasses --------------------------------------------------------------
def schema_for(cls: type[Contract]) -> dict[str, Any]:
    """A Draft 2020-12 schema of ``cls``: required fields are those without a default."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_object_schema(cls)}
    if cls.title:
        schema["title"] = cls.title
    return schema


def _object_schema(cls: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        constraints = dict(f.metadata.get("json_schema", {}))
        if f.name == "incident_id":
            constraints["pattern"] = INCIDENT_ID_PATTERN
        properties[f.name] = _type_schema(hints[f.name], constraints)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return {"type": "object", "required": required, "properties": properties}


def _type_schema(hint: Any, constraints: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``constraints`` (minimum, pattern...) apply to the value, not to the null of an optional."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return {"anyOf": [_type_schema(options[0], constraints), {"type": "null"}]}
        return {"anyOf": [*(_type_schema(o) for o in options), {"type": "null"}]}
    return {**_plain_schema(hint), **(constraints or {})}


def _plain_schema(hint: Any) -> dict[str, Any]:
    origin = get_origin(hint)
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (tuple, list):
        return {"type": "array", "items": _type_schema(get_args(hint)[0])}
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if dataclasses.is_dataclass(hint):
        return _object_schema(hint)  # type: ignore[arg-type]
    raise TypeError(f"no JSON Schema for {hint!r}")


def from_json(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build ``cls`` from JSON already validated against ``schema_for(cls)``."""
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _value(hints[f.name], data[f.name])
    return cls(**kwargs)


C = typing.TypeVar("C", bound=Contract)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _value(options[0], value) if len(options) == 1 else value
    if origin in (tuple, list):
        return tuple(_value(get_args(hint)[0], v) for v in value)
    if dataclasses.is_dataclass(hint):
        return from_json(hint, value)  # type: ignore[type-var,arg-type]
    if hint is float:
        return float(value)
    return value


__all__ = [
    "GENERATED_SCHEMAS",
    "RESULT_PATHS",
    "AnswerPayload",
    "DiagnoseResult",
    "EscalateResult",
    "ExecuteResult",
    "GateResult",
    "HumanAnswer",
    "IncidentRef",
    "LearnInput",
    "LearnResult",
    "ProposeResult",
    "RunEnd",
    "ValidateResult",
    "from_json",
    "schema_for",
]
