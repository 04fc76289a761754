"""Handler configuration, read once from the environment and validated at cold start."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfheal_core.domain.autonomy import Autonomy, AutonomyPolicy
from selfheal_core.domain.decisions import LearningTerms
from selfheal_core.domain.learning import LearnerSettings
from selfheal_core.domain.reward import RewardWeights
from selfheal_core.domain.safety import Mode, SafetySettings
from selfheal_core.domain.storm import StormSettings
from selfheal_core.domain.windows import (
    BusinessHours,
    Interval,
    WindowError,
    parse_business_hours,
    parse_freeze_windows,
)
from selfheal_core.errors import ConfigurationError


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from error
    if not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    store_backend: str  # "dynamodb" | "sqlite"
    events_table: str
    q_table: str
    # Storm-control state (the DynamoDB table; with sqlite any name means on, in the same file).
    # Empty: storm control is off.
    storm_table: str
    sqlite_path: str
    audit_dir: str
    answers_file: str
    labels_bucket: str
    topic_arn: str
    settings_parameter: str
    signatures_parameter: str
    quarantine_uri: str
    backoff_seconds: float
    poll_seconds: float
    max_polls: int
    await_human: bool
    human_timeout_seconds: int
    approval_timeout_seconds: int
    learning_enabled: bool
    exploration_seed: str
    policy: str
    freeze_windows: tuple[Interval, ...]
    business_hours: BusinessHours | None
    learner: LearnerSettings
    safety: SafetySettings
    log_max_bytes: int
    log_max_seconds: float
    region: str
    settings_max_age_seconds: int
    learning_terms: LearningTerms
    # One-click answers (functions/answer_link): the function URL Escalate signs links to, the Secrets
    # Manager secret holding the signing key, and the table of links already used.
    answer_link_url: str = ""
    link_secret: str = ""
    answer_links_table: str = ""
    # The longest wait for the end event of a run selfheal started (then Validate checks the run itself).
    run_wait_seconds: float = 3000.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        backend = env.get("STORE_BACKEND", "dynamodb")
        if backend not in ("dynamodb", "sqlite"):
            raise ConfigurationError(f"STORE_BACKEND must be dynamodb or sqlite, got {backend!r}")
        if backend == "dynamodb" and not env.get("EVENTS_TABLE"):
            raise ConfigurationError("EVENTS_TABLE is required with STORE_BACKEND=dynamodb")
        policy = env.get("POLICY", "learned")
        if policy not in ("learned", "rules"):
            raise ConfigurationError(f"POLICY must be learned or rules, got {policy!r}")
        try:
            freeze_windows = parse_freeze_windows(env.get("FREEZE_WINDOWS", ""))
            business_hours = parse_business_hours(env.get("BUSINESS_HOURS", ""))
        except WindowError as error:
            raise ConfigurationError(str(error)) from error
        human_hours = _float(env, "HUMAN_HOURS", RewardWeights.human_hours)
        if human_hours <= 0:
            raise ConfigurationError(f"HUMAN_HOURS must be positive, got {human_hours}")
        mode = env.get("MODE", Mode.AUTO)
        if mode not in (Mode.AUTO, Mode.SHADOW):
            raise ConfigurationError(f"MODE must be auto or shadow, got {mode!r}")
        return cls(
            store_backend=backend,
            events_table=env.get("EVENTS_TABLE", ""),
            q_table=env.get("Q_TABLE", ""),
            storm_table=env.get("STORM_TABLE", ""),
            sqlite_path=env.get("SQLITE_PATH", ".selfheal/selfheal.sqlite3"),
            audit_dir=env.get("AUDIT_DIR", ""),
            answers_file=env.get("ANSWERS_FILE", ""),
            labels_bucket=env.get("LABELS_BUCKET", ""),
            topic_arn=env.get("TOPIC_ARN", ""),
            settings_parameter=env.get("SETTINGS_PARAMETER", ""),
            signatures_parameter=env.get("SIGNATURES_PARAMETER", ""),
            quarantine_uri=env.get("QUARANTINE_URI", ""),
            backoff_seconds=_float(env, "BACKOFF_SECONDS", 600.0),
            poll_seconds=_float(env, "POLL_SECONDS", 60.0),
            max_polls=int(_float(env, "MAX_POLLS", 120)),
            await_human=_bool(env, "AWAIT_HUMAN", False),
            human_timeout_seconds=int(_float(env, "HUMAN_TIMEOUT_SECONDS", 86400)),
            approval_timeout_seconds=int(_float(env, "APPROVAL_TIMEOUT_SECONDS", 3600)),
            learning_enabled=_bool(env, "LEARNING_ENABLED", True),
            exploration_seed=env.get("EXPLORATION_SEED", ""),
            policy=policy,
            freeze_windows=freeze_windows,
            business_hours=business_hours,
            learner=LearnerSettings(
                learning_rate=_float(env, "LEARNING_RATE", LearnerSettings.learning_rate),
                discount_factor=_float(env, "DISCOUNT_FACTOR", LearnerSettings.discount_factor),
                epsilon=_float(env, "EXPLORATION_RATE", LearnerSettings.epsilon),
                # Before any outcome, escalating is worth what a human's fix costs.
                initial_value=-human_hours,
            ),
            safety=SafetySettings(
                max_attempts=int(_float(env, "MAX_ATTEMPTS", SafetySettings.max_attempts)),
                max_quarantine_fraction=_float(
                    env, "MAX_QUARANTINE_FRACTION", SafetySettings.max_quarantine_fraction
                ),
                kill_switch=_bool(env, "KILL_SWITCH", False),
                mode=mode,
                ask_approval=_bool(env, "APPROVALS", False),
            ),
            log_max_bytes=int(_float(env, "LOG_MAX_BYTES", 5 * 1024 * 1024)),
            log_max_seconds=_float(env, "LOG_MAX_SECONDS", 10.0),
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
            settings_max_age_seconds=int(_float(env, "SETTINGS_MAX_AGE_SECONDS", 60)),
            learning_terms=LearningTerms(
                weights=RewardWeights(human_hours=human_hours),
                decision_minutes=_float(env, "DECISION_SECONDS", 5.0) / 60.0,
            ),
            answer_link_url=env.get("ANSWER_LINK_URL", ""),
            link_secret=env.get("LINK_SECRET", ""),
            answer_links_table=env.get("ANSWER_LINKS_TABLE", ""),
            run_wait_seconds=max(1.0, _float(env, "RUN_WAIT_SECONDS", 3000.0)),
        )

    def storm_with(self, overrides: Mapping[str, Any]) -> StormSettings:
        """Storm control as the settings parameter's ``storm`` object sets it (see docs/storms.md)."""
        return StormSettings.from_data(overrides.get("storm"))

    def safety_with(self, overrides: Mapping[str, Any]) -> SafetySettings:
        """The deployed safety settings, with the live kill switch, mode and autonomy levels from the
        settings parameter."""
        mode = str(overrides.get("mode", self.safety.mode))
        if mode not in (Mode.AUTO, Mode.SHADOW):
            mode = Mode.SHADOW  # an unreadable mode fails safe
        return SafetySettings(
            autonomy=autonomy_from(overrides.get("autonomy")),
            ask_approval=self.safety.ask_approval,
            max_attempts=self.safety.max_attempts,
            max_quarantine_fraction=self.safety.max_quarantine_fraction,
            max_rerun_bad_fraction=self.safety.max_rerun_bad_fraction,
            min_confidence=self.safety.min_confidence,
            kill_switch=bool(overrides.get("kill_switch", self.safety.kill_switch)),
            mode=mode,
            approve_causes_from_facts=overrides.get("approve_causes_from_facts") is True,
        )


def autonomy_from(data: Any) -> AutonomyPolicy:
    """The settings parameter's ``autonomy`` rules; unreadable rules fail safe (everything in shadow),
    and the error is logged so the operator sees why nothing runs."""
    try:
        return AutonomyPolicy.from_data(data)
    except ConfigurationError as error:
        from selfheal_core.runtime.observability import logger

        logger.error("autonomy settings unreadable: everything held in shadow", extra={"reason": str(error)})
        return AutonomyPolicy((), Autonomy.SHADOW)
