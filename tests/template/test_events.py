"""Every sample in events/functions/ is what the state machine passes its function, and validates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from selfheal_core.runtime.validation import SCHEMA_DIR, validate

# The schema each handler validates its input against (see functions/<dir>/app.py).
SCHEMAS = {
    "diagnose": "diagnose",
    "propose": "incident",
    "safety_gate": "incident",
    "execute": "incident",
    "validate": "incident",
    "escalate": "escalate",
    "learn": "learn",
}
# ASL Task state -> function dir.
TASKS = {
    "Diagnose": "diagnose",
    "Propose": "propose",
    "SafetyGate": "safety_gate",
    "Execute": "execute",
    "Validate": "validate",
    "Escalate": "escalate",
    "Learn": "learn",
}
EVENTS = Path(__file__).resolve().parents[2] / "events" / "functions"


def _sample(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text())


# Functions EventBridge Scheduler runs, not the state machine: their sample is a Scheduled Event.
SCHEDULED = {"sweeper"}
# Functions the events table's stream runs: their sample is a DynamoDB stream batch.
STREAM = {"audit_writer"}
# Functions behind a Lambda function URL: their sample is an HTTP request (payload format 2.0).
HTTP = {"answer_link"}
# Functions an EventBridge rule on Glue runs invokes (and the state machine with a watch, tested in
# tests/handlers): their sample is a Glue Job State Change in a terminal state.
GLUE_EVENTS = {"run_finished"}


def test_one_sample_per_function(repo_root: Path) -> None:
    functions = {p.parent.name for p in (repo_root / "functions").glob("*/app.py")}
    assert functions - SCHEDULED - STREAM - HTTP - GLUE_EVENTS == set(SCHEMAS)
    assert {p.stem for p in EVENTS.glob("*.json")} == functions


@pytest.mark.parametrize("name", sorted(SCHEDULED))
def test_scheduled_sample_is_a_scheduled_event(name: str) -> None:
    sample = _sample(name)
    assert sample["source"] == "aws.events" and sample["detail-type"] == "Scheduled Event"


@pytest.mark.parametrize("name", sorted(STREAM))
def test_stream_sample_holds_incident_events(name: str) -> None:
    from selfheal_core.steps.audit_stream import event_from_image

    records = _sample(name)["Records"]
    assert records and all(r["eventSource"] == "aws:dynamodb" for r in records)
    assert all(event_from_image(r["dynamodb"]["NewImage"]).incident_id for r in records)


@pytest.mark.parametrize("name", sorted(HTTP))
def test_http_sample_is_a_function_url_request(name: str) -> None:
    sample = _sample(name)
    assert sample["version"] == "2.0" and sample["requestContext"]["http"]["method"] in ("GET", "POST")


@pytest.mark.parametrize("name", sorted(GLUE_EVENTS))
def test_glue_event_sample_is_a_terminal_state_change(name: str) -> None:
    from selfheal_core.steps.run_finished import TERMINAL_STATES

    sample = _sample(name)
    assert sample["source"] == "aws.glue" and sample["detail-type"] == "Glue Job State Change"
    assert sample["detail"]["state"] in TERMINAL_STATES


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_sample_validates_against_its_schema(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{SCHEMAS[name]}.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(_sample(name)))
    assert not errors, [e.message for e in errors]
    validate(_sample(name), SCHEMAS[name])  # the handler's own check raises nothing either


@pytest.mark.parametrize("task", sorted(TASKS))
def test_sample_has_the_shape_the_asl_gives_it(asl: dict[str, Any], task: str) -> None:
    state = asl["States"][task]
    sample = _sample(TASKS[task])
    parameters = state.get("Parameters")
    if parameters is None:  # the whole workflow state: it carries the incident id
        assert "incident_id" in sample
        return
    assert set(sample) == {key.removesuffix(".$") for key in parameters}


def test_diagnose_sample_is_a_glue_job_state_change() -> None:
    event = _sample("diagnose")["event"]
    assert event["source"] == "aws.glue"
    assert event["detail-type"] == "Glue Job State Change"
    assert event["detail"]["state"] in ("FAILED", "TIMEOUT")


def test_samples_share_one_incident() -> None:
    from selfheal_core.domain.incident import incident_id_for

    detail = _sample("diagnose")["event"]["detail"]
    expected = incident_id_for(detail["jobName"], detail["jobRunId"])
    for name in SCHEMAS:
        if name != "diagnose":
            assert _sample(name)["incident_id"] == expected, name


def test_samples_with_an_error_or_answer_carry_them() -> None:
    error = _sample("escalate")["error"]
    assert set(error) == {"Error", "Cause"}
    assert _sample("learn")["human"]["decision"] == "fixed"
