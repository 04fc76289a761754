"""The answer link function on moto: a real ``.waitForTaskToken`` wait answered by one click.

Secrets Manager holds the key, DynamoDB the event log and the used links, and a moto state machine
waits on an SQS ``sendMessage.waitForTaskToken`` task whose token is in the incident's log as
``answer_requested``: the link's SendTaskSuccess ends that wait with the contract's answer payload.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from fakes import EVENTS_DIR, REGION, create_events_table, load_handler_module, make_config, make_deps
from moto import mock_aws
from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore
from selfheal_core.adapters.links import DynamoDbLinkLedger, SecretKey
from selfheal_core.adapters.stepfunctions import StepFunctionsTasks
from selfheal_core.domain.events import Answered, AnswerRequested, Opened
from selfheal_core.domain.signed_links import UrlLinkSigner, verify
from selfheal_core.link_ports import LinkDependencies
from selfheal_core.runtime import wiring
from selfheal_core.vocabulary import Action

BASE_URL = "https://abc123.lambda-url.us-east-1.on.aws/"
SECRET = "selfheal/test/answer-links"
EVENTS = "events"
LEDGER = "answer-links"
INCIDENT = "inc-00000000000000aa"
WAIT = {
    "StartAt": "Await Approval",
    "States": {
        "Await Approval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "${Queue}", "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 120,
            "End": True,
        }
    },
}


@dataclass
class Stack:
    sfn: Any
    store: DynamoDbEventStore
    deps: Any
    signer: UrlLinkSigner
    execution: str
    token: str
    handler: Callable[..., dict[str, Any]]
    context: Any

    def status(self) -> str:
        return str(self.sfn.describe_execution(executionArn=self.execution)["status"])

    def finish(self) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while self.status() == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.02)
        described = self.sfn.describe_execution(executionArn=self.execution)
        assert described["status"] == "SUCCEEDED", described
        return dict(json.loads(described["output"]))

    def ask(self, expires_at: str, question: str = "approval") -> None:
        seq = len(self.store.load(INCIDENT))
        request = AnswerRequested(question, Action.ROLLBACK, ("autonomy:approve",), self.token, expires_at)
        self.store.append(INCIDENT, request, seq)

    def get(self, url: str) -> dict[str, Any]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        return self.handler(_event("GET", query=query), self.context, deps=self.deps)

    def post(self, url: str, encode: bool = False) -> dict[str, Any]:
        body = urlsplit(url).query
        if encode:
            body = base64.b64encode(body.encode()).decode()
        return self.handler(_event("POST", body=body, encoded=encode), self.context, deps=self.deps)


def _event(
    method: str, query: Mapping[str, str] | None = None, body: str | None = None, encoded: bool = False
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/",
        "queryStringParameters": dict(query or {}),
        "requestContext": {"requestId": "r-1", "http": {"method": method, "sourceIp": "198.51.100.7"}},
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": body,
        "isBase64Encoded": encoded,
    }


def _later(hours: float = 1) -> str:
    return (
        (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@pytest.fixture
def stack(aws_env: None, load_handler: Any, lambda_context: Any) -> Iterator[Stack]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name=SECRET, SecretString="s" * 64)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_events_table(dynamodb, EVENTS)
        dynamodb.create_table(
            TableName=LEDGER,
            KeySchema=[{"AttributeName": "nonce", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "nonce", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = json.dumps(WAIT).replace("${Queue}", queue)
        machine = sfn.create_state_machine(
            name="incidents", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        token = ""
        # moto's interpreter runs the execution in a thread: poll with pauses, so that this loop does not
        # hold the GIL and moto's lock against it (a tight loop left it unstarted on a busy machine).
        deadline = time.monotonic() + 30
        while not token and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []):
                token = json.loads(message["Body"])["token"]
            if not token:
                time.sleep(0.02)
        assert token, "the wait never started"

        store = DynamoDbEventStore(EVENTS, client=dynamodb)
        store.open(INCIDENT, Opened("orders-etl", "jr_1", execution))
        app = load_handler_module("answer_link")
        key = SecretKey(SECRET, client=secrets, max_age=0)
        deps = LinkDependencies(
            key=key,
            store=store,
            ledger=DynamoDbLinkLedger(LEDGER, client=dynamodb),
            answers=StepFunctionsTasks(client=sfn),
        )
        stack = Stack(
            sfn,
            store,
            deps,
            UrlLinkSigner(BASE_URL, key),
            execution,
            token,
            app.lambda_handler,
            lambda_context,
        )
        try:
            yield stack
        finally:
            if stack.status() == "RUNNING":
                sfn.stop_execution(executionArn=execution)


def test_get_only_confirms_and_post_answers_the_waiting_task(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    links = stack.signer.links_for(INCIDENT, expires)
    assert set(links) == {"approve", "reject"} and all(
        url.startswith(BASE_URL + "?t=") for url in links.values()
    )

    page = stack.get(links["approve"])
    assert page["statusCode"] == 200
    assert '<form method="post">' in page["body"] and "rollback" in page["body"]
    assert "orders-etl" in page["body"]
    assert page["headers"]["Referrer-Policy"] == "no-referrer"
    time.sleep(0.1)
    assert stack.status() == "RUNNING", "a GET (a mail scanner's prefetch) must not answer"

    done = stack.post(links["approve"])
    assert done["statusCode"] == 200 and "Approved" in done["body"]
    assert stack.finish() == {
        "decision": "approve",
        "category": None,
        "action": None,
        "note": None,
        "answered_by": "link",
    }


def test_a_link_acts_once_and_the_other_link_finds_the_wait_over(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    links = stack.signer.links_for(INCIDENT, expires)
    assert stack.post(links["reject"], encode=True)["statusCode"] == 200
    assert stack.finish()["decision"] == "reject"

    again = stack.post(links["reject"])
    assert again["statusCode"] == 410 and "already used" in again["body"]
    other = stack.post(links["approve"])
    assert other["statusCode"] == 410 and "no longer waits" in other["body"]


def test_an_answered_question_refuses_its_links(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    stack.store.append(INCIDENT, Answered("reject", by="cli"), 2)
    links = stack.signer.links_for(INCIDENT, expires)
    for page in (stack.get(links["approve"]), stack.post(links["approve"])):
        assert page["statusCode"] == 410 and "already answered by cli: reject" in page["body"]
    assert stack.status() == "RUNNING"


def test_an_expired_link_is_refused_before_anything_is_read(stack: Stack) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    stack.ask(past)
    links = stack.signer.links_for(INCIDENT, past)
    for page in (stack.get(links["approve"]), stack.post(links["approve"])):
        assert page["statusCode"] == 410 and "expired" in page["body"]
    assert stack.status() == "RUNNING"


def test_tampered_and_malformed_links_are_refused_with_a_page(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    url = stack.signer.links_for(INCIDENT, expires)["approve"]
    token = parse_qs(urlsplit(url).query)["t"][0]
    payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    tampered = stack.post(f"{BASE_URL}?t={payload}.{flipped}")
    assert tampered["statusCode"] == 403 and "not valid" in tampered["body"]
    for query in ("", "t=", "t=%3Cscript%3E", "t=" + "x" * 20000):
        page = stack.handler(_event("POST", body=query), stack.context, deps=stack.deps)
        assert page["statusCode"] == 400
        assert "<script>" not in page["body"] and "Traceback" not in page["body"]
    assert stack.status() == "RUNNING"


def test_a_link_for_an_earlier_question_does_not_answer_the_new_one(stack: Stack) -> None:
    first, second = _later(1), _later(2)  # each question has its own expiry
    stack.ask(first)
    stack.store.append(INCIDENT, Answered("timeout"), 2)
    stack.ask(second)
    old = stack.signer.links_for(INCIDENT, first)["approve"]
    page = stack.post(old)
    assert page["statusCode"] == 410 and "earlier question" in page["body"]
    stack.store.append(INCIDENT, Answered("resolved"), 4)
    third = _later(3)
    stack.ask(third, question="fix")
    page = stack.post(stack.signer.links_for(INCIDENT, third)["approve"])
    assert page["statusCode"] == 409 and "not an approval" in page["body"]
    assert stack.status() == "RUNNING"


def test_a_link_signed_just_before_the_wait_started_answers_it(stack: Stack) -> None:
    """Escalate signs the links, then the waiting task records its own (slightly later) expiry."""
    signed = datetime.now(UTC) + timedelta(hours=1)
    stack.ask((signed + timedelta(seconds=40)).isoformat(timespec="seconds").replace("+00:00", "Z"))
    url = stack.signer.links(INCIDENT, "approval", signed.isoformat().replace("+00:00", "Z"))["approve"]
    assert stack.post(url)["statusCode"] == 200
    assert stack.finish()["decision"] == "approve"
    assert stack.signer.links(INCIDENT, "fix", signed.isoformat()) == {}  # a fix needs words: no links


def test_an_answer_that_fails_to_send_frees_the_link_for_a_retry(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    url = stack.signer.links_for(INCIDENT, expires)["approve"]
    real = stack.deps.answers

    class Flaky:
        def succeed(self, task_token: str, output: Mapping[str, Any]) -> bool:
            raise ConnectionError("network down")

    stack.deps.answers = Flaky()
    failed = stack.post(url)
    assert failed["statusCode"] == 503 and "still works" in failed["body"]
    stack.deps.answers = real
    assert stack.post(url)["statusCode"] == 200
    assert stack.finish()["decision"] == "approve"


def test_a_missing_key_gives_an_error_page_not_a_traceback(stack: Stack) -> None:
    expires = _later()
    stack.ask(expires)
    url = stack.signer.links_for(INCIDENT, expires)["approve"]
    stack.deps.key = SecretKey("no-such-secret", client=boto3.client("secretsmanager", region_name=REGION))
    page = stack.post(url)
    assert page["statusCode"] == 500 and "Traceback" not in page["body"]
    assert stack.handler(_event("DELETE"), stack.context, deps=stack.deps)["statusCode"] in (405, 500)
    assert stack.status() == "RUNNING"


# --------------------------------------------------------------------------- Escalate's links


def _escalate_event() -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / "glue" / "type_mismatch.json").read_text())
    return {**event, "error": {"Error": "RemediationError", "Cause": "Glue refused"}}


@pytest.mark.parametrize("await_human", [True, False])
def test_an_escalation_asking_what_fixed_it_carries_no_approve_links(
    aws_env: None, load_handler: Any, lambda_context: Any, await_human: bool
) -> None:
    """The links answer an approval question only: a fix is answered with ``incidents resolve``."""
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(Name=SECRET, SecretString="s" * 64)["ARN"]
        env = {
            "ANSWER_LINK_URL": BASE_URL,
            "LINK_SECRET": arn,
            "AWAIT_HUMAN": str(await_human).lower(),
            "HUMAN_TIMEOUT_SECONDS": "3600",
        }
        signer = wiring._answer_links(make_config(**env))
        assert signer is not None
        deps = make_deps(env, answer_links=signer)
        load_handler("escalate")(_escalate_event(), lambda_context, deps=deps)
        ((_, message),) = deps.notifier.messages
        assert not message.get("answer_links")


def test_the_signer_gives_verifiable_links_for_an_approval_question(aws_env: None) -> None:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(Name=SECRET, SecretString="s" * 64)["ARN"]
        signer = wiring._answer_links(make_config(ANSWER_LINK_URL=BASE_URL, LINK_SECRET=arn))
        assert signer is not None
        expires = (datetime.now(UTC) + timedelta(seconds=3600)).isoformat(timespec="milliseconds")
        expires = expires.replace("+00:00", "Z")
        links = signer.links(INCIDENT, "approval", expires)
        assert set(links) == {"approve", "reject"}
        assert signer.links(INCIDENT, "fix", expires) == {}
        for decision, url in links.items():
            link = verify(parse_qs(urlsplit(url).query)["t"][0], b"s" * 64, datetime.now(UTC))
            assert (link.incident_id, link.decision) == (INCIDENT, decision)
            left = (link.expiry() - datetime.now(UTC)).total_seconds()
            assert 3500 < left <= 3600


def test_no_links_are_signed_without_both_the_url_and_the_secret() -> None:
    assert wiring._answer_links(make_config(ANSWER_LINK_URL=BASE_URL)) is None
    assert wiring._answer_links(make_config(LINK_SECRET="arn:aws:secretsmanager:x")) is None
