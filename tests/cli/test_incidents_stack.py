"""``--stack NAME`` on moto: the names come from CloudFormation (or the documented environment
variables), the incidents from the stack's DynamoDB table, the path and each state's input and output from
Step Functions' execution history and the definition deployed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fakes import EVENTS_TABLE_RESOURCE
from moto import mock_aws

from selfheal.cli import main
from selfheal.stack import EVENTS_TABLE_ENV, STATE_MACHINE_ENV, resolve

STACK = "selfheal-prod"
TABLE_TEMPLATE = {"Resources": {"IncidentEventsTable": EVENTS_TABLE_RESOURCE}}
# What was deployed: Pass states with the real names, so the execution has a history with data.
DEPLOYED = {
    "StartAt": "Diagnose",
    "States": {
        "Diagnose": {
            "Type": "Pass",
            "Result": {"category": "schema_drift"},
            "ResultPath": "$.diagnosis",
            "Next": "Propose",
        },
        "Propose": {
            "Type": "Pass",
            "Result": {"action": "rollback"},
            "ResultPath": "$.proposal",
            "Next": "SafetyGate",
        },
        "SafetyGate": {
            "Type": "Pass",
            "Result": {"action": "escalate"},
            "ResultPath": "$.gate",
            "Next": "Gate Decision",
        },
        "Gate Decision": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.gate.action", "StringEquals": "escalate", "Next": "Escalate"}],
            "Default": "Learn",
        },
        "Escalate": {"Type": "Pass", "Next": "Learn"},
        "Learn": {
            "Type": "Pass",
            "Result": {"outcome": "escalated"},
            "ResultPath": "$.result",
            "Next": "Incident Closed",
        },
        "Incident Closed": {"Type": "Succeed"},
    },
}
ESCALATED = "inc-escalated00000001"
WAITING = "inc-waiting000000002"


def _put(client: Any, table: str, incident_id: str, records: list[tuple[str, str, dict[str, Any]]]) -> None:
    for seq, (kind, at, data) in enumerate(records):
        client.put_item(
            TableName=table,
            Item={
                "incident_id": {"S": incident_id},
                "seq": {"N": str(seq)},
                "type": {"S": kind},
                "at": {"S": at},
                "v": {"N": "2"},
                "data": {"S": json.dumps(data)},
            },
        )


@pytest.fixture
def deployed(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.delenv(EVENTS_TABLE_ENV, raising=False)
    monkeypatch.delenv(STATE_MACHINE_ENV, raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(TABLE_TEMPLATE))
        table = resolve(STACK).events_table
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="selfheal-incidents",
            definition=json.dumps(DEPLOYED),
            roleArn="arn:aws:iam::123456789012:role/selfheal",
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, input=json.dumps({"incident_id": ESCALATED})
        )["executionArn"]
        for _ in range(200):
            if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
                break
            time.sleep(0.02)
        dynamodb = boto3.client("dynamodb")
        job = {"job_name": "etl-ledger", "job_run_id": "jr_1"}
        _put(
            dynamodb,
            table,
            ESCALATED,
            [
                ("opened", "2026-11-26T02:00:00.000Z", {**job, "execution_id": execution}),
                (
                    "diagnosed",
                    "2026-11-26T02:00:02.000Z",
                    {"job_name": "etl-ledger", "category": "schema_drift"},
                ),
                ("proposed", "2026-11-26T02:00:03.000Z", {"attempt": 1, "action": "rollback"}),
                (
                    "gated",
                    "2026-11-26T02:00:04.000Z",
                    {
                        "attempt": 1,
                        "proposed": "rollback",
                        "action": "escalate",
                        "rules_fired": ["critical_job_low_risk_only"],
                    },
                ),
                ("escalated", "2026-11-26T02:00:05.000Z", {"reason": "the gate stopped rollback"}),
                (
                    "answered",
                    "2026-11-26T04:00:05.000Z",
                    {"decision": "resolved", "by": "alice", "action": "rollback", "category": "schema_drift"},
                ),
                ("learned", "2026-11-26T04:00:06.000Z", {"outcome": "escalated"}),
            ],
        )
        _put(
            dynamodb,
            table,
            WAITING,
            [
                (
                    "opened",
                    "2026-11-27T02:00:00.000Z",
                    {
                        "job_name": "etl-orders",
                        "job_run_id": "jr_9",
                        "execution_id": "arn:aws:states:us-east-1:123456789012:execution:selfheal-incidents:gone",
                    },
                ),
                (
                    "diagnosed",
                    "2026-11-27T02:00:02.000Z",
                    {"job_name": "etl-orders", "category": "schema_drift"},
                ),
                ("proposed", "2026-11-27T02:00:03.000Z", {"attempt": 1, "action": "rollback"}),
                (
                    "gated",
                    "2026-11-27T02:00:04.000Z",
                    {
                        "attempt": 1,
                        "proposed": "rollback",
                        "action": "rollback",
                        "approval": ["autonomy:approve"],
                        "autonomy": "approve",
                    },
                ),
                (
                    "answer_requested",
                    "2026-11-27T02:00:05.000Z",
                    {
                        "question": "approval",
                        "proposed": "rollback",
                        "reasons": ["autonomy:approve"],
                        "task_token": "token",
                        "expires_at": "2026-11-28T02:00:05.000Z",
                    },
                ),
            ],
        )
        yield {"table": table, "execution": execution}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_the_stack_is_resolved_through_cloudformation(deployed: dict[str, str]) -> None:
    names = resolve(STACK)
    assert names.events_table == deployed["table"] and names.events_table.startswith(f"{STACK}-")
    assert names.state_machine_arn is None  # this stack declares none; the log names each execution


def test_list_reads_the_deployed_log(deployed: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, ["incidents", "list", "--stack", STACK, "--json"])
    assert [r["incident_id"] for r in rows] == [WAITING, ESCALATED]  # newest first
    waiting, escalated = rows
    assert waiting["status"] == "waiting" and waiting["overdue"] is True  # its approval expired
    assert waiting["deadline"] == "2026-11-28T02:00:05.000Z" and waiting["waiting_for"] == "approval"
    assert escalated["status"] == "closed" and escalated["outcome"] == "escalated"
    assert escalated["answer"]["action"] == "rollback"
    open_rows = _json(capsys, ["incidents", "list", "--stack", STACK, "--open", "--json"])
    assert [r["incident_id"] for r in open_rows] == [WAITING]


def test_show_follows_the_execution_history(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    page = tmp_path / "incident.html"
    shown = _json(capsys, ["incidents", "show", ESCALATED, "--stack", STACK, "--json", "--html", str(page)])
    assert shown["path_source"] == "execution history"
    assert shown["path"] == [
        "Diagnose",
        "Propose",
        "SafetyGate",
        "Gate Decision",
        "Escalate",
        "Learn",
        "Incident Closed",
    ]
    assert [e["type"] for e in shown["events"]][-2:] == ["answered", "learned"]
    assert shown["links"]["execution"].endswith(deployed["execution"])
    html = page.read_text()
    # The deployed definition is drawn (not the one shipped with the CLI), with each state's data.
    assert set(re_states(html)) == set(DEPLOYED["States"])
    assert "&#34;category&#34;: &#34;schema_drift&#34;" in html and "<h4>output</h4>" in html


def re_states(html: str) -> list[str]:
    import re

    return re.findall(r'data-state="([^"]+)"', html)


def test_show_falls_back_to_the_log_when_the_execution_is_gone(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _json(capsys, ["incidents", "show", WAITING, "--stack", STACK, "--json"])
    assert shown["path_source"] == "event log"
    assert shown["status"] == "waiting" and shown["answer_with"]["approve"] == (
        f"selfheal incidents approve {WAITING} --stack {STACK}"
    )
    assert shown["events"][-1]["type"] == "answer_requested"


def test_report_shadow_reads_the_stack(deployed: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, ["report", "shadow", "--stack", STACK, "--json"])
    drift = report["categories"]["schema_drift"]
    # One human said rollback fixed it (agreed), one is still waiting (unknown).
    assert (drift["proposals"], drift["agreed"], drift["precision"]) == (2, 1, 1.0)


def test_the_environment_names_the_table_without_cloudformation(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EVENTS_TABLE_ENV, deployed["table"])
    rows = _json(capsys, ["incidents", "list", "--stack", "not-a-stack", "--json"])
    assert len(rows) == 2


def test_an_unknown_stack_is_one_line(deployed: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "list", "--stack", "no-such-stack"]) == 2
    err = capsys.readouterr().err
    assert "no-such-stack" in err and EVENTS_TABLE_ENV in err and len(err.strip().splitlines()) == 1


def test_a_stack_without_an_events_table_is_refused(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    other = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    boto3.client("cloudformation").create_stack(StackName="other", TemplateBody=json.dumps(other))
    assert main(["report", "shadow", "--stack", "other"]) == 2
    assert "has no IncidentEventsTable" in capsys.readouterr().err


def test_no_region_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv(EVENTS_TABLE_ENV, "events")
    assert main(["incidents", "list", "--stack", "selfheal"]) == 2
    assert "cannot reach stack 'selfheal'" in capsys.readouterr().err
