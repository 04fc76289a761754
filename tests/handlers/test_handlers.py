"""Handlers wired to real adapters over moto: the boto3 calls, the event shapes and the error contract."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from fakes import ACCOUNT_ID, EVENTS_DIR, REGION, make_config
from moto import mock_aws
from selfheal_core.adapters.cloudwatch_logs import ERROR_GROUP, CloudWatchLogReader
from selfheal_core.adapters.glue import GlueAdapter
from selfheal_core.adapters.notify import SnsNotifier, SsmSettingsSource
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed, Gated, Opened, Proposed
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime.wiring import Dependencies
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category, Criticality

JOB = "inventory-snapshot"
WRITE_PREFIXES = ("start_", "update_", "create_", "delete_", "put_", "batch_")


class ReadOnlyGlue:
    """A glue client proxy that records every call and fails on any write API."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in ("get_paginator", "can_paginate"):
            return attribute
        if name.startswith(WRITE_PREFIXES):
            raise AssertionError(f"Diagnose called the Glue write API {name}")

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return call


class World:
    def __init__(self, tmp_path) -> None:
        self.glue = boto3.client("glue", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.topic = self.sns.create_topic(Name="selfheal-escalations")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.parameter = "/selfheal/settings"
        self.store = SqliteEventStore(tmp_path / "events.sqlite3")
        self.qtable = SqliteQTableStore(tmp_path / "q.sqlite3")
        self.glue.create_database(DatabaseInput={"Name": "retail"})
        self.glue.create_table(DatabaseName="retail", TableInput=_table([("sku", "string"), ("qty", "int")]))
        self.glue.create_job(
            Name=JOB,
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/inventory.py"},
            DefaultArguments={"--selfheal-tables": "retail.stock"},
            Tags={"criticality": "low", "downstream_consumers": "0"},
        )
        # the run that "failed" (moto runs always succeed; Diagnose reads its error from the log)
        self.run_id = self.glue.start_job_run(JobName=JOB, Arguments={"--day": "2026-11-26"})["JobRunId"]

    def deps(self, glue_client: Any | None = None, **env: str) -> Dependencies:
        return Dependencies(
            config=make_config(**env),
            store=self.store,
            qtable=self.qtable,
            glue=GlueAdapter(client=glue_client or self.glue, account_id=ACCOUNT_ID),
            logs=CloudWatchLogReader(client=self.logs, max_seconds=5),
            notifier=SnsNotifier(self.topic, client=self.sns),
            settings=SsmSettingsSource(self.parameter, client=self.ssm),
        )

    def drift_the_table(self) -> None:
        self.glue.update_table(
            DatabaseName="retail", TableInput=_table([("sku", "string"), ("qty", "string")])
        )

    def write_error_log(self, text: str) -> None:
        self.logs.create_log_group(logGroupName=ERROR_GROUP)
        self.logs.create_log_stream(logGroupName=ERROR_GROUP, logStreamName=self.run_id)
        now = int(time.time() * 1000)  # CloudWatch rejects events older than 14 days
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(text.splitlines())]
        self.logs.put_log_events(logGroupName=ERROR_GROUP, logStreamName=self.run_id, logEvents=events)

    def event(self, **detail: Any) -> dict[str, Any]:
        event = json.loads((EVENTS_DIR / "glue" / "type_mismatch.json").read_text())
        event["detail"].update({"jobName": JOB, "jobRunId": self.run_id, "message": "", **detail})
        return event

    def inbox(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def _table(columns: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Name": "stock",
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in columns]},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
    }


@pytest.fixture
def world(aws_env, tmp_path) -> Iterator[World]:
    with mock_aws():
        world = World(tmp_path)
        yield world
        world.store.close()
        world.qtable.close()


def open_incident(world: World, category: str, proposal: str, **diagnosis: Any) -> str:
    incident = incident_id_for(JOB, world.run_id)
    world.store.open(incident, Opened(JOB, world.run_id, "ex-1"))
    diagnosed = Diagnosis(JOB, Category(category), 0.95, None, (), Criticality.LOW, "low")
    world.store.append(incident, Diagnosed(replace(diagnosed, **diagnosis)), 1)
    world.store.append(incident, Proposed(attempt=1, action=Action(proposal)), 2)
    return incident


def diagnosed_event(world: World, incident_id: str) -> Diagnosed:
    return next(r.event for r in world.store.load(incident_id) if isinstance(r.event, Diagnosed))


