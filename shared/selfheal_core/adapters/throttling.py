"""AWS errors that mean "try again shortly" become TransientDependencyError, which the ASL retries.

The codes are the ``Error.Code`` values the services return (what ``ClientError.response`` holds), not
the botocore exception class names: SNS answers ``Throttled``, ``InternalError`` and ``KMSThrottling``
(botocore's classes for them are ``ThrottledException``, ``InternalErrorException`` and
``KMSThrottlingException``, names no response carries). Any 5xx answer is transient as well, and so is a
request whose response never arrived (a read timeout or a dropped connection): the retried step finds
what the first try did from the incident's log (and Glue runs by their ``--selfheal-attempt`` marker).
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from selfheal_core.errors import TransientDependencyError

TRANSIENT_CODES = frozenset(
    {
        # throttling
        "ThrottlingException",  # Glue, CloudWatch Logs, SSM, DynamoDB (control plane), Step Functions
        "Throttling",
        "Throttled",  # SNS
        "KMSThrottling",  # SNS, when the topic's KMS key throttles
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",  # DynamoDB
        "RequestLimitExceeded",  # DynamoDB
        "SlowDown",  # S3
        # the service briefly failed (these come with a 5xx status as well)
        "InternalServerError",  # DynamoDB, SSM
        "InternalError",  # SNS, S3
        "InternalFailure",
        "InternalServiceException",  # Glue
        "ServiceUnavailable",  # S3
        "ServiceUnavailableException",  # CloudWatch Logs
        "RequestTimeout",  # S3
    }
)
# The request may or may not have been processed; only its response is missing.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    ReadTimeoutError,
    ConnectTimeoutError,
    ConnectionClosedError,
    EndpointConnectionError,
)


def is_transient(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in TRANSIENT_CODES or status >= 500


def raise_if_transient(error: ClientError, what: str) -> None:
    if is_transient(error):
        code = error.response.get("Error", {}).get("Code", "") or "server error"
        raise TransientDependencyError(f"{what}: {code}") from error


def transient_from(error: BaseException) -> TransientDependencyError | None:
    """The TransientDependencyError an unhandled error stands for, if any: a transient ClientError or a
    missing response, found on the error itself or on what caused it (libraries wrap them, e.g. Powertools
    Parameters raises GetParameterError from the ClientError)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if isinstance(current, TransientDependencyError):
            return None  # already the right name
        if isinstance(current, ClientError) and is_transient(current):
            code = current.response.get("Error", {}).get("Code", "") or "server error"
            return TransientDependencyError(f"{current.operation_name}: {code}")
        if isinstance(current, CONNECTION_ERRORS):
            return TransientDependencyError(f"no response: {current}")
        current = current.__cause__ or current.__context__
    return None
