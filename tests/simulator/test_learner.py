"""Invariants of the Q-learner as the simulator and the Learn Lambda use it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.context import DecisionContext
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


def test_a_row_update_reapplied_on_a_fresher_row_keeps_both_updates() -> None:
    """Two Learn calls read the same row; the second loses the version race and re-applies on the
    row the first wrote. Both updates must be in the result (visits 2, value moved twice)."""
    ctx = DecisionContext(job_name="a", category=CATEGORIES[0])
    settings = LearnerSettings(learning_rate=0.1)
    stored = QEntry.initial(ctx, settings)
    first = QLearningPolicy(QTable({state_key(ctx): stored}), settings).row_updates(
        Transition(ctx, Action.RETRY, -1.0)
    )
    second = QLearningPolicy(QTable({state_key(ctx): stored}), settings).row_updates(
        Transition(ctx, Action.RETRY, -3.0)
    )
    key = state_key(ctx)
    assert set(first) == {key, job_state_key(ctx)}

    written = first[key](stored)  # the first writer wins the conditional write (version 0 -> 1)
    stale = second[key](stored)  # the second computed on version 0: its conditional write fails...
    assert stale.version == written.version  # ...because it would claim the same version
    merged = second[key](written)  # ...so it re-applies its update to the fresher row
    i = ACTION_INDEX[Action.RETRY]
    assert merged.version == 2 and merged.visits[i] == 2
    prior = stored.values[i]
    after_first = prior + 0.5 * (-1.0 - prior)  # step 1/(n+2): n = 0
    assert written.values[i] == after_first
    assert merged.values[i] == after_first + (1 / 3) * (-3.0 - after_first)
    assert merged.values[i] != stale.values[i]


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
