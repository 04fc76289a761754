"""The policies ``evaluate`` compares on the same stream.

Baselines (``manual``, ``glue_retries``, ``backoff_retries``) model what users run today: Glue's own
retries, with no safety gate and no attempt budget but their own. ``rules`` and ``learned`` sit behind the
project's safety gate. ``oracle`` knows the hidden mode; it is an upper bound and is *not* gated, so the
engine records every time its fix is one the gate would have forbidden (``oracle_gated`` is the same
oracle restricted to what the gate allows, to price that).
"""

from __future__ import annotations

from dataclasses import dataclass

from selfheal_core.adapters.memory import MemoryEventStore, MemoryQTableStore
from selfheal_core.domain import decisions
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.decisions import LearningTerms
from selfheal_core.domain.qlearning import LearnerSettings, QTable
from selfheal_core.domain.reward import RewardWeights
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
    approvable: tuple[Action, ...] = ()  # in ``allowed``, but run only once a human approves


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
    approval: bool = False  # the gate asked a human to approve ``action`` first
    rejected: bool = False  # ... and the human said no: nothing ran, a human fixes it


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


class DeployedPolicy(Policy):
    """A policy the deployed system runs. Engines drive it through the deployed steps themselves
    (``selfheal_core.steps``: Propose, SafetyGate, Learn), on its own incident log and Q-table, so the
    simulator decides and learns exactly as the Lambdas do; there is no second learner here."""

    policy_name: str = decisions.LEARNED

    def __init__(
        self,
        scenario: Scenario | None = None,
        seed: int = 0,
        *,
        learning: bool,
        explore: bool,
        qtable: MemoryQTableStore | None = None,
        settings: LearnerSettings | None = None,
    ) -> None:
        human = scenario.human.mean_hours if scenario is not None else RewardWeights.human_hours
        decision_minutes = scenario.decision_seconds / 60.0 if scenario is not None else 5.0 / 60.0
        self.settings = settings or LearnerSettings(initial_value=-human)
        self.terms = LearningTerms(RewardWeights(human_hours=human), decision_minutes)
        self.qtable = qtable if qtable is not None else MemoryQTableStore()
        self.store = MemoryEventStore()
        self.learning = learning
        self.explore = explore
        self.exploration_seed = str(seed)

    @property
    def table(self) -> QTable:
        """The Q-table as it stands (a copy)."""
        return QTable.from_rows(self.qtable.all_rows())

    def choose(self, step: Step) -> Action:
        raise TypeError(f"{self.name} runs through the deployed steps, not choose()")


class RulesPolicy(DeployedPolicy):
    """The rulebook (``selfheal_core.domain.rules.rule_action``) behind the gate, as ``POLICY=rules``."""

    name = "rules"
    policy_name = decisions.RULES

    def __init__(self, scenario: Scenario | None = None, seed: int = 0) -> None:
        super().__init__(scenario, seed, learning=False, explore=False)


class LearnedPolicy(DeployedPolicy):
    """The project's Q-learner behind the gate: explores only within the mask, learns after each incident
    through the Learn step's own code (``LEARNING_ENABLED=true``)."""

    name = "learned"

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        table: QTable | None = None,
        settings: LearnerSettings | None = None,
        explore: bool = True,
        learning: bool = True,
    ) -> None:
        super().__init__(scenario, seed, learning=learning, explore=explore, settings=settings)
        if table is not None:  # a trained table keeps learning at the pace its visits set
            self.qtable = MemoryQTableStore({k: e.to_row(self.settings) for k, e in table.rows.items()})


def oracle_plan(
    scenario: Scenario,
    mode: ModeSpec,
    job: JobSpec,
    allowed: tuple[Action, ...],
    remaining: int,
    approvable: tuple[Action, ...] = (),
) -> tuple[Action, float]:
    """(best action, expected minutes to resolve from here) with ``remaining`` automated attempts left.

    Dynamic programming over the attempts left: an attempt with action ``a`` costs its time and, with
    probability ``1 - fix[a]``, what the best continuation costs; ``log_and_wait`` ends the automated
    part (a human if the scheduled run fails); a human costs the lognormal's mean. Harmful actions and
    actions that never fix this mode are not considered. An ``approvable`` action first waits the mean
    time to the answer, and with the chance of a rejection costs a human instead of its run; after it,
    no action is approvable any more (one approval per incident).
    """
    decision = scenario.decision_seconds / 60.0
    human = scenario.human.mean_hours * 60.0
    approvals = scenario.active_approvals
    best, best_cost = Action.ESCALATE, decision + human
    if remaining <= 0:
        return best, best_cost
    after_failure = oracle_plan(scenario, mode, job, allowed, remaining - 1, approvable)[1]
    if approvable:
        unapproved = tuple(a for a in allowed if a not in approvable)
        after_approval = oracle_plan(scenario, mode, job, unapproved, remaining - 1)[1]
    for action in ACTIONS:
        p = mode.fix.get(action, 0.0)
        if action is Action.ESCALATE or action not in allowed or action in mode.harm or p <= 0.0:
            continue
        wait = scenario.backoff_minutes if action is Action.BACKOFF_RETRY else 0.0
        fallback = human if action is Action.LOG_AND_WAIT else after_failure
        if action in approvable:
            fallback = after_approval
        cost = attempt_minutes(scenario, job, action, wait) + (1.0 - p) * fallback
        if action in approvable:
            if approvals is None:
                continue  # nobody would answer
            q = approvals.approve_probability
            cost = decision + approvals.mean_minutes + q * (cost - decision) + (1.0 - q) * human
        if cost < best_cost - 1e-9:
            best, best_cost = action, cost
    return best, best_cost


class OraclePolicy(Policy):
    """Knows the hidden mode: the fix with the least expected time to resolve, or a human if none.

    Not gated: it knows which actions damage data, so it never harms; the engine counts the attempts
    where the gate would have forbidden its fix. ``gated=True`` restricts it to the gate's mask; with
    approvals that mask holds the actions a human must approve, priced with the expected answer.
    """

    def __init__(self, scenario: Scenario, gated: bool = False) -> None:
        self.scenario = scenario
        self.gated = gated
        self.name = "oracle_gated" if gated else "oracle"
        self._plans: dict[tuple[int, str, tuple[Action, ...], int, tuple[Action, ...]], Action] = {}

    def choose(self, step: Step) -> Action:
        incident = step.incident
        remaining = self.scenario.max_attempts - step.attempt + 1
        key = (incident.mode_index, incident.job.name, step.allowed, remaining, step.approvable)
        action = self._plans.get(key)
        if action is None:
            action = oracle_plan(
                self.scenario, incident.mode, incident.job, step.allowed, remaining, step.approvable
            )[0]
            self._plans[key] = action
        return action


def make_policies(scenario: Scenario, seed: int, *, with_gated_oracle: bool = False) -> list[Policy]:
    policies: list[Policy] = [
        ManualPolicy(),
        GlueRetriesPolicy(),
        BackoffRetriesPolicy(),
        RulesPolicy(scenario, seed),
        LearnedPolicy(scenario, seed),
        OraclePolicy(scenario),
    ]
    if with_gated_oracle:
        policies.append(OraclePolicy(scenario, gated=True))
    return policies


__all__ = [
    "BackoffRetriesPolicy",
    "DeployedPolicy",
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
