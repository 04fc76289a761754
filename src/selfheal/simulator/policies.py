"""The policies ``evaluate`` compares on the same stream.

Baselines (``manual``, ``glue_retries``, ``backoff_retries``) model what users run today: Glue's own
retries, with no safety gate and no attempt budget but their own. ``rules`` and ``learned`` sit behind the
project's safety gate. ``oracle`` knows the hidden mode; it is an upper bound and is *not* gated, so the
engine records every time its fix is one the gate would have forbidden (``oracle_gated`` is the same
oracle restricted to what the gate allows, to price that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.qlearning import LearnerSettings, QLearningPolicy, QTable, Transition
from selfheal_core.domain.reward import RewardWeights, StepOutcome, step_reward
from selfheal_core.domain.rules import rule_action
from selfheal_core.vocabulary import ACTIONS, Action

from selfheal.simulator.scenario import JobSpec, ModeSpec, Scenario
from selfheal.simulator.world import Incident

ROLLBACK_MINUTES = 1.0


@dataclass(frozen=True)
class Step:
    """One decision: what the policy may look at. ``incident`` is there for ``oracle`` only."""

    incident: Incident
    ctx: DecisionContext
    allowed: tuple[Action, ...]
    attempt: int


@dataclass(frozen=True)
class StepRecord:
    """What happened at one attempt, as the Validate step would report it."""

    ctx: DecisionContext
    allowed: tuple[Action, ...]
    proposed: Action
    action: Action
    minutes: float  # decision + waits + run time; human time is not included
    resolved: bool = False
    wasted_run: bool = False
    vetoed: bool = False
    harmful: bool = False
    human_factor: float = 0.0  # 0: no human; 1: a human fixed it; 2: a human repaired damage
    forced: bool = False  # the attempt budget forced this escalation


def attempt_minutes(scenario: Scenario, job: JobSpec, action: Action, wait: float) -> float:
    """Decision time plus what executing ``action`` takes before its outcome is known."""
    minutes = scenario.decision_seconds / 60.0
    if action is Action.ESCALATE:
        return minutes
    if action is Action.LOG_AND_WAIT:
        return minutes + job.schedule_hours * 60.0
    if action is Action.ROLLBACK:
        minutes += ROLLBACK_MINUTES
    return minutes + wait + job.runtime_minutes


class Policy:
    name: str = "policy"
    gated: bool = True

    def attempt_budget(self, scenario: Scenario) -> int | None:
        """Automated attempts before the incident must be escalated (None: the policy's own schedule)."""
        return scenario.max_attempts

    def wait_minutes(self, action: Action, attempt: int, scenario: Scenario) -> float:
        return scenario.backoff_minutes if action is Action.BACKOFF_RETRY else 0.0

    def choose(self, step: Step) -> Action:
        raise NotImplementedError

    def observe(self, incident: Incident, records: list[StepRecord]) -> None:
        """Called once the incident is over; only a learning policy uses it."""


class ManualPolicy(Policy):
    name = "manual"
    gated = False

    def attempt_budget(self, scenario: Scenario) -> int | None:
        return None

    def choose(self, step: Step) -> Action:
        return Action.ESCALATE


class GlueRetriesPolicy(Policy):
    """Glue's MaxRetries = 2: two immediate retries, then a human."""

    name = "glue_retries"
    gated = False
    retries = 2

    def attempt_budget(self, scenario: Scenario) -> int | None:
        return None

    def choose(self, step: Step) -> Action:
        return Action.RETRY if step.attempt <= self.retries else Action.ESCALATE


class BackoffRetriesPolicy(Policy):
    """Three retries waiting ``backoff_minutes`` x 1, 2, 4, then a human."""

    name = "backoff_retries"
    gated = False
    retries = 3

    def attempt_budget(self, scenario: Scenario) -> int | None:
        return None

    def wait_minutes(self, action: Action, attempt: int, scenario: Scenario) -> float:
        return scenario.backoff_minutes * float(2 ** (attempt - 1))

    def choose(self, step: Step) -> Action:
        return Action.BACKOFF_RETRY if step.attempt <= self.retries else Action.ESCALATE


class RulesPolicy(Policy):
    """The rulebook (``selfheal_core.domain.rules.rule_action``) behind the gate."""

    name = "rules"

    def choose(self, step: Step) -> Action:
        return rule_action(step.ctx)


class LearnedPolicy(Policy):
    """The project's Q-learner behind the gate: explores only within the mask, learns after each incident."""

    name = "learned"

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        table: QTable | None = None,
        settings: LearnerSettings | None = None,
        explore: bool = True,
    ) -> None:
        human = scenario.human.mean_hours
        self.weights = RewardWeights(human_hours=human)
        self.settings = settings or LearnerSettings(initial_value=-human)
        self.table = table if table is not None else QTable()
        self.learner = QLearningPolicy(self.table, self.settings, np.random.default_rng([seed, 3]))
        self.explore = explore

    def choose(self, step: Step) -> Action:
        return self.learner.select_action(step.ctx, step.allowed, explore=self.explore)

    def transitions(self, records: list[StepRecord]) -> list[Transition]:
        """One transition per decision. An escalation forced by the attempt budget is no decision: its
        cost is folded into the last attempt, which then ends the episode."""
        out: list[Transition] = []
        for i, r in enumerate(records):
            if r.forced:
                if out:
                    last = out[-1]
                    forced = step_reward(StepOutcome(r.minutes, escalated=True), self.weights)
                    out[-1] = Transition(last.state, last.action, last.reward + forced)
                continue
            outcome = StepOutcome(
                elapsed_minutes=r.minutes,
                resolved=r.resolved,
                wasted_run=r.wasted_run,
                vetoed=r.vetoed,
                harmful=r.harmful,
                escalated=r.human_factor > 0,
                human_hours=self.weights.human_hours * r.human_factor if r.human_factor > 0 else None,
            )
            following = records[i + 1] if i + 1 < len(records) and not records[i + 1].forced else None
            out.append(
                Transition(
                    state=r.ctx,
                    action=r.proposed,
                    reward=step_reward(outcome, self.weights),
                    next_state=following.ctx if following else None,
                    next_allowed=following.allowed if following else (),
                )
            )
        return out

    def observe(self, incident: Incident, records: list[StepRecord]) -> None:
        self.learner.learn_episode(self.transitions(records))


