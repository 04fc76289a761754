"""Learn: turn the checked outcome into rewards and Q-updates, written with optimistic concurrency."""

from __future__ import annotations

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import HumanAnswer, LearnResult
from selfheal_core.domain import decisions
from selfheal_core.domain.decisions import LearningTerms
from selfheal_core.domain.events import Answered, Learned
from selfheal_core.domain.incident import IncidentState, evolve
from selfheal_core.domain.qlearning import (
    LearnerSettings,
    QEntry,
    QLearningPolicy,
    QTable,
    job_state_key,
    once,
    state_key,
)
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.ports import EventStore, QTableStore
from selfheal_core.steps.common import load_state


def answered(human: HumanAnswer) -> Answered:
    return Answered(
        decision=human.decision,
        by=human.by,
        notes=human.notes,
        minutes_to_fix=human.minutes_to_fix,
        harmful=human.harmful,
    )


def apply_learning(
    state: IncidentState,
    qtable: QTableStore,
    learner: LearnerSettings,
    gate: SafetyGate,
    terms: LearningTerms,
) -> tuple[int, float]:
    """The incident's Q-updates, last step first, each applied at most once per row (a retried Learn
    re-applies nothing); returns (row updates, the episode's return). The simulator calls this too."""
    transitions = decisions.transitions(state, gate, terms)
    keys = {
        k
        for t in transitions
        for ctx in (t.state, t.next_state)
        if ctx
        for k in (state_key(ctx), job_state_key(ctx))
    }
    policy = QLearningPolicy(QTable(qtable.load_rows(keys)), learner)
    updates = 0
    for index, transition in reversed(list(enumerate(transitions))):
        for key, update in policy.row_updates(transition).items():
            initial = QEntry.initial(transition.state, learner)
            policy.table.put(key, qtable.apply(key, once(update, f"{state.incident_id}#{index}"), initial))
            updates += 1
    return updates, sum(t.reward for t in transitions)


def run(
    incident_id: str,
    human: HumanAnswer | None,
    store: EventStore,
    qtable: QTableStore,
    learner: LearnerSettings,
    safety: SafetySettings,
    learning_enabled: bool,
    terms: LearningTerms | None = None,
) -> LearnResult:
    terms = terms or LearningTerms()

    def learn_once() -> LearnResult:
        state = load_state(store, incident_id)
        if human is not None and state.answer is None:  # a retried Learn records the answer once
            state = evolve(state, store.append(incident_id, answered(human), state.next_seq))
        updates, total = 0, 0.0
        if learning_enabled and not state.learned:
            updates, total = apply_learning(state, qtable, learner, SafetyGate(safety), terms)
        if not state.learned:
            learned = Learned(state.outcome.value, updates, round(total, 4))
            state = evolve(state, store.append(incident_id, learned, state.next_seq))
        return LearnResult(
            incident_id=incident_id,
            outcome=state.outcome.value,
            final_action=decisions.final_action(state).value,
            attempts=len(state.attempts),
            row_updates=updates,
        )

    return retry_on_conflict(learn_once)
