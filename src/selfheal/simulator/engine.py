"""Engines run one incident under one policy. The in-process engine is the fast one used for evaluation;
a Step Functions engine (the deployed state machine run locally) implements the same small interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class InProcessEngine:
    """Runs the scenario's semantics directly, with the deployed gate and diagnosis code."""

    name = "inprocess"

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.gate = SafetyGate(SafetySettings(max_attempts=scenario.max_attempts))

    def run_incident(self, incident: Incident, policy: Policy) -> IncidentResult:
        scenario, gate, mode = self.scenario, self.gate, incident.mode
        budget = policy.attempt_budget(scenario)
        records: list[StepRecord] = []
        previous: list[Action] = []
        minutes = scenario.detection_seconds / 60.0
        human_hours = 0.0
        automated = escalated = False
        harmful = blocked = wasted = actions = forbidden = 0
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
                blocked += vetoed
            else:
                allowed = ACTIONS
                proposed = action = policy.choose(Step(incident, ctx, allowed, attempt))
                forbidden += bool(gate.violations(action, ctx))

            wait = policy.wait_minutes(action, attempt, scenario)
            step_minutes = attempt_minutes(scenario, incident.job, action, wait)
            minutes += step_minutes
            resolved = is_harmful = wasted_run = False
            human_factor = 0.0
            if action is Action.ESCALATE:
                escalated, human_factor = True, 1.0
            else:
                actions += 1
                if action in mode.harm:
                    # The damage is found and a human is called to repair it: an escalation.
                    is_harmful, escalated, human_factor = True, True, 2.0
                    harmful += 1
                else:
                    p = mode.fix.get(action, 0.0)
                    resolved = incident.run_succeeds(attempt, ACTION_INDEX[action], p)
                    if not resolved and action is Action.LOG_AND_WAIT:
                        human_factor = 1.0  # the next scheduled run failed too: a human takes it
                    wasted_run = not resolved and action is not Action.LOG_AND_WAIT
                    wasted += wasted_run
            records.append(
                StepRecord(
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
            )
            if human_factor > 0:
                hours = incident.human_hours(scenario, human_factor)
                human_hours += hours
                minutes += hours * 60.0
                break
            if resolved:
                automated = True
                break
            previous.append(action)
            attempt += 1

        policy.observe(incident, records)
        return IncidentResult(
            index=incident.index,
            minutes=minutes,
            automated=automated,
            escalated=escalated,
            harmful=harmful,
            blocked=blocked,
            wasted_runs=wasted,
            human_hours=human_hours,
            actions=actions,
            gate_forbidden=forbidden,
        )
