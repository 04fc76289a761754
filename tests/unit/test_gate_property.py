"""Property: whatever the Q-table holds and whatever the context, the policy never gets a forbidden action
past the gate.

The gate's rules are restated here from docs (README "SafetyGate", docs/operations.md) rather than
imported, so that a change to safety.py that loosens a rule fails here. Q-tables hold any float (NaN,
infinities, huge values), contexts every category, risk, criticality, attempt 1 to 10 and bad-record
fractions that are missing, NaN, negative, in [0, 1], above 1 or infinite.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from selfheal_core.domain.autonomy import AutonomyPolicy
from selfheal_core.domain.context import DecisionContext, Risk
from selfheal_core.domain.qlearning import (
    ACTION_INDEX,
    N_ACTIONS,
    LearnerSettings,
    QEntry,
    QLearningPolicy,
    QTable,
    job_state_key,
    state_key,
)
from selfheal_core.domain.safety import Mode, SafetyGate, SafetySettings
from selfheal_core.vocabulary import ACTIONS, Action, Category, Criticality

# --- the rules, restated ----------------------------------------------------------------------------

HUMAN_ONLY = {Category.PERMISSION, Category.CODE_ERROR, Category.UNKNOWN}
LOW_RISK = {Action.RETRY, Action.BACKOFF_RETRY, Action.LOG_AND_WAIT}
RERUNS = {Action.RETRY, Action.BACKOFF_RETRY}


def measured(fraction: float | None) -> float | None:
    """A bad-record fraction is a measurement only if it is a number and not negative."""
    if fraction is None or math.isnan(fraction) or fraction < 0:
        return None
    return fraction


def forbidden(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Asking a human is always allowed; any automated action is forbidden when one of these holds."""
    if action is Action.ESCALATE:
        return False
    fraction = measured(ctx.bad_record_fraction)
    high_risk = ctx.criticality in (Criticality.HIGH, Criticality.CRITICAL) or ctx.risk == Risk.HIGH
    return any(
        (
            s.kill_switch,
            ctx.attempt > s.max_attempts,
            ctx.category in HUMAN_ONLY,
            # A confidence that is not a number is no confidence.
            not (ctx.confidence >= s.min_confidence),
            action is Action.ROLLBACK and not (ctx.drift and ctx.rollback_available),
            # Quarantine: a measured, non-zero fraction within the limit, on a job that opted in.
            action is Action.QUARANTINE
            and (fraction is None or fraction == 0 or fraction > s.max_quarantine_fraction),
            action is Action.QUARANTINE and not ctx.quarantine_capable,
            # Re-run: not over input known to hold bad records, nor over an unmeasured DQ failure.
            action in RERUNS and fraction is None and ctx.category is Category.DATA_QUALITY,
            action in RERUNS and fraction is not None and fraction > s.max_rerun_bad_fraction,
            high_risk and action not in LOW_RISK,
        )
    )


# --- strategies -------------------------------------------------------------------------------------


# Weighted towards contexts in which most rules stay quiet, so that the one rule under test decides.
def mostly(common: object, *rare: object) -> st.SearchStrategy[object]:
    return st.sampled_from([common, common, common, *rare])


