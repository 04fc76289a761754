"""The hand-written rulebook: what an experienced on-call engineer would do per failure category.

It is the baseline the learned policy must beat, and the learner's prior.
"""

from __future__ import annotations

from selfheal_core.domain.context import DecisionContext
from selfheal_core.vocabulary import Action, Category

RULEBOOK: dict[Category, Action] = {
    Category.TRANSIENT_NETWORK: Action.RETRY,
    Category.THROTTLING: Action.BACKOFF_RETRY,
    Category.SOURCE_NOT_READY: Action.BACKOFF_RETRY,
    Category.SCHEMA_DRIFT: Action.ROLLBACK,
    Category.TYPE_MISMATCH: Action.ROLLBACK,
    Category.DATA_QUALITY: Action.QUARANTINE,
    Category.RESOURCE_EXHAUSTION: Action.BACKOFF_RETRY,
    Category.PERMISSION: Action.ESCALATE,
    Category.CODE_ERROR: Action.ESCALATE,
    Category.UNKNOWN: Action.ESCALATE,
}


def rule_action(ctx: DecisionContext) -> Action:
    """Rule: the category's action; a type mismatch without drift evidence is not a rollback case."""
    action = RULEBOOK[ctx.category]
    if action is Action.ROLLBACK and not ctx.drift:
        return Action.ESCALATE
    if ctx.previous_action is Action.ROLLBACK and action is Action.ROLLBACK:
        # The catalog is already back on the baseline; rolling back again changes nothing.
        return Action.ESCALATE
    return action
