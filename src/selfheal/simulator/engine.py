"""Engines run one incident under one policy. The in-process engine is the fast one used for evaluation;
a Step Functions engine (the deployed state machine run locally) implements the same small interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.qlearning import ACTION_INDEX
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.vocabulary import ACTIONS, Action

from selfheal.simulator.policies import Policy, Step, StepRecord, attempt_minutes
from selfheal.simulator.scenario import Scenario
from selfheal.simulator.world import Incident


@dataclass(frozen=True)
class IncidentResult:
    index: int
    minutes: float  # time to resolve, human time included
    automated: bool  # resolved with no human involved
    # A human was called: ``escalate`` executed (chosen, substituted by the gate, forced by the budget) or
    # data damaged. A failed ``log_and_wait`` goes to a human without an escalation: the next scheduled
    # run's own failure alert reaches the owner.
    escalated: bool
    harmful: int
    blocked: int  # proposals the gate replaced by ``escalate``
    wasted_runs: int
    human_hours: float
    actions: int  # automated actions executed (everything but ``escalate``)
    gate_forbidden: int = 0  # ungated policies only: executed actions the gate would have forbidden


class Engine(Protocol):
    name: str

    def run_incident(self, incident: Incident, policy: Policy) -> IncidentResult: ...


class IncidentTally:
    """The scenario's semantics for one incident, one executed action at a time.

    Both engines feed it what was decided at each attempt (the in-process engine from the policy it
    runs, the Step Functions engine from the events the deployed handlers recorded), so time, harm,
    human time and outcomes are computed by the same code whichever engine decided.
    """

    def __init__(self, scenario: Scenario, incident: Incident) -> None:
        self.scenario = scenario
        self.incident = incident
        self.records: list[StepRecord] = []
        self.minutes = scenario.detection_seconds / 60.0
        self.human_hours = 0.0
        self.automated = self.escalated = False
        self.harmful = self.blocked = self.wasted = self.actions = self.forbidden = 0
        self.over = False

    def step(
        self,
        attempt: int,
        ctx: DecisionContext,
        allowed: tuple[Action, ...],
        proposed: Action,
        action: Action,
        wait: float,
        *,
        vetoed: bool = False,
        forced: bool = False,
    ) -> StepRecord:
        """Execute ``action`` at ``attempt`` (``wait``: minutes waited before the run) and account for it;
        ``over`` tells whether the incident ended with it."""
        scenario, incident, mode = self.scenario, self.incident, self.incident.mode
        self.blocked += vetoed
        step_minutes = attempt_minutes(scenario, incident.job, action, wait)
        self.minutes += step_minutes
        resolved = is_harmful = wasted_run = False
        human_factor = 0.0
        if action is Action.ESCALATE:
            self.escalated, human_factor = True, 1.0
        else:
            self.actions += 1
            if action in mode.harm:
                # The damage is found and a human is called to repair it: an escalation.
                is_harmful, self.escalated, human_factor = True, True, 2.0
                self.harmful += 1
            else:
                resolved = self.run_succeeds(attempt, action)
                if not resolved and action is Action.LOG_AND_WAIT:
                    human_factor = 1.0  # the next scheduled run failed too: a human takes it
                wasted_run = not resolved and action is not Action.LOG_AND_WAIT
                self.wasted += wasted_run
        record = StepRecord(
            ctx,
            allowed,
            proposed,
            action,
            step_minutes,
            resolved,
            wasted_run,
            vetoed,
            is_harmful,
            human_factor,
            forced,
        )
        self.records.append(record)
        if human_factor > 0:
            hours = incident.human_hours(scenario, human_factor)
            self.human_hours += hours
            self.minutes += hours * 60.0
            self.over = True
        elif resolved:
            self.automated = True
            self.over = True
        return record

    def run_succeeds(self, attempt: int, action: Action) -> bool:
        """Whether executing ``action`` at ``attempt`` resolves the incident (common random numbers).
        A harmful action never does: its damage needs a human."""
        mode = self.incident.mode
        if action in mode.harm or action is Action.ESCALATE:
            return False
        p = mode.fix.get(action, 0.0)
        return self.incident.run_succeeds(attempt, ACTION_INDEX[action], p)

    def result(self) -> IncidentResult:
        return IncidentResult(
            index=self.incident.index,
            minutes=self.minutes,
            automated=self.automated,
            escalated=self.escalated,
            harmful=self.harmful,
            blocked=self.blocked,
            wasted_runs=self.wasted,
            human_hours=self.human_hours,
            actions=self.actions,
            gate_forbidden=self.forbidden,
        )


class InProcessEngine:
    """Runs the scenario's semantics directly, with the deployed gate and diagnosis code."""

    name = "inprocess"

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.gate = SafetyGate(SafetySettings(max_attempts=scenario.max_attempts))

    def run_incident(self, incident: Incident, policy: Policy) -> IncidentResult:
        scenario, gate = self.scenario, self.gate
        budget = policy.attempt_budget(scenario)
        tally = IncidentTally(scenario, incident)
        previous: list[Action] = []
        attempt = 1
        while True:
            ctx = incident.diagnosis.context(attempt, previous)
            forced = budget is not None and attempt > budget
            vetoed = False
            if forced:
                allowed: tuple[Action, ...] = (Action.ESCALATE,)
                proposed = action = Action.ESCALATE
            elif policy.gated:
                allowed = gate.allowed_actions(ctx)
                proposed = policy.choose(Step(incident, ctx, allowed, attempt))
                review = gate.review(proposed, ctx)
                action, vetoed = review.action, review.vetoed
            else:
                allowed = ACTIONS
                proposed = action = policy.choose(Step(incident, ctx, allowed, attempt))
                tally.forbidden += bool(gate.violations(action, ctx))

            wait = policy.wait_minutes(action, attempt, scenario)
            tally.step(attempt, ctx, allowed, proposed, action, wait, vetoed=vetoed, forced=forced)
            if tally.over:
                break
            previous.append(action)
            attempt += 1

        policy.observe(incident, tally.records)
        return tally.result()