LOG = (
    "2026-11-26 02:14:01,001 INFO [main] GlueContext: starting\n"
    "An error occurred while calling o143.pyWriteDynamicFrame. Parquet column cannot be converted in file "
    "s3://retail/stock/part-00003.snappy.parquet. Column: [qty], Expected: int, Found: BINARY"
)


def test_diagnose_reads_the_error_log_and_catalog_drift(world, load_handler, lambda_context):
    world.write_error_log(LOG)
    world.drift_the_table()
    handler = load_handler("diagnose")
    result = handler({"event": world.event(), "execution_id": "ex-1"}, lambda_context, deps=world.deps())
    assert result["incident_id"] == incident_id_for(JOB, world.run_id) and result["duplicate"] is False
    assert result["category"] == "type_mismatch"
    assert result["drift"] is True and result["risk"] == "low"
    diagnosed = diagnosed_event(world, result["incident_id"])
    assert diagnosed.log_sources == (f"{ERROR_GROUP}:{world.run_id}",)
    report = diagnosed.diagnosis.drift[0]
    assert report.table == "retail.stock" and report.type_changed == (("qty", "int", "string"),)
    assert (report.baseline_version, report.current_version) == ("1", "2")


def test_diagnose_without_a_log_group_still_diagnoses(world, load_handler, lambda_context):
    handler = load_handler("diagnose")
    event = world.event(message="java.net.SocketTimeoutException: Read timed out")
    result = handler({"event": event, "execution_id": "ex-1"}, lambda_context, deps=world.deps())
    assert result["category"] == "transient_network" and result["drift"] is False
    record = world.store.load(result["incident_id"])[1]
    assert isinstance(record.event, Diagnosed)
    assert f"log group {ERROR_GROUP} does not exist" in record.event.diagnosis.notes


def test_diagnose_never_calls_a_glue_write_api(world, load_handler, lambda_context):
    world.write_error_log(LOG)
    world.drift_the_table()
    proxy = ReadOnlyGlue(world.glue)
    result = load_handler("diagnose")(
        {"event": world.event(), "execution_id": "ex-1"}, lambda_context, deps=world.deps(glue_client=proxy)
    )
    assert result["drift"] is True
    assert {"get_job", "get_tags", "get_job_run", "get_job_runs"} <= set(proxy.calls)
    assert not [c for c in proxy.calls if c.startswith(WRITE_PREFIXES)]


def test_diagnose_reads_each_glue_fact_once(world, load_handler, lambda_context):
    """GetJob, GetTags and GetJobRun once per Diagnose (counted on the boto3 client), though the step asks
    about the job and the failed run more than once (issue 11: one call per fact)."""
    world.write_error_log(LOG)
    world.drift_the_table()
    proxy = ReadOnlyGlue(world.glue)
    load_handler("diagnose")(
        {"event": world.event(), "execution_id": "ex-1"}, lambda_context, deps=world.deps(glue_client=proxy)
    )
    counts = {
        name: proxy.calls.count(name) for name in ("get_job", "get_tags", "get_job_run", "get_job_runs")
    }
    assert counts == {"get_job": 1, "get_tags": 1, "get_job_run": 1, "get_job_runs": 1}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["event"]["detail"].pop("jobRunId"), "jobRunId"),
        (lambda e: e["event"]["detail"].pop("jobName"), "jobName"),
        (lambda e: e.pop("execution_id"), "execution_id"),
        (lambda e: e["event"].update(source="aws.s3"), "source"),
    ],
)
def test_invalid_diagnose_input_names_the_field(world, load_handler, lambda_context, mutate, field):
    payload = {"event": world.event(), "execution_id": "ex-1"}
    mutate(payload)
    with pytest.raises(InvalidInputError, match=field):
        load_handler("diagnose")(payload, lambda_context, deps=world.deps())
    assert world.store.load(incident_id_for(JOB, world.run_id)) == []


