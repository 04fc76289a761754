from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.context import DecisionContext, Risk
from selfheal_core.domain.safety import RULE_NAMES, Mode, SafetyGate, SafetySettings
from selfheal_core.vocabulary import ACTIONS, Action, Category, Criticality

# A context in which every action is allowed; each rule test changes one thing.
SAFE = DecisionContext(
    job_name="orders",
    category=Category.SCHEMA_DRIFT,
    confidence=0.9,
    criticality=Criticality.MEDIUM,
    risk=Risk.MEDIUM,
    attempt=1,
    drift=True,
    rollback_available=True,
    bad_record_fraction=0.005,
    quarantine_capable=True,
)


def ctx(**changes) -> DecisionContext:
    from dataclasses import replace

    return replace(SAFE, **changes)


def test_baseline_context_allows_everything():
    assert SafetyGate().allowed_actions(SAFE) == ACTIONS


@pytest.mark.parametrize(
    ("rule", "action", "fires", "quiet"),
    [
        ("attempt_budget", Action.RETRY, ctx(attempt=4), ctx(attempt=3)),
        ("human_only_category", Action.RETRY, ctx(category=Category.PERMISSION), SAFE),
        ("human_only_category", Action.LOG_AND_WAIT, ctx(category=Category.CODE_ERROR), SAFE),
        ("human_only_category", Action.RETRY, ctx(category=Category.UNKNOWN), SAFE),
        ("low_confidence", Action.RETRY, ctx(confidence=0.49), ctx(confidence=0.5)),
        ("rollback_requires_drift", Action.ROLLBACK, ctx(drift=False), SAFE),
        ("rollback_requires_drift", Action.ROLLBACK, ctx(rollback_available=False), SAFE),
        ("quarantine_fraction_limit", Action.QUARANTINE, ctx(bad_record_fraction=None), SAFE),
        ("quarantine_needs_capable_job", Action.QUARANTINE, ctx(quarantine_capable=False), SAFE),
        (
            "no_rerun_on_bad_records",
            Action.RETRY,
            ctx(category=Category.DATA_QUALITY, bad_record_fraction=None),
            ctx(category=Category.THROTTLING, bad_record_fraction=None),
        ),
        ("quarantine_fraction_limit", Action.QUARANTINE, ctx(bad_record_fraction=0.0), SAFE),
        (
            "quarantine_fraction_limit",
            Action.QUARANTINE,
            ctx(bad_record_fraction=0.11),
            ctx(bad_record_fraction=0.10),
        ),
        (
            "no_rerun_on_bad_records",
            Action.RETRY,
            ctx(bad_record_fraction=0.02),
            ctx(bad_record_fraction=0.01),
        ),
        (
            "no_rerun_on_bad_records",
            Action.BACKOFF_RETRY,
            ctx(bad_record_fraction=0.5),
            ctx(bad_record_fraction=None),
        ),
        ("critical_job_low_risk_only", Action.ROLLBACK, ctx(criticality=Criticality.CRITICAL), SAFE),
        ("critical_job_low_risk_only", Action.QUARANTINE, ctx(criticality=Criticality.HIGH), SAFE),
        ("critical_job_low_risk_only", Action.ROLLBACK, ctx(risk=Risk.HIGH), ctx(risk=Risk.LOW)),
    ],
)
def test_each_rule_fires_when_it_should_and_not_otherwise(rule, action, fires, quiet):
    gate = SafetyGate()
    decision = gate.review(action, fires)
    assert decision.action is Action.ESCALATE
    assert rule in decision.rules_fired
    assert rule not in gate.violations(action, quiet)
    assert gate.review(action, quiet).action is action


def test_kill_switch_rule_fires_only_when_on():
    assert "kill_switch" in SafetyGate(SafetySettings(kill_switch=True)).violations(Action.RETRY, SAFE)
    assert "kill_switch" not in SafetyGate(SafetySettings(kill_switch=False)).violations(Action.RETRY, SAFE)


