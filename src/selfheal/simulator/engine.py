"""Engines run one incident under one policy. The in-process engine is the fast one used for evaluation;
a Step Functions engine (the deployed state machine run locally) implements the same small interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from selfheal_core.adapters.memory import MemoryEventStore
from selfheal_core.contracts import HumanAnswer
from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.events import Diagnosed, DomainEvent, Executed, Opened, Validated
from selfheal_core.domain.incident import IncidentState, evolve, incident_id_for
from selfheal_core.domain.qlearning import ACTION_INDEX
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.steps import answers, learn, propose, safety_gate
from selfheal_core.steps import escalate as escalate_step
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import ACTIONS, GLUE_ACTIONS, Action

from selfheal.simulator.policies import DeployedPolicy, Policy, Step, StepRecord, attempt_minutes
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
    # Resolved by an action a human approved (then ``automated`` is False): approve-then-execute.
    assisted: bool = False
    approval_requests: int = 0
    approvals_granted: int = 0
    approval_minutes: float = 0.0  # waited for answers (in ``minutes``; not human work)


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
        self.automated = self.escalated = self.assisted = False
        self.harmful = self.blocked = self.wasted = self.actions = self.forbidden = 0
        self.requests = self.granted = 0
        self.approval_minutes = 0.0
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
        approval: bool = False,
    ) -> StepRecord:
        """Execute ``action`` at ``attempt`` (``wait``: minutes waited before the run) and account for it;
        ``over`` tells whether the incident ended with it. With ``approval`` the gate asked a human first:
        the answer's time is waited, and a rejection goes to a human fix as ``escalate`` does."""
        scenario, incident, mode = self.scenario, self.incident, self.incident.mode
        self.blocked += vetoed
        approved = True
        answer_minutes = 0.0
        if approval:
            answer_minutes, approved = self.ask_approval()
        if approved:
            step_minutes = attempt_minutes(scenario, incident.job, action, wait) + answer_minutes
        else:  # nothing runs: the decision, then the wait for the answer
            step_minutes = scenario.decision_seconds / 60.0 + answer_minutes
        self.minutes += step_minutes
        resolved = is_harmful = wasted_run = False
        human_factor = 0.0
        if action is Action.ESCALATE or not approved:
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
            approval,
            not approved,
        )
        self.records.append(record)
        if human_factor > 0:
            hours = incident.human_hours(scenario, human_factor)
            self.human_hours += hours
            self.minutes += hours * 60.0
            self.over = True
        elif resolved:
            # The fix that held ran after a human approved it: assisted, not automated.
            self.assisted, self.automated = approval, not approval
            self.over = True
        return record

    def ask_approval(self) -> tuple[float, bool]:
        """(minutes to the answer, approved) for the incident's next approval request, drawn with
        common random numbers. A scenario without approvals never answers: a human takes it over."""
        approvals = self.scenario.active_approvals
        self.requests += 1
        if approvals is None:
            return 0.0, False
        minutes, approved = self.incident.approval(approvals, self.requests)
        self.granted += approved
        self.approval_minutes += minutes
        return minutes, approved

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
            assisted=self.assisted,
            approval_requests=self.requests,
            approvals_granted=self.granted,
            approval_minutes=self.approval_minutes,
        )


class NullNotifier:
    """The simulated on-call reads the incident log, not the message."""

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        return ""


def run_id_for(incident: Incident) -> str:
    """The failed run's id: the same on both engines, so the incident id, and with it the exploration
    draws of the Propose step, are the same too."""
    return f"jr_selfheal_sim_{incident.index:06d}"


def oncall_answer(harmed: bool) -> HumanAnswer:
    """The simulated on-call's answer: they fixed it, and say so when an automated action damaged data."""
    return HumanAnswer("fixed", by="local-oncall", notes="fixed by hand", harmful=harmed)


def approval_answer(approved: bool, harmed: bool) -> dict[str, Any]:
    """The simulated on-call's answer to an approval request (the answer payload SendTaskSuccess
    carries), from the world's draw. After a rejection the state machine goes straight to Learn with
    this answer: the human fixes it by hand, and says so when an earlier automated action damaged data."""
    if approved:
        return {"decision": "approve", "answered_by": "local-oncall", "note": "approved"}
    return {
        "decision": "reject",
        "answered_by": "local-oncall",
        "note": "rejected; fixed by hand",
        "harmful": harmed,
    }


@dataclass(frozen=True)
class DeployedSettings:
    """What the deployed Lambdas would be configured with to run this scenario (both engines use it)."""

    safety: SafetySettings
    backoff_seconds: float

    @classmethod
    def for_scenario(cls, scenario: Scenario, safety: SafetySettings | None = None) -> DeployedSettings:
        """``safety``: the gate's settings when an operator changed them from the scenario's
        (benchmarks/causes_from_facts.py); None: ``safety_settings(scenario)``."""
        return cls(safety or safety_settings(scenario), scenario.backoff_minutes * 60.0)


