from __future__ import annotations

import pytest
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.rules import RULEBOOK, rule_action
from selfheal_core.domain.safety import SafetyGate
from selfheal_core.vocabulary import HUMAN_ONLY_CATEGORIES, Action, Category


def ctx(category: Category, **kw) -> DecisionContext:
    return DecisionContext(job_name="j", category=category, **kw)


def test_rulebook_covers_every_category():
    assert set(RULEBOOK) == set(Category)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (Category.TRANSIENT_NETWORK, Action.RETRY),
        (Category.THROTTLING, Action.BACKOFF_RETRY),
        (Category.SOURCE_NOT_READY, Action.BACKOFF_RETRY),
        (Category.RESOURCE_EXHAUSTION, Action.BACKOFF_RETRY),
        (Category.DATA_QUALITY, Action.QUARANTINE),
        (Category.PERMISSION, Action.ESCALATE),
        (Category.CODE_ERROR, Action.ESCALATE),
        (Category.UNKNOWN, Action.ESCALATE),
    ],
)
def test_category_action(category, expected):
    assert rule_action(ctx(category)) is expected


@pytest.mark.parametrize("category", [Category.SCHEMA_DRIFT, Category.TYPE_MISMATCH])
def test_drift_categories_roll_back_only_with_drift_evidence(category):
    assert rule_action(ctx(category, drift=True)) is Action.ROLLBACK
    assert rule_action(ctx(category, drift=False)) is Action.ESCALATE


def test_no_second_rollback_after_a_rollback():
    assert (
        rule_action(ctx(Category.SCHEMA_DRIFT, drift=True, previous_action=Action.ROLLBACK))
        is Action.ESCALATE
    )
    # a previous rollback does not change a non-rollback recommendation
    assert rule_action(ctx(Category.THROTTLING, previous_action=Action.ROLLBACK)) is Action.BACKOFF_RETRY


def test_human_only_categories_are_escalated_by_the_rulebook_too():
    for category in HUMAN_ONLY_CATEGORIES:
        assert RULEBOOK[category] is Action.ESCALATE


@pytest.mark.parametrize("category", list(Category))
def test_rulebook_action_passes_the_gate_on_a_clean_context(category):
    fraction = 0.05 if category is Category.DATA_QUALITY else None
    context = ctx(
        category,
        confidence=0.9,
        drift=True,
        rollback_available=True,
        bad_record_fraction=fraction,
        quarantine_capable=True,
    )
    action = rule_action(context)
    assert SafetyGate().review(action, context).action is action