weird_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -0.0]),
)
fractions = st.one_of(
    st.none(),
    st.sampled_from([math.nan, -1.0, math.inf, -math.inf, 0.0, 1.0, 1.5, 0.005, 0.01, 0.1]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=1, max_value=1e6),
)
contexts = st.builds(
    DecisionContext,
    job_name=st.sampled_from(["orders", "ledger"]),
    category=st.sampled_from(list(Category)),
    confidence=st.one_of(
        st.floats(min_value=0.5, max_value=1),
        st.floats(min_value=0, max_value=1),
        mostly(0.9, math.nan, -math.inf, 1.5),
    ),
    criticality=mostly(Criticality.MEDIUM, *Criticality),
    risk=mostly(Risk.MEDIUM, *Risk.ORDER),
    attempt=st.integers(min_value=1, max_value=10),
    drift=st.booleans(),
    rollback_available=st.booleans(),
    bad_record_fraction=fractions,
    quarantine_capable=st.booleans(),
    previous_action=st.none() | st.sampled_from(ACTIONS),
    previous_actions=st.lists(st.sampled_from(ACTIONS), max_size=4).map(tuple),
)
# Thresholds are finite: runtime/config.py refuses a NaN or infinite setting at cold start.
safety_settings = st.builds(
    SafetySettings,
    max_attempts=st.integers(min_value=1, max_value=10),
    max_quarantine_fraction=st.floats(min_value=0, max_value=1),
    max_rerun_bad_fraction=st.floats(min_value=0, max_value=1),
    min_confidence=st.one_of(st.just(0.5), st.floats(min_value=0, max_value=1)),
    kill_switch=mostly(False, True),
    mode=mostly(Mode.AUTO, Mode.SHADOW),
)
rows = st.builds(
    lambda values, visits: QEntry(values=np.array(values, dtype=float), visits=np.array(visits)),
    st.lists(weird_floats, min_size=N_ACTIONS, max_size=N_ACTIONS),
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=N_ACTIONS, max_size=N_ACTIONS),
)


def policy_for(ctx: DecisionContext, shared: QEntry | None, own: QEntry | None, seed: int) -> QLearningPolicy:
    table = QTable()
    if shared is not None:
        table.put(state_key(ctx), shared)
    if own is not None:
        table.put(job_state_key(ctx), own)
    return QLearningPolicy(table, LearnerSettings(epsilon=0.5), np.random.default_rng(seed))


# --- properties -------------------------------------------------------------------------------------


def _dq(**changes: object) -> DecisionContext:
    fields: dict[str, object] = {
        "job_name": "orders",
        "category": Category.DATA_QUALITY,
        "quarantine_capable": True,
    }
    return DecisionContext(**{**fields, **changes})  # type: ignore[arg-type]


# The counterexamples this property found in safety.py (each passed every rule before the fix).
@example(ctx=_dq(bad_record_fraction=math.nan), s=SafetySettings())  # quarantine and re-runs allowed
@example(ctx=_dq(bad_record_fraction=-1.0), s=SafetySettings())  # re-runs over an unmeasured DQ failure
@example(ctx=_dq(bad_record_fraction=0.005, confidence=math.nan), s=SafetySettings())  # no doubt at all
@settings(max_examples=600, deadline=None)
@given(ctx=contexts, s=safety_settings)
def test_the_mask_is_exactly_what_the_rules_allow(ctx: DecisionContext, s: SafetySettings) -> None:
    allowed = SafetyGate(s).allowed_actions(ctx)
    assert Action.ESCALATE in allowed
    assert set(allowed) == {a for a in ACTIONS if not forbidden(a, ctx, s)}


@settings(max_examples=600, deadline=None)
@given(ctx=contexts, s=safety_settings, proposed=st.sampled_from(ACTIONS))
def test_review_only_ever_replaces_a_proposal_by_escalate(
    ctx: DecisionContext, s: SafetySettings, proposed: Action
) -> None:
    decision = SafetyGate(s).review(proposed, ctx)
    assert decision.proposed is proposed
    assert decision.action in (proposed, Action.ESCALATE)
    if forbidden(proposed, ctx, s) or s.mode == Mode.SHADOW:
        assert decision.action is Action.ESCALATE
    else:
        assert decision.action is proposed and not decision.rules_fired


@settings(max_examples=600, deadline=None)
@given(
    ctx=contexts,
    s=safety_settings,
    shared=st.none() | rows,
    own=st.none() | rows,
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    explore=st.booleans(),
)
def test_the_policy_never_gets_a_forbidden_action_past_the_gate(
    ctx: DecisionContext,
    s: SafetySettings,
    shared: QEntry | None,
    own: QEntry | None,
    seed: int,
    explore: bool,
) -> None:
    gate = SafetyGate(s)
    policy = policy_for(ctx, shared, own, seed)
    allowed = gate.allowed_actions(ctx)
    chosen = policy.select_action(ctx, allowed, explore=explore)
    assert chosen in allowed
    assert not forbidden(chosen, ctx, s)
    decision = gate.review(chosen, ctx)
    assert not forbidden(decision.action, ctx, s)
    if s.mode == Mode.SHADOW:
        assert decision.action is Action.ESCALATE


