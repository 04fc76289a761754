"""Learn: turn the checked outcome into rewards and Q-updates, written with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfheal_core.domain.incident import EventType, Incident, Outcome
from selfheal_core.domain.qlearning import (
    LearnerSettings,
    QEntry,
    QLearningPolicy,
    QTable,
    Transition,
    job_state_key,
    once,
    state_key,
)
from selfheal_core.domain.reward import RewardWeights, StepOutcome, step_reward
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.ports import EventStore, QTableStore
from selfheal_core.steps.common import context_for, load_incident
from selfheal_core.vocabulary import GLUE_ACTIONS, Action

DECISION_MINUTES = 5.0 / 60.0  # diagnose + propose + gate take seconds


def transitions_of(
    incident: Incident,
    gate: SafetyGate,
    weights: RewardWeights,
    human_hours: float | None,
) -> list[Transition]:
    """One transition per attempt the policy decided; shadow and kill-switch attempts teach nothing."""
    steps = [a for a in incident.attempts if a.action is not None and a.proposed is not None]
    if any(a.shadow or a.kill_switch for a in steps):
        return []
    transitions: list[Transition] = []
    previous: tuple[Action, ...] = ()
    for index, attempt in enumerate(steps):
        assert attempt.action is not None and attempt.proposed is not None
        ctx = context_for(incident, attempt.number, previous)
        if attempt.action is Action.LOG_AND_WAIT:
            break  # the next scheduled run decides; there is no outcome to learn from yet
        ran = attempt.action in GLUE_ACTIONS
        last = index == len(steps) - 1
        escalated = attempt.action is Action.ESCALATE or (last and not attempt.fixed and ran)
        minutes = DECISION_MINUTES + attempt.wait_seconds / 60.0 + attempt.elapsed_seconds / 60.0
        outcome = StepOutcome(
            elapsed_minutes=minutes,
            resolved=bool(attempt.fixed),
            wasted_run=ran and attempt.fixed is False,
            vetoed=attempt.proposed != attempt.action,
            escalated=escalated,
            human_hours=human_hours,
        )
        reward = step_reward(outcome, weights)
        # A vetoed proposal is what the policy chose: it carries the penalty.
        action = attempt.proposed
        next_ctx = None
        if not last and not outcome.resolved and not escalated:
            next_ctx = context_for(incident, attempt.number + 1, (*previous, attempt.action))
        allowed = gate.allowed_actions(next_ctx) if next_ctx is not None else ()
        transitions.append(Transition(ctx, action, reward, next_ctx, allowed))
        previous = (*previous, attempt.action)
        if outcome.resolved or escalated:
            break
    return transitions


def final_action(incident: Incident) -> Action:
    """What finally happened: the last gated action if it resolved or was a wait, else escalate."""
    final = incident.current_attempt
    if final is None or final.action is None:
        return Action.ESCALATE
    if incident.outcome is Outcome.RESOLVED or final.action is Action.LOG_AND_WAIT:
        return final.action
    return Action.ESCALATE


def run(
    incident_id: str,
    human: Mapping[str, Any] | None,
    store: EventStore,
    qtable: QTableStore,
    learner: LearnerSettings,
    safety: SafetySettings,
    learning_enabled: bool,
    weights: RewardWeights | None = None,
) -> dict[str, Any]:
    incident = load_incident(store, incident_id)
    if human and incident.human_decision is None:  # a retried Learn records the answer once
        store.append(incident_id, EventType.HUMAN_DECIDED, dict(human))
        incident = load_incident(store, incident_id)
    human_hours = None
    if human and human.get("minutes_to_fix") is not None:
        human_hours = float(human["minutes_to_fix"]) / 60.0

    updates = 0
    total_reward = 0.0
    if learning_enabled and not incident.learned:
        transitions = transitions_of(incident, SafetyGate(safety), weights or RewardWeights(), human_hours)
        keys = {
            k
            for t in transitions
            for ctx in (t.state, t.next_state)
            if ctx
            for k in (state_key(ctx), job_state_key(ctx))
        }
        policy = QLearningPolicy(QTable(qtable.load_rows(keys)), learner)
        for index, transition in reversed(list(enumerate(transitions))):
            for key, update in policy.row_updates(transition).items():
                apply = once(update, f"{incident_id}#{index}")
                written = qtable.apply(key, apply, QEntry.initial(transition.state, learner))
                policy.table.rows[key] = written
                updates += 1
            total_reward += transition.reward

    outcome = incident.outcome
    store.append(
        incident_id,
        EventType.LEARNED,
        {"outcome": outcome.value, "row_updates": updates, "return": round(total_reward, 4)},
    )
    return {
        "incident_id": incident_id,
        "outcome": outcome.value,
        "final_action": final_action(incident).value,
        "attempts": len(incident.attempts),
        "row_updates": updates,
    }
