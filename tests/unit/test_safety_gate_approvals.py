"""The gate's approval path (``SafetySettings.ask_approval``): a soft rule holds the action for a human's
approval instead of replacing it by ``escalate``; a hard rule never does; off by default."""

from __future__ import annotations

from dataclasses import replace

from selfheal_core.domain.context import DecisionContext, Risk
from selfheal_core.domain.events import Gated
from selfheal_core.domain.safety import SOFT_RULES, Mode, SafetyGate, SafetySettings
from selfheal_core.vocabulary import ACTIONS, Action, Category, Criticality

CRITICAL_DRIFT = DecisionContext(
    job_name="ledger",
    category=Category.SCHEMA_DRIFT,
    confidence=0.9,
    criticality=Criticality.CRITICAL,
    risk=Risk.MEDIUM,
    attempt=1,
    drift=True,
    rollback_available=True,
    bad_record_fraction=0.005,
    quarantine_capable=True,
)
APPROVALS = SafetyGate(SafetySettings(ask_approval=True))


def test_the_default_gate_still_escalates_a_held_action() -> None:
    decision = SafetyGate().review(Action.ROLLBACK, CRITICAL_DRIFT)
    assert decision.action is Action.ESCALATE
    assert decision.approval == () and not decision.needs_approval
    assert Action.ROLLBACK not in SafetyGate().allowed_actions(CRITICAL_DRIFT)


def test_with_approvals_a_soft_rule_asks_for_approval_instead_of_escalating() -> None:
    decision = APPROVALS.review(Action.ROLLBACK, CRITICAL_DRIFT)
    assert decision.action is Action.ROLLBACK and not decision.vetoed
    assert decision.approval == ("critical_job_low_risk_only",) and decision.needs_approval
    assert decision.rules_fired == ()  # nothing stopped it: it waits for a human
    assert {"critical_job_low_risk_only"} == SOFT_RULES


def test_with_approvals_the_mask_holds_what_an_approval_can_unlock_and_nothing_else() -> None:
    assert APPROVALS.allowed_actions(CRITICAL_DRIFT) == ACTIONS
    assert Action.ROLLBACK not in APPROVALS.mask_reasons(CRITICAL_DRIFT)
    no_drift = replace(CRITICAL_DRIFT, drift=False)  # rollback_requires_drift is hard
    assert Action.ROLLBACK not in APPROVALS.allowed_actions(no_drift)
    assert "rollback_requires_drift" in APPROVALS.mask_reasons(no_drift)[Action.ROLLBACK]


def test_a_hard_rule_is_never_unlocked_by_an_approval() -> None:
    cases = [
        (Action.ROLLBACK, replace(CRITICAL_DRIFT, drift=False)),  # soft and hard rules fire together
        (Action.RETRY, replace(CRITICAL_DRIFT, category=Category.PERMISSION)),
        (Action.ROLLBACK, replace(CRITICAL_DRIFT, attempt=4)),
        (Action.QUARANTINE, replace(CRITICAL_DRIFT, bad_record_fraction=None)),
    ]
    for action, ctx in cases:
        decision = APPROVALS.review(action, ctx)
        assert decision.action is Action.ESCALATE, (action, ctx)
        assert decision.approval == ()


def test_shadow_mode_and_the_kill_switch_still_stop_everything() -> None:
    for settings in (
        SafetySettings(ask_approval=True, mode=Mode.SHADOW),
        SafetySettings(ask_approval=True, kill_switch=True),
    ):
        decision = SafetyGate(settings).review(Action.ROLLBACK, CRITICAL_DRIFT)
        assert decision.action is Action.ESCALATE and decision.approval == ()


def test_the_gated_event_records_the_approval_and_old_records_read_as_none() -> None:
    gated = Gated(1, Action.ROLLBACK, Action.ROLLBACK, ("critical_job_low_risk_only",), approval=("x",))
    assert Gated.from_data(gated.to_data()) == gated
    plain = Gated(1, Action.RETRY, Action.RETRY)
    assert "approval" not in plain.to_data()  # logs without approvals are written as before
    assert Gated.from_data(plain.to_data()).approval == ()
