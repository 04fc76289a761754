"""Invariants of the Q-learner as the simulator and the Learn Lambda use it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.learning import QUpdate
from selfheal_core.domain.qlearning import (
    ACTION_INDEX,
    LearnerSettings,
    QEntry,
    QLearningPolicy,
    QTable,
    Transition,
    job_state_key,
    state_key,
)
from selfheal_core.domain.safety import SafetyGate
from selfheal_core.vocabulary import ACTIONS, CATEGORIES, Action, Criticality

from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.qtable_io import load_qtable, save_qtable
from selfheal.simulator.scenario import load_scenario, shipped_scenarios_dir

contexts = st.builds(
    DecisionContext,
    job_name=st.sampled_from(["a", "b"]),
    category=st.sampled_from(CATEGORIES),
    confidence=st.floats(0, 1),
    criticality=st.sampled_from(list(Criticality)),
    risk=st.sampled_from(["low", "medium", "high"]),
    attempt=st.integers(1, 5),
    drift=st.booleans(),
    rollback_available=st.booleans(),
    bad_record_fraction=st.one_of(st.none(), st.floats(0, 1)),
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(contexts, st.floats(-300, 0), st.integers(0, 2**16)), min_size=1, max_size=25)
)
def test_never_a_masked_action_and_values_stay_finite(
    steps: list[tuple[DecisionContext, float, int]],
) -> None:
    gate = SafetyGate()
    policy = QLearningPolicy(QTable(), LearnerSettings(epsilon=0.5), np.random.default_rng(0))
    for ctx, reward, seed in steps:
        policy.rng = np.random.default_rng(seed)
        allowed = gate.allowed_actions(ctx)
        action = policy.select_action(ctx, allowed, explore=True)
        assert action in allowed
        assert policy.greedy_action(ctx, allowed) in allowed
        policy.update(Transition(ctx, action, reward, ctx if seed % 2 else None, allowed if seed % 2 else ()))
    for row in policy.table.rows.values():
        assert np.isfinite(row.values).all()


def test_two_learns_that_read_the_same_row_both_land() -> None:
    """Two Learn calls read the same row and each computes its update on it: the store adds both (visits
    2), each weighted as an update made on that read (the first two updates of a row weigh the same)."""
    ctx = DecisionContext(job_name="a", category=CATEGORIES[0])
    settings = LearnerSettings(learning_rate=0.1)
    stored = QEntry.initial(ctx, settings).to_row(settings)
    key = state_key(ctx)
    first = QUpdate.of("inc-1#0#" + key, key, stored, Action.RETRY, -1.0, settings.learning_rate)
    second = QUpdate.of("inc-2#0#" + key, key, stored, Action.RETRY, -3.0, settings.learning_rate)
    assert first.weight == second.weight == 1.0

    i = ACTION_INDEX[Action.RETRY]
    both = stored.plus(first).plus(second)
    prior = stored.values[i]
    assert both.visits[i] == 2
    assert both.values[i] == pytest.approx((prior - 1.0 - 3.0) / 3)
    assert both.values == stored.plus(second).plus(first).values  # the order does not matter
    assert job_state_key(ctx) != key


def test_escalate_is_never_explored_but_everything_allowed_is() -> None:
    ctx = DecisionContext(job_name="a", category=CATEGORIES[0])
    policy = QLearningPolicy(
        QTable(), LearnerSettings(epsilon=1.0, epsilon_min=1.0), np.random.default_rng(1)
    )
    allowed = (Action.RETRY, Action.BACKOFF_RETRY, Action.ESCALATE)
    chosen = {policy.select_action(ctx, allowed) for _ in range(200)}
    assert chosen == {Action.RETRY, Action.BACKOFF_RETRY}


def test_an_untrained_table_behaves_like_the_rules() -> None:
    from selfheal_core.domain.rules import rule_action

    gate = SafetyGate()
    policy = QLearningPolicy(QTable(), LearnerSettings())
    checked = 0
    for category in CATEGORIES:
        ctx = DecisionContext(
            job_name="a", category=category, drift=True, rollback_available=True, bad_record_fraction=0.05
        )
        allowed = gate.allowed_actions(ctx)
        if rule_action(ctx) in allowed:
            assert policy.greedy_action(ctx, allowed) is rule_action(ctx)
            checked += 1
    assert checked >= 5


def test_qtable_round_trips(tmp_path: Any) -> None:
    ctx = DecisionContext(job_name="a", category=CATEGORIES[1])
    policy = QLearningPolicy(QTable(), LearnerSettings())
    policy.update(Transition(ctx, Action.BACKOFF_RETRY, -0.5))
    path = save_qtable(tmp_path / "q.json", policy.table, policy.settings)
    table, loaded_settings = load_qtable(path)
    assert loaded_settings == policy.settings
    assert set(table.rows) == set(policy.table.rows)
    for key, row in table.rows.items():
        assert np.array_equal(row.values, policy.table.rows[key].values)
        assert np.array_equal(row.visits, policy.table.rows[key].visits)


def test_learned_never_harms_on_the_trap_scenario(classify: Any) -> None:
    scenario = load_scenario(shipped_scenarios_dir() / "traps.json")
    evaluation = evaluate(scenario, 600, 3, classify=_real_or(classify))
    learned = evaluation.metrics("learned")
    assert learned["harmful_actions"] == 0
    assert evaluation.metrics("glue_retries")["harmful_actions"] > 0  # the traps are real
    assert math.isfinite(learned["mttr_minutes"])
    assert all(len(ACTIONS) == len(r.values) for r in evaluation.learned.table.rows.values())  # type: ignore[union-attr]


def _real_or(fallback: Any) -> Any:
    try:
        from selfheal_core.classification.classifier import classify
    except ImportError:
        return fallback
    return classify
