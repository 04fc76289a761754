"""A deployed selfheal stack, found by its CloudFormation name: the physical names of its resources."""

from __future__ import annotations

from typing import Any

from selfheal.errors import UsageError


def stack_resource(stack: str, logical_id: str, client: Any | None = None) -> str:
    """The physical id of ``logical_id`` in ``stack`` (a table name, a parameter name, an ARN)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    cloudformation = client or boto3.client("cloudformation")
    try:
        detail = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise UsageError(f"stack {stack!r}: cannot find its {logical_id}: {message}") from None
    except BotoCoreError as error:
        raise UsageError(f"stack {stack!r}: {error}") from None
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])
