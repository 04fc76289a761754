"""Autonomy levels: which rule applies, how they are read from the settings, and how they fail safe."""

from __future__ import annotations

import pytest
from fakes import make_config
from selfheal_core.domain.autonomy import Autonomy, AutonomyPolicy, AutonomyRule
from selfheal_core.errors import ConfigurationError

RULES = [
    {"category": "schema_drift", "level": "approve"},
    {"category": "schema_drift", "action": "rollback", "level": "shadow"},
    {"action": "retry", "level": "approve"},
    {"category": "schema_drift", "action": "rollback", "job": "ledger", "level": "auto"},
    {"tag": "criticality=critical", "level": "shadow"},
]


def test_levels_are_ordered_shadow_approve_auto() -> None:
    assert Autonomy.SHADOW.rank < Autonomy.APPROVE.rank < Autonomy.AUTO.rank
    assert [level.value for level in Autonomy] == ["shadow", "approve", "auto"]


@pytest.mark.parametrize(
    ("category", "action", "job", "tags", "expected"),
    [
        ("schema_drift", "rollback", "ledger", {}, Autonomy.AUTO),  # the job rule wins
        ("schema_drift", "rollback", "other", {}, Autonomy.SHADOW),  # category+action
        ("schema_drift", "retry", "other", {}, Autonomy.APPROVE),  # category beats action
        ("throttling", "retry", "other", {}, Autonomy.APPROVE),  # action
        ("throttling", "backoff_retry", "other", {}, Autonomy.AUTO),  # the default
        ("throttling", "backoff_retry", "other", {"criticality": "critical"}, Autonomy.SHADOW),  # tag
    ],
)
def test_the_most_specific_rule_wins(
    category: str, action: str, job: str, tags: dict[str, str], expected: Autonomy
) -> None:
    policy = AutonomyPolicy.from_data(RULES)
    assert policy.level_for(category, action, job, tags) is expected


def test_equally_specific_rules_that_disagree_take_the_cautious_level() -> None:
    policy = AutonomyPolicy.from_data(
        [{"job": "a", "level": "auto"}, {"tag": "criticality=high", "level": "approve"}]
    )
    assert policy.level_for("throttling", "retry", "a", {"criticality": "high"}) is Autonomy.APPROVE


def test_rules_round_trip_and_a_rule_replaces_the_one_of_the_same_scope() -> None:
    policy = AutonomyPolicy.from_data(RULES)
    assert AutonomyPolicy.from_data(policy.to_data()) == policy
    changed = policy.with_rule(AutonomyRule(Autonomy.AUTO, "schema_drift", "rollback"))
    assert len(changed.rules) == len(policy.rules)
    assert changed.level_for("schema_drift", "rollback", "other") is Autonomy.AUTO


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"category": "schema_drift", "level": "sometimes"}], "autonomy level must be one of"),
        ([{"category": "schema_drfit", "level": "auto"}], "unknown category 'schema_drfit'"),
        ([{"action": "reboot", "level": "auto"}], "unknown action 'reboot'"),
        ([{"category": "schema_drift", "levle": "auto"}], "unknown key(s) in autonomy rule: levle"),
        ([{"category": "schema_drift"}], "has no level"),
        ([{"tag": "critical", "level": "auto"}], "tag must be key=value"),
        ({"category": "schema_drift"}, "must be a list"),
        (["auto"], "must be an object"),
    ],
)
def test_bad_rules_are_clear_configuration_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        AutonomyPolicy.from_data(data)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_settings_parameter_autonomy_reaches_the_gate_settings() -> None:
    config = make_config(APPROVALS="true")
    safety = config.safety_with({"autonomy": [{"category": "schema_drift", "level": "approve"}]})
    assert safety.ask_approval
    assert safety.policy().level_for("schema_drift", "rollback") is Autonomy.APPROVE
    assert safety.policy().level_for("throttling", "retry") is Autonomy.AUTO


def test_old_mode_shadow_is_the_default_level_and_rules_still_apply() -> None:
    safety = make_config().safety_with({"mode": "shadow", "autonomy": [{"job": "j", "level": "auto"}]})
    assert safety.policy().level_for("throttling", "retry", "other") is Autonomy.SHADOW
    assert safety.policy().level_for("throttling", "retry", "j") is Autonomy.AUTO


def test_unreadable_autonomy_settings_fail_safe_to_shadow() -> None:
    safety = make_config().safety_with({"autonomy": [{"category": "nope", "level": "auto"}]})
    assert safety.policy().level_for("throttling", "retry") is Autonomy.SHADOW


def test_approvals_are_off_unless_configured() -> None:
    assert not make_config().safety.ask_approval
    assert make_config(APPROVALS="true").safety.ask_approval
    assert make_config(APPROVAL_TIMEOUT_SECONDS="120").approval_timeout_seconds == 120
