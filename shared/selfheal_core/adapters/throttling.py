"""AWS errors that mean "try again shortly" become TransientDependencyError, which the ASL retries."""

from __future__ import annotations

from botocore.exceptions import ClientError

from selfheal_core.errors import TransientDependencyError

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalErrorException",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)


def raise_if_transient(error: ClientError, what: str) -> None:
    code = error.response.get("Error", {}).get("Code", "")
    if code in TRANSIENT_CODES:
        raise TransientDependencyError(f"{what}: {code}") from error
