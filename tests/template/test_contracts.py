"""The ASL, the handler schemas and the typed step contracts cannot drift apart.

Every ``$.x.y`` the state machine reads (Choice variables, Wait paths, Task parameters) must be a field of
the contract of the Task that wrote ``$.x``; the committed input schemas must be the ones generated from
the contracts; and a contract's JSON must validate against its own generated schema.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from selfheal_core.contracts import (
    GENERATED_SCHEMAS,
    RESULT_PATHS,
    HumanAnswer,
    LearnInput,
    from_json,
    schema_for,
)

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "incident.asl.json").read_text())
SCHEMAS = ROOT / "shared" / "selfheal_core" / "runtime" / "schemas"

# Paths the ASL writes itself, not a Task's contract: the caught error, the human's answer, the input.
ASL_OWN = {"error", "escalation_error", "wait_error", "learn_error", "human", "event", "detail", "id"}


def paths_read(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (
                key in ("Variable", "SecondsPath", "TimeoutSecondsPath") or key.endswith(".$")
            ):
                found |= set(re.findall(r"(?<!\$)\$\.[A-Za-z_][A-Za-z0-9_.]*", value))
            found |= paths_read(value)
    elif isinstance(node, list):
        for item in node:
            found |= paths_read(item)
    return found


def writer_fields() -> dict[str, set[str]]:
    """For each place a Task writes (``$`` or ``$.gate``...), the fields its contract has."""
    out: dict[str, set[str]] = {}
    for state, (path, contract) in RESULT_PATHS.items():
        assert ASL["States"][state]["ResultPath"] == path, state
        out.setdefault(path, set()).update(f.name for f in dataclasses.fields(contract))
    return out


def test_every_task_result_path_has_a_contract():
    tasks = {
        name
        for name, s in ASL["States"].items()
        if (s["Type"] == "Task" and "lambda" in s["Resource"].lower()) or "Function" in s.get("Resource", "")
    }
    assert tasks <= set(RESULT_PATHS), tasks - set(RESULT_PATHS)


def test_every_path_the_asl_reads_is_a_field_of_the_contract_that_writes_it():
    fields = writer_fields()
    unknown = []
    for path in sorted(paths_read(ASL)):
        parts = path.split(".")[1:]
        if parts[0] in ASL_OWN:
            continue
        nested = f"$.{parts[0]}"
        nested_field = nested in fields and len(parts) > 1
        if not (parts[1] in fields[nested] if nested_field else parts[0] in fields["$"]):
            unknown.append(path)
    assert unknown == []


@pytest.mark.parametrize("name", sorted(GENERATED_SCHEMAS))
def test_committed_schemas_are_the_generated_ones(name: str):
    committed = json.loads((SCHEMAS / f"{name}.json").read_text())
    assert committed == schema_for(GENERATED_SCHEMAS[name]), "run python scripts/generate_schemas.py"


def test_a_contract_round_trips_through_its_own_schema():
    request = LearnInput("inc-0123456789abcdef", HumanAnswer("fixed", by="me", minutes_to_fix=12.5))
    data = request.to_json()
    Draft202012Validator(schema_for(LearnInput)).validate(data)
    assert from_json(LearnInput, data) == request


def test_the_schema_rejects_what_the_contract_cannot_hold():
    validator = Draft202012Validator(schema_for(LearnInput))
    assert not validator.is_valid({"incident_id": "inc-0123456789abcdef", "human": {"decision": "approved"}})
    assert not validator.is_valid({"incident_id": "nope"})
    assert not validator.is_valid(
        {"incident_id": "inc-0123456789abcdef", "human": {"decision": "fixed", "minutes_to_fix": -1}}
    )