@pytest.mark.parametrize("action", [Action.RETRY, Action.BACKOFF_RETRY, Action.LOG_AND_WAIT])
def test_low_risk_actions_still_run_on_critical_jobs(action):
    decision = SafetyGate().review(action, ctx(criticality=Criticality.CRITICAL, bad_record_fraction=None))
    assert decision.action is action and decision.rules_fired == ()


def test_rules_not_about_the_action_do_not_fire_for_other_actions():
    gate = SafetyGate()
    assert gate.violations(Action.RETRY, ctx(drift=False, rollback_available=False)) == ()
    assert gate.violations(Action.ROLLBACK, ctx(bad_record_fraction=0.9)) == ()


def test_every_firing_rule_is_recorded_in_order():
    decision = SafetyGate(SafetySettings(kill_switch=True)).review(
        Action.ROLLBACK, ctx(category=Category.PERMISSION, attempt=9, drift=False)
    )
    assert decision.rules_fired == (
        "kill_switch",
        "attempt_budget",
        "human_only_category",
        "rollback_requires_drift",
    )
    assert set(decision.rules_fired) <= set(RULE_NAMES)
    assert decision.vetoed


def test_escalate_always_passes_even_with_every_rule_on():
    gate = SafetyGate(SafetySettings(kill_switch=True))
    decision = gate.review(Action.ESCALATE, ctx(category=Category.UNKNOWN, attempt=99, confidence=0.0))
    assert decision.action is Action.ESCALATE and decision.rules_fired == () and not decision.vetoed


def test_kill_switch_escalates_every_action():
    gate = SafetyGate(SafetySettings(kill_switch=True))
    assert gate.allowed_actions(SAFE) == (Action.ESCALATE,)
    for action in ACTIONS:
        assert gate.review(action, SAFE).action is Action.ESCALATE


def test_shadow_mode_records_the_proposal_and_escalates():
    decision = SafetyGate(SafetySettings(mode=Mode.SHADOW)).review(Action.RETRY, SAFE)
    assert decision.proposed is Action.RETRY
    assert decision.action is Action.ESCALATE
    assert decision.shadow is True
    assert decision.rules_fired == ("shadow_mode",)


def test_shadow_mode_keeps_the_rule_names_of_a_vetoed_proposal():
    decision = SafetyGate(SafetySettings(mode=Mode.SHADOW)).review(Action.RETRY, ctx(attempt=5))
    assert decision.action is Action.ESCALATE
    assert "attempt_budget" in decision.rules_fired


contexts = st.builds(
    DecisionContext,
    job_name=st.sampled_from(["a", "b"]),
    category=st.sampled_from(list(Category)),
    confidence=st.floats(0.0, 1.0),
    criticality=st.sampled_from(list(Criticality)),
    risk=st.sampled_from(list(Risk.ORDER)),
    attempt=st.integers(1, 6),
    drift=st.booleans(),
    rollback_available=st.booleans(),
    bad_record_fraction=st.one_of(st.none(), st.floats(0.0, 1.0)),
    previous_action=st.one_of(st.none(), st.sampled_from(ACTIONS)),
)
safety_settings = st.builds(
    SafetySettings,
    max_attempts=st.integers(1, 5),
    max_quarantine_fraction=st.floats(0.0, 0.5),
    kill_switch=st.booleans(),
    mode=st.just(Mode.AUTO),
)


@settings(max_examples=150, deadline=None)
@given(context=contexts, safety=safety_settings)
def test_mask_equals_the_actions_review_lets_through(context, safety):
    gate = SafetyGate(safety)
    mask = gate.allowed_actions(context)
    through = tuple(a for a in ACTIONS if gate.review(a, context).action is a)
    assert mask == through
    assert Action.ESCALATE in mask


@settings(max_examples=150, deadline=None)
@given(context=contexts, safety=safety_settings, mode=st.sampled_from([Mode.AUTO, Mode.SHADOW]))
def test_gate_only_ever_replaces_a_proposal_by_escalate(context, safety, mode):
    from dataclasses import replace

    gate = SafetyGate(replace(safety, mode=mode))
    for action in ACTIONS:
        decision = gate.review(action, context)
        assert decision.proposed is action
        assert decision.action in (action, Action.ESCALATE)
        assert decision.vetoed == bool(decision.rules_fired)