# Regression: the schema accepted Data Quality events that trigger_from_event then hit with a KeyError.
def test_a_data_quality_event_opens_the_same_incident_as_the_runs_failure(
    world, load_handler, lambda_context
):
    event = world.event()
    event["source"] = "aws.glue-dataquality"
    event["detail-type"] = "Data Quality Evaluation Results Available"
    event["detail"] = {
        "context": {"contextType": "GLUE_JOB", "jobId": world.run_id, "jobName": JOB},
        "resultID": "dqresult-1",
        "rulesetNames": ["stock_rules"],
        "state": "FAILED",
        "score": 0.5,
        "rulesSucceeded": 1,
        "rulesFailed": 1,
        "rulesSkipped": 0,
    }
    handler = load_handler("diagnose")
    result = handler({"event": event, "execution_id": "ex-dq"}, lambda_context, deps=world.deps())
    assert result["job_name"] == JOB and result["job_run_id"] == world.run_id
    assert result["incident_id"] == incident_id_for(JOB, world.run_id) and result["duplicate"] is False
    failure = handler(
        {"event": world.event(), "execution_id": "ex-failed"}, lambda_context, deps=world.deps()
    )
    assert failure["incident_id"] == result["incident_id"] and failure["duplicate"] is True


def test_execute_starts_a_real_run_with_the_failed_runs_arguments(world, load_handler, lambda_context):
    incident = open_incident(world, "transient_network", "retry")
    gated = Gated(attempt=1, proposed=Action.RETRY, action=Action.RETRY)
    world.store.append(incident, gated, load_state(world.store, incident).next_seq)
    result = load_handler("execute")({"incident_id": incident}, lambda_context, deps=world.deps())
    assert result["awaiting_run"] is True and result["job_run_id"] != world.run_id
    run = world.glue.get_job_run(JobName=JOB, RunId=result["job_run_id"])["JobRun"]
    assert run["Arguments"]["--day"] == "2026-11-26"
    assert run["Arguments"]["--selfheal-attempt"] == f"{incident}#1"
    assert run["Arguments"]["--selfheal-action"] == "retry"
    runs = world.glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert len(runs) == 2
    again = load_handler("execute")({"incident_id": incident}, lambda_context, deps=world.deps())
    assert again["job_run_id"] == result["job_run_id"]
    assert len(world.glue.get_job_runs(JobName=JOB)["JobRuns"]) == 2
    assert [r.kind for r in world.store.load(incident)].count("executed") == 1


def test_escalate_publishes_one_sns_message_with_the_reason(world, load_handler, lambda_context):
    state = {**world.event(), "error": {"Error": "RemediationError", "Cause": "Glue refused"}}
    result = load_handler("escalate")(state, lambda_context, deps=world.deps())
    messages = world.inbox()
    assert len(messages) == 1
    assert messages[0]["reason"] == result["reason"]
    assert "RemediationError" in result["reason"] and "Glue refused" in result["reason"]
    assert messages[0]["job_run_id"] == world.run_id
    assert messages[0]["links"]["glue_run"].startswith(f"https://{REGION}.console.aws.amazon.com/")


def test_safety_gate_reads_the_kill_switch_from_ssm(world, load_handler, lambda_context):
    world.ssm.put_parameter(
        Name=world.parameter, Type="String", Value=json.dumps({"mode": "auto", "kill_switch": True})
    )
    incident = open_incident(world, "transient_network", "retry")
    result = load_handler("safety_gate")({"incident_id": incident}, lambda_context, deps=world.deps())
    assert result["action"] == "escalate" and result["proposed"] == "retry"
    assert result["rules_fired"][0] == "kill_switch"
    gated = world.store.load(incident)[-1]
    assert gated.kind == "gated" and isinstance(gated.event, Gated)
    assert gated.event.kill_switch is True and gated.event.action is Action.ESCALATE


@pytest.mark.parametrize("allowed", [True, False])
def test_safety_gate_reads_whether_causes_from_facts_may_be_approved(
    world, load_handler, lambda_context, allowed
):
    settings = {"mode": "auto", "kill_switch": False, "approve_causes_from_facts": allowed}
    world.ssm.put_parameter(Name=world.parameter, Type="String", Value=json.dumps(settings))
    incident = open_incident(world, "transient_network", "retry", confidence=0.6, cause_from_facts=True)
    deps = world.deps(APPROVALS="true")
    result = load_handler("safety_gate")({"incident_id": incident}, lambda_context, deps=deps)
    if allowed:
        assert (result["action"], result["needs_approval"]) == ("retry", True)
        assert result["approval"] == ["cause_from_facts"]
    else:
        assert (result["action"], result["needs_approval"]) == ("escalate", False)
        assert result["rules_fired"] == ["cause_from_facts"]


def test_safety_gate_without_the_parameter_uses_the_deployed_settings(world, load_handler, lambda_context):
    incident = open_incident(world, "transient_network", "retry")
    result = load_handler("safety_gate")({"incident_id": incident}, lambda_context, deps=world.deps())
    assert result["action"] == "retry" and result["rules_fired"] == []
