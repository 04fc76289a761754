"""Step Functions: the status of an incident's execution (DescribeExecution), for the Sweeper, and the
release of a ``.waitForTaskToken`` wait (SendTaskSuccess): a run's end (RunFinished) and a human's answer
(the answer link function, ``selfheal incidents approve|reject|resolve --stack``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
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


# The wait is over: released already, timed out, or its execution ended. A late or repeated release.
_STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class StepFunctionsTasks:
    """Releases a ``.waitForTaskToken`` wait (``ports.TaskRelease``)."""

    def __init__(self, client: Any | None = None) -> None:
        self.client = client or boto3.client("stepfunctions")

    def succeed(self, task_token: str, output: Mapping[str, Any]) -> bool:
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(dict(output), default=str))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _STALE_TOKEN_CODES:
                return False
            raise_if_transient(error, "send task success")
            raise
