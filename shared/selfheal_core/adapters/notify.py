"""SNS notifier and SSM-backed runtime settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
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
    """Mode and kill switch live in one JSON SSM parameter, so flipping them needs no deployment."""

    def __init__(self, parameter_name: str, client: Any | None = None) -> None:
        self.parameter_name = parameter_name
        self.client = client or boto3.client("ssm")

    def load(self) -> Mapping[str, Any]:
        try:
            value = self.client.get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return {}
            raise_if_transient(error, f"SSM parameter {self.parameter_name}")
            raise
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
