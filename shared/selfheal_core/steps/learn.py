"""Learn: turn the checked outcome into rewards and Q-updates, each applied exactly once."""

from __future__ import annotations

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import HumanAnswer, LearnResult
from selfheal_core.domain import decisions
from selfheal_core.domain.decisions import LearningTerms
from selfheal_core.domain.events import Answered, Learned
from selfheal_core.domain.incident import IncidentState, evolve
from selfheal_core.domain.learning import QRow, QUpdate
from selfheal_core.domain.qlearning import (
    LearnerSettings,
    QEntry,
    QLearningPolicy,
    QTable,
    job_state_key,
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
        category=human.category,
        action=human.action,
    )


def apply_learning(
    state: IncidentState,
    qtable: QTableStore,
    learner: LearnerSettings,
    gate: SafetyGate,
    terms: LearningTerms,
) -> tuple[int, float]:
    """The incident's Q-updates, last step first; returns (row updates, the episode's return). The
    simulator calls this too.

    Each update is keyed ``<incident>#<transition>#<row>`` and the store applies it exactly once (its record
    and the row's increments in one atomic write), so a Learn retried after writing some rows, however much
    later, applies only the rest; concurrent Learns on one row never conflict. Targets bootstrap from the
    rows as read and as this Learn updated them."""
    transitions = decisions.transitions(state, gate, terms)
    keys = {
        k
        for t in transitions
        for ctx in (t.state, t.next_state)
        if ctx
        for k in (state_key(ctx), job_state_key(ctx))
    }
    rows = qtable.load_rows(keys)
    policy = QLearningPolicy(QTable.from_rows(rows), learner)
    updates = 0
    for index, transition in reversed(list(enumerate(transitions))):
        target = policy.target(transition)
        initial = QEntry.initial(transition.state, learner).to_row(learner)
        for key in (state_key(transition.state), job_state_key(transition.state)):
            row: QRow = rows.get(key, initial)
            update = QUpdate.of(
                f"{state.incident_id}#{index}#{key}",
                key,
                row,
                transition.action,
                target,
                learner.learning_rate,
            )
            if qtable.apply(update):
                rows[key] = row.plus(update)
                policy.table.put(key, QEntry.from_row(rows[key]))
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
        # The answer is recorded once (a retried Learn, or Check Answer, may have recorded it already).
        if human is not None and (state.waiting is not None or state.answer is None):
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