def safety_settings(scenario: Scenario) -> SafetySettings:
    """The deployed gate's settings for the scenario: its attempt budget, and approvals if it has them."""
    return SafetySettings(
        max_attempts=scenario.max_attempts, ask_approval=scenario.active_approvals is not None
    )


class InProcessEngine:
    """Runs the scenario's semantics directly, with the deployed gate and diagnosis code. Policies the
    deployed system runs (``rules``, ``learned``) go through the deployed steps, as the state machine
    would call them; only Glue is simulated."""

    name = "inprocess"

    def __init__(self, scenario: Scenario, safety: SafetySettings | None = None) -> None:
        """``safety``: as in ``DeployedSettings.for_scenario``."""
        self.scenario = scenario
        self.deployed = DeployedSettings.for_scenario(scenario, safety)
        self.gate = SafetyGate(self.deployed.safety)
        self.anomalies: list[str] = []

    def run_incident(self, incident: Incident, policy: Policy) -> IncidentResult:
        if isinstance(policy, DeployedPolicy):
            state = self.run_deployed(incident, policy)
            return account(self.scenario, incident, policy, state, self.anomalies.append)
        return self.run_policy(incident, policy)

    def run_policy(self, incident: Incident, policy: Policy) -> IncidentResult:
        """A baseline or the oracle: the policy chooses each attempt; the engine applies the gate."""
        scenario, gate = self.scenario, self.gate
        approvals = scenario.active_approvals is not None
        budget = policy.attempt_budget(scenario)
        tally = IncidentTally(scenario, incident)
        previous: list[Action] = []
        attempt = 1
        while True:
            ctx = incident.diagnosis.context(attempt, previous)
            forced = budget is not None and attempt > budget
            vetoed = approval = False
            if forced:
                allowed: tuple[Action, ...] = (Action.ESCALATE,)
                proposed = action = Action.ESCALATE
            elif policy.gated:
                allowed = gate.allowed_actions(ctx)
                # With approvals, the mask holds actions that need one: those the rules still forbid.
                approvable = tuple(a for a in allowed if gate.violations(a, ctx)) if approvals else ()
                if tally.requests:  # one approval per incident (as the deployed gate): no second one
                    allowed = tuple(a for a in allowed if a not in approvable)
                    approvable = ()
                proposed = policy.choose(Step(incident, ctx, allowed, attempt, approvable))
                review = gate.review(proposed, ctx)
                action, vetoed, approval = review.action, review.vetoed, review.needs_approval
                if approval and tally.requests:
                    action, vetoed, approval = Action.ESCALATE, True, False
            else:
                allowed = ACTIONS
                proposed = action = policy.choose(Step(incident, ctx, allowed, attempt))
                tally.forbidden += bool(gate.violations(action, ctx))

            wait = policy.wait_minutes(action, attempt, scenario)
            tally.step(
                attempt, ctx, allowed, proposed, action, wait, vetoed=vetoed, forced=forced, approval=approval
            )
            if tally.over:
                break
            previous.append(action)
            attempt += 1
        return tally.result()

    def run_deployed(self, incident: Incident, policy: DeployedPolicy) -> IncidentState:
        """One incident through the state machine's path (Diagnose → Propose → SafetyGate → [Escalate →
        Await Approval → Check Answer → Approved?] → Execute → Validate → ... → Escalate → Learn), with the
        deployed step code and the scenario's Glue."""
        store, settings = policy.store, self.deployed
        job, run_id = incident.job, run_id_for(incident)
        incident_id = incident_id_for(job.name, run_id)
        store.open(incident_id, Opened(job.name, run_id, "inprocess", {}))
        state = _append(store, incident_id, Diagnosed(incident.diagnosis))
        tally = IncidentTally(self.scenario, incident)
        harmed = False
        escalate = False
        answer: HumanAnswer | None = None
        while True:
            propose.run(
                incident_id,
                store,
                policy.qtable,
                policy.settings,
                settings.safety,
                explore=policy.explore,
                exploration_seed=policy.exploration_seed,
                policy_name=policy.policy_name,
            )
            gate = safety_gate.run(incident_id, store, settings.safety, settings.backoff_seconds)
            action = Action(gate.action)
            state = load_state(store, incident_id)
            number = len(state.attempts)
            if action is Action.ESCALATE:
                escalate = True
                break
            current = state.current_attempt
            if current is not None and current.needs_approval:
                answer = self.await_approval(incident_id, store, tally, harmed)
                if answer.decision != "approve":  # Approved? → Learn: the human owns it
                    break
                answer = None
            if action not in GLUE_ACTIONS:  # log_and_wait: nothing runs, the owner is told
                _append(store, incident_id, Executed(number, action))
                break
            harmed = harmed or action in incident.mode.harm
            attempt_run = f"{run_id}-{number}"
            _append(store, incident_id, Executed(number, action, attempt_run, awaiting_run=True))
            fixed = tally.run_succeeds(number, action)
            verdict = Validated(
                number,
                attempt_run,
                "SUCCEEDED" if fixed else "FAILED",
                final=True,
                fixed=fixed,
                reason=None if fixed else "run ended FAILED",
                elapsed_seconds=incident.job.runtime_minutes * 60.0,
            )
            state = _append(store, incident_id, verdict)
            if fixed:
                break
            if number >= settings.safety.max_attempts:
                escalate = True
                break
        workflow = {"incident_id": incident_id}
        escalated = answer is None and (escalate or action is Action.LOG_AND_WAIT)
        if escalated:
            result = escalate_step.run(workflow, None, store, NullNotifier(), True, 3600, "us-east-1")
            answer = oncall_answer(harmed) if result.await_human else None
        learn.run(
            incident_id,
            answer,
            store,
            policy.qtable,
            policy.settings,
            settings.safety,
            policy.learning,
            policy.terms,
        )
        return load_state(store, incident_id)

    def await_approval(
        self, incident_id: str, store: MemoryEventStore, tally: IncidentTally, harmed: bool
    ) -> HumanAnswer:
        """The held proposal's path in the state machine: Escalate sends the approval request, Await
        Approval records the wait's token, Check Answer records the simulated human's answer (the world's
        draw, which ``account`` reads again) and returns it for Approved?."""
        workflow = {"incident_id": incident_id}
        request = escalate_step.run(workflow, None, store, NullNotifier(), True, 3600, "us-east-1")
        state = load_state(store, incident_id)
        token = f"{incident_id}:approval:{state.next_seq}"
        answers.request(incident_id, request.question or "approval", token, request.timeout_seconds, store)
        _, approved = tally.ask_approval()
        return answers.record(incident_id, approval_answer(approved, harmed), store)


