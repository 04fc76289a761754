"""Step Functions: the status of an incident's execution (DescribeExecution), for the Sweeper."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from selfheal_core.adapters.throttling import raise_if_transient


class StepFunctionsExecutions:
    def __init__(self, client: Any | None = None) -> None:
        self.client = client or boto3.client("stepfunctions")

    def status(self, execution_arn: str) -> str | None:
        """The execution's status, or None when Step Functions no longer knows it (it vanished, or its
        history expired 90 days after it ended)."""
        try:
            return str(self.client.describe_execution(executionArn=execution_arn)["status"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise_if_transient(error, f"describe execution {execution_arn}")
            raise
