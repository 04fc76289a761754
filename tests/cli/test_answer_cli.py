"""``selfheal incidents approve|reject|resolve`` and ``selfheal autonomy set``: locally and against a
stack on moto (its DynamoDB log, a real ``.waitForTaskToken`` wait, its SSM settings parameter)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes import EVENTS_TABLE_RESOURCE, REGION
from moto import mock_aws
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.events import Answered, AnswerRequested, Opened
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.vocabulary import Action

from selfheal.cli import main

INCIDENT = incident_id_for("revenue-close", "jr_1")
REQUEST = AnswerRequested(
    "approval", Action.ROLLBACK, ("critical_job_low_risk_only",), "tok-1", "2026-12-01T03:00:00Z"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USER", "ana")
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def local_incident(home: Path, *events: Any) -> None:
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        store.open(INCIDENT, Opened("revenue-close", "jr_1"))
        for seq, event in enumerate(events, start=1):
            store.append(INCIDENT, event, seq)
    finally:
        store.close()


def test_approve_delivers_the_checked_answer_to_the_local_wait(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local_incident(home, REQUEST)
    assert main(["incidents", "approve", INCIDENT, "--note", "ok for tonight"]) == 0
    (delivered,) = (home / "inbox").glob("*.json")
    data = json.loads(delivered.read_text())
    assert data["task_token"] == "tok-1"
    assert json.loads(data["output"]) == {
        "decision": "approve",
        "category": None,
        "action": None,
        "note": "ok for tonight",
        "answered_by": "ana",
    }
    assert "approve sent" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resolve", INCIDENT, "--category", "schema_drfit"], "unknown category 'schema_drfit'"),
        (["resolve", INCIDENT, "--action", "reboot"], "unknown action 'reboot'"),
        (["approve", "inc-ffffffffffffffff"], "no incident inc-ffffffffffffffff"),
        (["approve"], "needs an INCIDENT_ID"),
    ],
)
def test_a_bad_answer_is_exit_code_2_with_the_reason(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    local_incident(home, REQUEST)
    assert main(["incidents", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (home / "inbox").exists()


def test_an_incident_that_waits_for_nothing_cannot_be_answered(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local_incident(home, REQUEST, Answered("approve"))
    assert main(["incidents", "reject", INCIDENT]) == 2
    assert "is not waiting for an answer" in capsys.readouterr().err


def test_approve_is_not_an_answer_to_a_fix_question(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local_incident(home, AnswerRequested("fix", None, ("why",), "tok-2", "2026-12-02T00:00:00Z"))
    assert main(["incidents", "approve", INCIDENT]) == 2
    assert "reject, resolved for a fix question" in capsys.readouterr().err
    assert main(["incidents", "resolve", INCIDENT, "--category", "permission", "--action", "escalate"]) == 0


STACK_TEMPLATE = {
    "Resources": {
        "IncidentEventsTable": EVENTS_TABLE_RESOURCE,
        "SettingsParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/selfheal/prod/settings", "Type": "String", "Value": '{"mode": "auto"}'},
        },
    }
}


@pytest.fixture
def stack(aws_env: None) -> Iterator[dict[str, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="prod", TemplateBody=json.dumps(STACK_TEMPLATE)
        )
        yield {"name": "prod"}


def test_approve_on_a_stack_sends_task_success_to_the_waiting_execution(
    stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="wait")["QueueUrl"]
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {
        "StartAt": "Await Approval",
        "States": {
            "Await Approval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="wait", definition=json.dumps(definition), roleArn=role)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1", input="{}")[
        "executionArn"
    ]
    token = None
    for _ in range(500):
        messages = sqs.receive_message(QueueUrl=queue).get("Messages", [])
        if messages:
            token = json.loads(messages[0]["Body"])["token"]
            break
        time.sleep(0.01)
    assert token
    table = boto3.client("cloudformation", region_name=REGION).describe_stack_resource(
        StackName="prod", LogicalResourceId="IncidentEventsTable"
    )["StackResourceDetail"]["PhysicalResourceId"]
    store = DynamoDbEventStore(table, client=boto3.client("dynamodb", region_name=REGION))
    store.open(INCIDENT, Opened("revenue-close", "jr_1"))
    store.append(INCIDENT, AnswerRequested("approval", Action.ROLLBACK, (), token, "2026-12-01T03:00:00Z"), 1)

    assert main(["incidents", "approve", INCIDENT, "--stack", "prod", "--by", "ana"]) == 0
    for _ in range(500):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.01)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["decision"] == "approve"
    assert "sent to stack prod" in capsys.readouterr().out


def test_answering_a_wait_that_is_over_is_exit_code_2_with_the_reason(
    stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    table = boto3.client("cloudformation", region_name=REGION).describe_stack_resource(
        StackName="prod", LogicalResourceId="IncidentEventsTable"
    )["StackResourceDetail"]["PhysicalResourceId"]
    store = DynamoDbEventStore(table, client=boto3.client("dynamodb", region_name=REGION))
    store.open(INCIDENT, Opened("revenue-close", "jr_1"))
    stale = "token-of-an-execution-that-ended"
    store.append(INCIDENT, AnswerRequested("approval", Action.ROLLBACK, (), stale, "2026-12-01T03:00:00Z"), 1)

    assert main(["incidents", "approve", INCIDENT, "--stack", "prod"]) == 2
    assert "the wait is over" in capsys.readouterr().err


def test_a_missing_stack_is_a_clear_error(stack: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "approve", INCIDENT, "--stack", "nope"]) == 2
    assert "stack 'nope'" in capsys.readouterr().err


def test_autonomy_set_writes_the_stack_parameter_and_shows_the_change(
    stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["autonomy", "set", "schema_drift/rollback", "approve", "--stack", "prod"]) == 0
    assert main(["autonomy", "set", "schema_drift/rollback", "auto", "--stack", "prod"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "schema_drift/rollback: auto (not set) -> approve",
        "schema_drift/rollback: approve -> auto",
    ]
    value = boto3.client("ssm", region_name=REGION).get_parameter(Name="/selfheal/prod/settings")["Parameter"]
    assert json.loads(value["Value"]) == {
        "mode": "auto",
        "autonomy": [{"category": "schema_drift", "action": "rollback", "level": "auto"}],
    }


def test_autonomy_set_locally_per_job_and_refuses_a_bad_level(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["autonomy", "set", "*", "shadow", "--job", "revenue-close"]) == 0
    assert "*/* on job revenue-close: auto (not set) -> shadow" in capsys.readouterr().out
    settings = json.loads((home / "settings.json").read_text())
    assert settings == {
        "autonomy": [{"category": "*", "action": "*", "job": "revenue-close", "level": "shadow"}]
    }
    assert main(["autonomy", "set", "schema_drfit", "auto"]) == 2
    assert "unknown category 'schema_drfit'" in capsys.readouterr().err
