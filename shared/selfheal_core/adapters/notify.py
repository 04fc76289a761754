"""SNS notifier and SSM-backed runtime settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from selfheal_core.adapters.throttling import raise_if_transient

# SNS delivers a JSON-structured message per protocol: people (email, SMS) read the plain-text body,
# machines (SQS, Lambda, HTTPS, Firehose) get the JSON. One publish stays within SNS's 256 KB.
MACHINE_PROTOCOLS = ("sqs", "lambda", "https", "http", "firehose")
MAX_PUBLISH_BYTES = 250_000
# Message attributes a subscription can filter on (e.g. only approval requests to the on-call pager).
ATTRIBUTES = ("incident_id", "job_name", "category", "question")


class SnsNotifier:
    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self.client = client or boto3.client("sns")

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        try:
            response = self.client.publish(
                TopicArn=self.topic_arn, Subject=subject[:100], **publish_arguments(message)
            )
        except ClientError as error:
            raise_if_transient(error, "SNS publish")
            raise
        return str(response["MessageId"])


def publish_arguments(message: Mapping[str, Any]) -> dict[str, Any]:
    """``Message`` (and ``MessageStructure``, ``MessageAttributes``) for one escalation: the plain text
    for people when the message has one, the JSON for machines."""
    machine = json.dumps(message, indent=2, default=str)
    arguments: dict[str, Any] = {"Message": machine}
    text = message.get("text")
    if isinstance(text, str) and text:
        structured = json.dumps(
            {"default": text, "email": text, "sms": text[:1400], **dict.fromkeys(MACHINE_PROTOCOLS, machine)}
        )
        if len(structured.encode()) <= MAX_PUBLISH_BYTES:
            arguments = {"Message": structured, "MessageStructure": "json"}
    attributes = {
        name: {"DataType": "String", "StringValue": str(message[name])[:256]}
        for name in ATTRIBUTES
        if message.get(name) not in (None, "")
    }
    if attributes:
        arguments["MessageAttributes"] = attributes
    return arguments


class SsmSettingsSource:
    """Mode, kill switch and operator signatures live in JSON SSM parameters, so changing them needs no
    deployment. Read through Powertools Parameters and cached per Lambda container for ``max_age``
    seconds: a flipped kill switch takes effect within that time, without a GetParameter per step."""

    def __init__(self, parameter_name: str, client: Any | None = None, max_age: int = 60) -> None:
        self.parameter_name = parameter_name
        self.max_age = max_age
        self.provider = SSMProvider(boto3_client=client or boto3.client("ssm"))

    def load(self) -> Mapping[str, Any]:
        try:
            value = self.provider.get(self.parameter_name, max_age=self.max_age)
        except GetParameterError as error:
            cause = error.__context__
            if isinstance(cause, ClientError):
                if cause.response.get("Error", {}).get("Code") == "ParameterNotFound":
                    return {}
                raise_if_transient(cause, f"SSM parameter {self.parameter_name}")
            raise
        loaded = json.loads(str(value))
        return loaded if isinstance(loaded, dict) else {}