def _append(store: MemoryEventStore, incident_id: str, event: DomainEvent) -> IncidentState:
    state = load_state(store, incident_id)
    return evolve(state, store.append(incident_id, event, state.next_seq))


def account(
    scenario: Scenario,
    incident: Incident,
    policy: Policy,
    recorded: IncidentState,
    anomaly: Callable[[str], None],
) -> IncidentResult:
    """The incident's result from what the deployed steps recorded, with the scenario's formulas: the
    same accounting whichever engine ran the steps."""
    tally = IncidentTally(scenario, incident)
    previous: list[Action] = []
    number = 0
    for number, attempt in enumerate(recorded.attempts, start=1):
        if attempt.proposed is None or attempt.action is None:
            anomaly(f"incident {incident.index}: attempt {number} was never gated")
            break
        ctx = incident.diagnosis.context(number, previous)
        approval = attempt.gated is not None and bool(attempt.gated.approval)
        if approval and scenario.active_approvals is None:
            anomaly(f"incident {incident.index}: attempt {number} asked for an approval the scenario has not")
        record = tally.step(
            number,
            ctx,
            attempt.allowed,
            attempt.proposed,
            attempt.action,
            policy.wait_minutes(attempt.action, number, scenario),
            vetoed=attempt.vetoed,
            approval=approval,
        )
        if record.rejected and attempt.executed is not None:
            anomaly(f"incident {incident.index}: attempt {number} ran {attempt.action.value}, rejected")
        ran = attempt.action in GLUE_ACTIONS and not record.harmful
        if ran and attempt.fixed is not None and attempt.fixed != record.resolved:
            anomaly(
                f"incident {incident.index}: attempt {number} ({attempt.action.value}): the state machine"
                f" saw fixed={attempt.fixed}, the scenario says {record.resolved}"
            )
        if tally.over:
            # A harmful action ends the incident here (a human repairs the damage), even though the
            # state machine, which only saw the run fail, may have gone on to another attempt.
            return tally.result()
        previous.append(attempt.action)
    if number < scenario.max_attempts:
        anomaly(
            f"incident {incident.index}: escalated after {number} attempt(s), before the budget of "
            f"{scenario.max_attempts} ({recorded.escalation_reason or 'no reason recorded'})"
        )
    # The attempt budget is spent: the state machine escalates.
    ctx = incident.diagnosis.context(number + 1, previous)
    tally.step(number + 1, ctx, (Action.ESCALATE,), Action.ESCALATE, Action.ESCALATE, 0.0, forced=True)
    return tally.result()