def oracle_plan(
    scenario: Scenario, mode: ModeSpec, job: JobSpec, allowed: tuple[Action, ...], remaining: int
) -> tuple[Action, float]:
    """(best action, expected minutes to resolve from here) with ``remaining`` automated attempts left.

    Dynamic programming over the attempts left: an attempt with action ``a`` costs its time and, with
    probability ``1 - fix[a]``, what the best continuation costs; ``log_and_wait`` ends the automated
    part (a human if the scheduled run fails); a human costs the lognormal's mean. Harmful actions and
    actions that never fix this mode are not considered.
    """
    decision = scenario.decision_seconds / 60.0
    human = scenario.human.mean_hours * 60.0
    best, best_cost = Action.ESCALATE, decision + human
    if remaining <= 0:
        return best, best_cost
    after_failure = oracle_plan(scenario, mode, job, allowed, remaining - 1)[1]
    for action in ACTIONS:
        p = mode.fix.get(action, 0.0)
        if action is Action.ESCALATE or action not in allowed or action in mode.harm or p <= 0.0:
            continue
        wait = scenario.backoff_minutes if action is Action.BACKOFF_RETRY else 0.0
        fallback = human if action is Action.LOG_AND_WAIT else after_failure
        cost = attempt_minutes(scenario, job, action, wait) + (1.0 - p) * fallback
        if cost < best_cost - 1e-9:
            best, best_cost = action, cost
    return best, best_cost


class OraclePolicy(Policy):
    """Knows the hidden mode: the fix with the least expected time to resolve, or a human if none.

    Not gated: it knows which actions damage data, so it never harms; the engine counts the attempts
    where the gate would have forbidden its fix. ``gated=True`` restricts it to the gate's mask.
    """

    def __init__(self, scenario: Scenario, gated: bool = False) -> None:
        self.scenario = scenario
        self.gated = gated
        self.name = "oracle_gated" if gated else "oracle"
        self._plans: dict[tuple[int, str, tuple[Action, ...], int], Action] = {}

    def choose(self, step: Step) -> Action:
        incident = step.incident
        remaining = self.scenario.max_attempts - step.attempt + 1
        key = (incident.mode_index, incident.job.name, step.allowed, remaining)
        action = self._plans.get(key)
        if action is None:
            action = oracle_plan(self.scenario, incident.mode, incident.job, step.allowed, remaining)[0]
            self._plans[key] = action
        return action


def make_policies(scenario: Scenario, seed: int, *, with_gated_oracle: bool = False) -> list[Policy]:
    policies: list[Policy] = [
        ManualPolicy(),
        GlueRetriesPolicy(),
        BackoffRetriesPolicy(),
        RulesPolicy(),
        LearnedPolicy(scenario, seed),
        OraclePolicy(scenario),
    ]
    if with_gated_oracle:
        policies.append(OraclePolicy(scenario, gated=True))
    return policies


__all__ = [
    "BackoffRetriesPolicy",
    "GlueRetriesPolicy",
    "LearnedPolicy",
    "ManualPolicy",
    "OraclePolicy",
    "Policy",
    "RulesPolicy",
    "Step",
    "StepRecord",
    "attempt_minutes",
    "make_policies",
    "oracle_plan",
]
