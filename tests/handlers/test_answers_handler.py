"""The Escalate function on moto: the approval request as SNS delivers it (plain text for people, JSON and
attributes for machines, secrets redacted), the wait's token, the checked answer and the labelled example
in S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes import REGION, make_config
from moto import mock_aws
from selfheal_core.adapters.labels import S3LabelSink
from selfheal_core.adapters.notify import SnsNotifier, SsmSettingsSource, publish_arguments
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.events import Answered, AnswerRequested, Diagnosed, Opened, Proposed
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.runtime.wiring import Dependencies, guarded_notifier, guarded_store
from selfheal_core.vocabulary import Action, Category, Criticality

JOB = "revenue-close"
RUN = "jr_1"
INCIDENT = incident_id_for(JOB, RUN)
SECRET = "AKIAABCDEFGHIJKLMNOP"
BUCKET = "audit"


class Glue:  # Escalate and the answer steps never call Glue
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"glue.{name} called")


@pytest.fixture
def aws(aws_env: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with mock_aws():
        sns, sqs, s3 = (boto3.client(s, region_name=REGION) for s in ("sns", "sqs", "s3"))
        topic = sns.create_topic(Name="escalations")["TopicArn"]
        queue = sqs.create_queue(QueueName="oncall")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        s3.create_bucket(Bucket=BUCKET)
        store = SqliteEventStore(tmp_path / "events.sqlite3")
        qtable = SqliteQTableStore(tmp_path / "q.sqlite3")
        deps = Dependencies(
            config=make_config(APPROVALS="true", APPROVAL_TIMEOUT_SECONDS="900"),
            store=guarded_store(store),
            qtable=qtable,
            glue=Glue(),
            logs=Glue(),
            notifier=guarded_notifier(SnsNotifier(topic, client=sns)),
            settings=SsmSettingsSource("/selfheal/settings", client=boto3.client("ssm", region_name=REGION)),
            labels=S3LabelSink(BUCKET, client=s3),
        )
        yield {"deps": deps, "sqs": sqs, "queue": queue, "s3": s3, "store": store}
        store.close()
        qtable.close()


def held(deps: Dependencies, load_handler: Any, context: Any) -> dict[str, Any]:
    store = deps.store
    message = f"cannot resolve 'amount' (key {SECRET})"
    store.open(INCIDENT, Opened(JOB, RUN, "arn:exec", {"detail": {"jobName": JOB, "message": message}}))
    drift = DriftReport("fin.revenue", "1", "2", removed=("amount",))
    diagnosis = Diagnosis(
        JOB, Category.SCHEMA_DRIFT, 0.95, "drift", (message,), Criticality.CRITICAL, "high", (drift,)
    )
    store.append(INCIDENT, Diagnosed(diagnosis), 1)
    store.append(INCIDENT, Proposed(attempt=1, action=Action.ROLLBACK), 2)
    gate = load_handler("safety_gate")({"incident_id": INCIDENT}, context, deps=deps)
    assert gate["needs_approval"] and gate["approval"] == ["critical_job_low_risk_only"]
    return dict(load_handler("escalate")({"incident_id": INCIDENT, **gate}, context, deps=deps))


def test_the_approval_request_reaches_people_as_text_and_machines_as_json(aws, load_handler, lambda_context):
    result = held(aws["deps"], load_handler, lambda_context)
    assert (result["question"], result["await_human"], result["timeout_seconds"]) == ("approval", True, 900)
    (sqs_message,) = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
    body = json.loads(sqs_message["Body"])
    assert body["Subject"] == f"selfheal: approve rollback on {JOB}? (schema_drift)"
    machine = json.loads(body["Message"])  # the SQS subscriber gets the JSON part
    assert machine["question"] == "approval" and machine["approval_rules"] == ["critical_job_low_risk_only"]
    assert body["MessageAttributes"]["question"]["Value"] == "approval"
    assert body["MessageAttributes"]["incident_id"]["Value"] == INCIDENT
    assert SECRET not in sqs_message["Body"]  # redaction still applies to the message
    people = json.loads(publish_arguments(machine)["Message"])["email"]
    assert people.startswith(f"selfheal asks for your approval to run rollback on job {JOB}")
    assert f"selfheal incidents approve {INCIDENT}" in people and SECRET not in people


def test_the_wait_token_is_kept_verbatim_and_the_answer_checked(aws, load_handler, lambda_context):
    deps = aws["deps"]
    held(deps, load_handler, lambda_context)
    escalate = load_handler("escalate")
    token = "AAAAKgAAAAIAAAAAAAAAA" + "token/with+secret-looking=shape" * 20
    escalate(
        {
            "step": "request_answer",
            "incident_id": INCIDENT,
            "question": "approval",
            "task_token": token,
            "timeout_seconds": 900,
        },
        lambda_context,
        deps=deps,
    )
    request = aws["store"].load(INCIDENT)[-1].event
    assert isinstance(request, AnswerRequested) and request.task_token == token
    answer = {
        "decision": "resolved",
        "category": "type_mismatch",
        "action": "rollback",
        "note": f"restored it, key {SECRET}",
        "answered_by": "ana",
    }
    human = escalate(
        {"step": "record_answer", "incident_id": INCIDENT, "answer": answer}, lambda_context, deps=deps
    )
    assert (human["decision"], human["category"], human["action"], human["by"]) == (
        "resolved",
        "type_mismatch",
        "rollback",
        "ana",
    )
    answered = aws["store"].load(INCIDENT)[-1].event
    assert isinstance(answered, Answered) and SECRET not in answered.notes
    (key,) = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="answers/")["Contents"]]
    line = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert key.startswith(f"answers/{INCIDENT}/")
    assert (line["category"], line["source"]) == ("type_mismatch", f"human:{INCIDENT}")
    assert "cannot resolve 'amount'" in line["message"] and SECRET not in line["message"]


def test_an_invalid_answer_is_a_rejection_not_a_failure(aws, load_handler, lambda_context):
    deps = aws["deps"]
    held(deps, load_handler, lambda_context)
    escalate = load_handler("escalate")
    escalate(
        {
            "step": "request_answer",
            "incident_id": INCIDENT,
            "question": "approval",
            "task_token": "t",
            "timeout_seconds": 900,
        },
        lambda_context,
        deps=deps,
    )
    human = escalate(
        {"step": "record_answer", "incident_id": INCIDENT, "answer": ["approve"]}, lambda_context, deps=deps
    )
    assert human["decision"] == "reject" and "must be a JSON object" in human["notes"]
    learn = load_handler("learn")({"incident_id": INCIDENT, "human": human}, lambda_context, deps=deps)
    assert learn["outcome"] == "escalated"
