from __future__ import annotations

import pytest
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.errors import ConfigurationError, InvalidInputError, TerminalError
from selfheal_core.runtime.config import Config

DDB = {"STORE_BACKEND": "dynamodb", "EVENTS_TABLE": "events", "Q_TABLE": "q"}


def test_defaults_are_the_conservative_production_defaults():
    config = Config.from_env(DDB)
    assert config.store_backend == "dynamodb" and config.events_table == "events"
    assert config.safety == SafetySettings()
    assert config.learning_enabled and not config.await_human
    assert config.region == "us-east-1"


def test_values_are_read_and_typed():
    config = Config.from_env(
        {
            **DDB,
            "MAX_ATTEMPTS": "5",
            "MAX_POLLS": "7",
            "KILL_SWITCH": "TRUE",
            "MODE": "shadow",
            "AWAIT_HUMAN": "yes",
            "LEARNING_ENABLED": "0",
            "BACKOFF_SECONDS": "1.5",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert config.safety.max_attempts == 5 and config.max_polls == 7
    assert config.safety.kill_switch and config.safety.mode == Mode.SHADOW
    assert config.await_human and not config.learning_enabled
    assert config.backoff_seconds == 1.5 and config.region == "eu-west-1"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"STORE_BACKEND": "postgres"}, "STORE_BACKEND"),
        ({"STORE_BACKEND": "dynamodb"}, "EVENTS_TABLE"),
        ({**DDB, "MODE": "yolo"}, "MODE"),
        ({**DDB, "MAX_POLLS": "many"}, "MAX_POLLS"),
        ({**DDB, "BACKOFF_SECONDS": "10s"}, "BACKOFF_SECONDS"),
        ({**DDB, "LEARNING_RATE": "fast"}, "LEARNING_RATE"),
    ],
)
def test_validation_errors_are_configuration_errors_naming_the_variable(env, names):
    with pytest.raises(ConfigurationError, match=names) as info:
        Config.from_env(env)
    # A deployment mistake is terminal, but it is not a payload that failed its schema.
    assert isinstance(info.value, TerminalError) and not isinstance(info.value, InvalidInputError)


# Regression: int(float("inf")) used to escape as OverflowError, int(float("nan")) as ValueError.
@pytest.mark.parametrize(
    "env", [{**DDB, "MAX_POLLS": "inf"}, {**DDB, "MAX_ATTEMPTS": "nan"}, {**DDB, "LEARNING_RATE": "nan"}]
)
def test_non_finite_numbers_are_configuration_errors(env):
    with pytest.raises(ConfigurationError, match="finite"):
        Config.from_env(env)


def test_sqlite_backend_needs_no_table():
    config = Config.from_env({"STORE_BACKEND": "sqlite", "SQLITE_PATH": "/tmp/x.db"})
    assert config.store_backend == "sqlite" and config.sqlite_path == "/tmp/x.db"


def test_safety_with_overrides_kill_switch_and_mode_only():
    config = Config.from_env({**DDB, "MAX_ATTEMPTS": "4", "MAX_QUARANTINE_FRACTION": "0.2"})
    safety = config.safety_with({"kill_switch": True, "mode": "shadow", "max_attempts": 99})
    assert safety.kill_switch and safety.mode == Mode.SHADOW
    assert safety.max_attempts == 4 and safety.max_quarantine_fraction == 0.2


def test_safety_with_no_overrides_keeps_the_deployed_settings():
    config = Config.from_env({**DDB, "KILL_SWITCH": "true", "MODE": "shadow"})
    assert config.safety_with({}) == config.safety


@pytest.mark.parametrize("mode", ["AUTO", "", "off", None, 3])
def test_unreadable_mode_fails_safe_to_shadow(mode):
    assert Config.from_env(DDB).safety_with({"mode": mode}).mode == Mode.SHADOW


@pytest.mark.parametrize(("value", "allowed"), [(True, True), (False, False), ("true", False), (1, False)])
def test_only_a_literal_true_lets_causes_from_facts_be_approved(value, allowed):
    config = Config.from_env({**DDB, "APPROVALS": "true"})
    assert config.safety.approve_causes_from_facts is False
    assert config.safety_with({"approve_causes_from_facts": value}).approve_causes_from_facts is allowed
