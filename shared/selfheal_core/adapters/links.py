"""AWS behind the one-click answers: the signing key (Secrets Manager), the ledger of used links
(DynamoDB); the answer itself goes through ``adapters.stepfunctions.StepFunctionsTasks``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from selfheal_core.adapters.clock import utc_now_iso
from selfheal_core.adapters.throttling import raise_if_transient
from selfheal_core.domain.signed_links import ReplayedLinkError, SignedLink
from selfheal_core.errors import ConfigurationError

# A used link is remembered this long after its expiry (DynamoDB TTL deletes it later still): past its
# expiry verification refuses it anyway, so the record only has to outlive that.
LEDGER_GRACE = timedelta(days=1)


class SecretKey:
    """The link signing key, a Secrets Manager secret read through Powertools Parameters and cached for
    ``max_age`` seconds per container (so a rotated key reaches every function within that time)."""

    def __init__(self, secret_id: str, client: Any | None = None, max_age: int = 300) -> None:
        if not secret_id:
            raise ConfigurationError("LINK_SECRET is required to sign or check answer links")
        self.secret_id = secret_id
        self.max_age = max_age
        self.provider = SecretsProvider(boto3_client=client or boto3.client("secretsmanager"))

    def __call__(self) -> bytes:
        try:
            value = self.provider.get(self.secret_id, max_age=self.max_age)
        except GetParameterError as error:
            cause = error.__context__
            if isinstance(cause, ClientError):
                raise_if_transient(cause, f"secret {self.secret_id}")
            raise ConfigurationError(f"the link signing key {self.secret_id} cannot be read") from error
        return str(value).encode()


class DynamoDbLinkLedger:
    """One item per used link, keyed by its nonce and written only if absent: of two clicks racing, one
    acts. Items carry ``expires`` (epoch seconds) for the table's TTL."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        if not table_name:
            raise ConfigurationError("ANSWER_LINKS_TABLE is required to check answer links")
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def claim(self, link: SignedLink, by: str) -> None:
        forget_at = int((link.expiry() + LEDGER_GRACE).timestamp())
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "nonce": {"S": link.nonce},
                    "incident_id": {"S": link.incident_id},
                    "decision": {"S": link.decision},
                    "used_at": {"S": utc_now_iso()},
                    "used_by": {"S": by[:200] or "unknown"},
                    "expires": {"N": str(forget_at)},
                },
                ConditionExpression="attribute_not_exists(nonce)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ReplayedLinkError("this link was already used: each link answers once") from None
            raise_if_transient(error, f"DynamoDB put into {self.table_name}")
            raise

    def release(self, link: SignedLink) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"nonce": {"S": link.nonce}})