@settings(max_examples=400, deadline=None)
@given(ctx=contexts, s=safety_settings, shared=rows, own=st.none() | rows)
def test_a_value_that_is_not_a_number_never_beats_one_that_is(
    ctx: DecisionContext, s: SafetySettings, shared: QEntry, own: QEntry | None
) -> None:
    policy = policy_for(ctx, shared, own, 0)
    allowed = SafetyGate(s).allowed_actions(ctx)
    values = policy.q_values(ctx)
    chosen = policy.greedy_action(ctx, allowed)
    numbers = [values[ACTION_INDEX[a]] for a in allowed if not math.isnan(values[ACTION_INDEX[a]])]
    if numbers:
        assert values[ACTION_INDEX[chosen]] == max(numbers)


# --- approvals (issue 10) ---------------------------------------------------------------------------
# Restated from CONTRACT-10 and docs/operations.md: only "a high/critical job (or a high-risk window) runs
# only low-risk actions unattended" is soft, and asks a human; an approval never unlocks any other rule.


def hard_forbidden(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """``forbidden`` without the one soft rule."""
    if action is Action.ESCALATE:
        return False
    return forbidden(action, dataclasses.replace(ctx, criticality=Criticality.MEDIUM, risk=Risk.MEDIUM), s)


def soft_forbidden(action: Action, ctx: DecisionContext) -> bool:
    high = ctx.criticality in (Criticality.HIGH, Criticality.CRITICAL) or ctx.risk == Risk.HIGH
    return action is not Action.ESCALATE and high and action not in LOW_RISK


autonomy_rules = st.lists(
    st.fixed_dictionaries(
        {"level": st.sampled_from(["shadow", "approve", "auto"])},
        optional={
            "category": st.sampled_from([*(c.value for c in Category), "*"]),
            "action": st.sampled_from([*(a.value for a in ACTIONS), "*"]),
            "job": st.sampled_from(["orders", "ledger"]),
            "tag": st.sampled_from(["criticality=critical", "criticality=high"]),
        },
    ),
    max_size=4,
).map(AutonomyPolicy.from_data)
asking_settings = st.builds(
    SafetySettings,
    max_attempts=st.integers(min_value=1, max_value=10),
    max_quarantine_fraction=st.floats(min_value=0, max_value=1),
    max_rerun_bad_fraction=st.floats(min_value=0, max_value=1),
    min_confidence=st.one_of(st.just(0.5), st.floats(min_value=0, max_value=1)),
    kill_switch=mostly(False, True),
    mode=mostly(Mode.AUTO, Mode.SHADOW),
    autonomy=autonomy_rules,
    ask_approval=st.just(True),
)


@settings(max_examples=600, deadline=None)
@given(ctx=contexts, s=asking_settings, proposed=st.sampled_from(ACTIONS))
def test_an_approval_can_never_unlock_a_hard_rule(
    ctx: DecisionContext, s: SafetySettings, proposed: Action
) -> None:
    decision = SafetyGate(s).review(proposed, ctx)
    assert decision.proposed is proposed
    assert decision.action in (proposed, Action.ESCALATE)
    if hard_forbidden(proposed, ctx, s) or s.kill_switch:
        assert decision.action is Action.ESCALATE or proposed is Action.ESCALATE
        assert not decision.needs_approval
    if decision.action is proposed and soft_forbidden(proposed, ctx):
        assert decision.needs_approval  # a soft rule never lets an action through unasked
    if decision.needs_approval:
        assert decision.action is proposed is not Action.ESCALATE
        assert not hard_forbidden(proposed, ctx, s) and not s.kill_switch


@settings(max_examples=600, deadline=None)
@given(ctx=contexts, s=asking_settings)
def test_with_approvals_the_mask_is_what_the_hard_rules_allow(
    ctx: DecisionContext, s: SafetySettings
) -> None:
    allowed = SafetyGate(s).allowed_actions(ctx)
    assert set(allowed) == {a for a in ACTIONS if not hard_forbidden(a, ctx, s)}
