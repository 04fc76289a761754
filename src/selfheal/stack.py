"""A deployed stack's resource names, for the commands that take ``--stack NAME``.

Read from CloudFormation (``DescribeStackResources``: the physical ids of the template's logical ids), so
that an operator names the stack and nothing else. Where CloudFormation cannot be read (a role without
``cloudformation:DescribeStackResources``), the environment names them instead and CloudFormation is not
called: ``SELFHEAL_EVENTS_TABLE`` (the stack output ``IncidentEventsTableName``) and, optionally,
``SELFHEAL_STATE_MACHINE_ARN`` (output ``StateMachineArn``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from selfheal.errors import UsageError

EVENTS_TABLE_ENV = "SELFHEAL_EVENTS_TABLE"
STATE_MACHINE_ENV = "SELFHEAL_STATE_MACHINE_ARN"
EVENTS_TABLE_ID = "IncidentEventsTable"
STATE_MACHINE_ID = "IncidentStateMachine"


@dataclass(frozen=True)
class StackNames:
    stack: str
    events_table: str
    state_machine_arn: str | None = None


def resolve(stack: str, cloudformation: Any | None = None) -> StackNames:
    table = os.environ.get(EVENTS_TABLE_ENV)
    if table:
        return StackNames(stack, table, os.environ.get(STATE_MACHINE_ENV) or None)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = cloudformation or boto3.client("cloudformation")
        resources = client.describe_stack_resources(StackName=stack)["StackResources"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise UsageError(
            f"cannot read stack {stack!r} from CloudFormation: {message} (or set {EVENTS_TABLE_ENV})"
        ) from None
    except BotoCoreError as error:
        raise UsageError(f"cannot reach CloudFormation for stack {stack!r}: {error}") from None
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources}
    if not physical.get(EVENTS_TABLE_ID):
        raise UsageError(f"stack {stack!r} has no {EVENTS_TABLE_ID}: is it a selfheal stack?")
    return StackNames(stack, str(physical[EVENTS_TABLE_ID]), physical.get(STATE_MACHINE_ID) or None)


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
