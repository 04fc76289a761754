"""The exact words selfheal speaks: failure categories, remediation actions, job criticality."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    TRANSIENT_NETWORK = "transient_network"
    THROTTLING = "throttling"
    SOURCE_NOT_READY = "source_not_ready"
    SCHEMA_DRIFT = "schema_drift"
    TYPE_MISMATCH = "type_mismatch"
    DATA_QUALITY = "data_quality"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    PERMISSION = "permission"
    CODE_ERROR = "code_error"
    UNKNOWN = "unknown"


class Action(StrEnum):
    RETRY = "retry"
    BACKOFF_RETRY = "backoff_retry"
    ROLLBACK = "rollback"
    QUARANTINE = "quarantine"
    ESCALATE = "escalate"
    LOG_AND_WAIT = "log_and_wait"


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


CATEGORIES: tuple[Category, ...] = tuple(Category)
ACTIONS: tuple[Action, ...] = tuple(Action)

# Categories where no automated action is ever taken: a human must read the code or the IAM policy.
HUMAN_ONLY_CATEGORIES: frozenset[Category] = frozenset(
    {Category.PERMISSION, Category.CODE_ERROR, Category.UNKNOWN}
)

# Actions that touch Glue (start a run or change the catalog); the others only notify or wait.
GLUE_ACTIONS: frozenset[Action] = frozenset(
    {Action.RETRY, Action.BACKOFF_RETRY, Action.ROLLBACK, Action.QUARANTINE}
)
