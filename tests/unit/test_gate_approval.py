"""The gate's verdicts with approvals: which rule asks a human, which one stops, and what each records."""

from __future__ import annotations

from selfheal_core.domain.autonomy import AutonomyPolicy
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.safety import Mode, SafetyGate, SafetySettings
from selfheal_core.vocabulary import Action, Category, Criticality

CRITICAL_DRIFT = DecisionContext(
    job_name="revenue",
    category=Category.SCHEMA_DRIFT,
    criticality=Criticality.CRITICAL,
    drift=True,
    rollback_available=True,
)
ASKING = SafetySettings(ask_approval=True)


def test_a_rollback_on_a_critical_job_is_held_for_approval() -> None:
    decision = SafetyGate(ASKING).review(Action.ROLLBACK, CRITICAL_DRIFT)
    assert (decision.action, decision.rules_fired) == (Action.ROLLBACK, ())
    assert decision.approval == ("critical_job_low_risk_only",) and decision.needs_approval
    assert Action.ROLLBACK in SafetyGate(ASKING).allowed_actions(CRITICAL_DRIFT)


def test_without_anyone_to_ask_the_soft_rule_escalates_as_before() -> None:
    decision = SafetyGate(SafetySettings()).review(Action.ROLLBACK, CRITICAL_DRIFT)
    assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert decision.rules_fired == ("critical_job_low_risk_only",)
    assert Action.ROLLBACK not in SafetyGate(SafetySettings()).allowed_actions(CRITICAL_DRIFT)


def test_no_approval_is_asked_for_what_a_hard_rule_forbids() -> None:
    no_baseline = DecisionContext(**{**CRITICAL_DRIFT.__dict__, "rollback_available": False})
    decision = SafetyGate(ASKING).review(Action.ROLLBACK, no_baseline)
    assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert "rollback_requires_drift" in decision.rules_fired


def test_the_kill_switch_stops_even_what_would_only_need_approval() -> None:
    settings = SafetySettings(ask_approval=True, kill_switch=True)
    decision = SafetyGate(settings).review(Action.ROLLBACK, CRITICAL_DRIFT)
    assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert decision.rules_fired[0] == "kill_switch"


def test_autonomy_approve_holds_an_action_no_rule_forbids() -> None:
    medium = DecisionContext(job_name="orders", category=Category.TRANSIENT_NETWORK)
    settings = SafetySettings(
        ask_approval=True, autonomy=AutonomyPolicy.from_data([{"action": "retry", "level": "approve"}])
    )
    decision = SafetyGate(settings).review(Action.RETRY, medium)
    assert decision.action is Action.RETRY and decision.approval == ("autonomy:approve",)
    assert decision.autonomy == "approve"
    assert SafetyGate(settings).review(Action.BACKOFF_RETRY, medium).approval == ()


def test_autonomy_shadow_records_and_executes_nothing_for_its_scope_only() -> None:
    medium = DecisionContext(job_name="orders", category=Category.TRANSIENT_NETWORK)
    settings = SafetySettings(autonomy=AutonomyPolicy.from_data([{"job": "orders", "level": "shadow"}]))
    decision = SafetyGate(settings).review(Action.RETRY, medium)
    assert decision.action is Action.ESCALATE and decision.shadow
    assert decision.rules_fired == ("autonomy:shadow",)
    other = DecisionContext(job_name="billing", category=Category.TRANSIENT_NETWORK)
    assert SafetyGate(settings).review(Action.RETRY, other).action is Action.RETRY


def test_mode_shadow_still_means_shadow_mode() -> None:
    medium = DecisionContext(job_name="orders", category=Category.TRANSIENT_NETWORK)
    decision = SafetyGate(SafetySettings(mode=Mode.SHADOW)).review(Action.RETRY, medium)
    assert decision.shadow and decision.rules_fired == ("shadow_mode",)


FROM_FACTS = DecisionContext(
    job_name="orders",
    category=Category.SCHEMA_DRIFT,
    confidence=0.6,
    drift=True,
    rollback_available=True,
    cause_from_facts=True,
)


FACTS_MAY_ASK = SafetySettings(ask_approval=True, approve_causes_from_facts=True)


def test_a_cause_only_the_facts_named_is_held_for_approval_when_the_operator_allows_it() -> None:
    decision = SafetyGate(FACTS_MAY_ASK).review(Action.ROLLBACK, FROM_FACTS)
    assert (decision.action, decision.approval) == (Action.ROLLBACK, ("cause_from_facts",))
    assert Action.ROLLBACK in SafetyGate(FACTS_MAY_ASK).allowed_actions(FROM_FACTS)


def test_by_default_a_cause_only_the_facts_named_is_not_even_asked_for() -> None:
    decision = SafetyGate(ASKING).review(Action.ROLLBACK, FROM_FACTS)
    assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert decision.rules_fired == ("cause_from_facts",)


def test_a_cause_only_the_facts_named_never_runs_unattended() -> None:
    gate = SafetyGate(SafetySettings())
    for action in Action:
        decision = gate.review(action, FROM_FACTS)
        assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert gate.allowed_actions(FROM_FACTS) == (Action.ESCALATE,)
    same_from_text = DecisionContext(**{**FROM_FACTS.__dict__, "cause_from_facts": False})
    assert gate.review(Action.ROLLBACK, same_from_text).action is Action.ROLLBACK


def test_approval_does_not_unlock_what_the_facts_do_not_support() -> None:
    decision = SafetyGate(FACTS_MAY_ASK).review(Action.QUARANTINE, FROM_FACTS)  # no fraction, no capable job
    assert decision.action is Action.ESCALATE and not decision.needs_approval
    assert "cause_from_facts" in decision.rules_fired and "quarantine_fraction_limit" in decision.rules_fired
