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


class SnsNotifier:
    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self.client = client or boto3.client("sns")

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        try:
            response = self.client.publish(
                TopicArn=self.topic_arn,
                Subject=subject[:100],
                Message=json.dumps(message, indent=2, default=str),
            )
        except ClientError as error:
            raise_if_transient(error, "SNS publish")
            raise
        return str(response["MessageId"])


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
