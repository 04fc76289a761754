"""Propose: the Q-learning policy picks an action among those the safety gate would allow."""

from __future__ import annotations

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import ProposeResult
from selfheal_core.domain import decisions
from selfheal_core.domain.events import Proposed
from selfheal_core.domain.qlearning import LearnerSettings, QLearningPolicy, QTable, job_state_key, state_key
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.ports import EventStore, QTableStore
from selfheal_core.steps.common import load_state


def run(
    incident_id: str,
    store: EventStore,
    qtable: QTableStore,
    learner: LearnerSettings,
    safety: SafetySettings,
    explore: bool,
    exploration_seed: str = "",
    policy_name: str = decisions.LEARNED,
) -> ProposeResult:
    def propose_once() -> ProposeResult:
        state = load_state(store, incident_id)
        current = state.current_attempt
        if current is not None and current.action is None and current.proposed is not None:
            # A retried Propose (its response was lost): the proposal stands, no attempt is burnt.
            records = reversed(store.load(incident_id))
            recorded = next(r.event for r in records if isinstance(r.event, Proposed))
            return ProposeResult(recorded.attempt, recorded.action.value, recorded.explored)
        ctx = state.next_context()
        rows = qtable.load_rows([state_key(ctx), job_state_key(ctx)])
        rng = decisions.exploration_rng(incident_id, ctx.attempt, exploration_seed)
        policy = QLearningPolicy(QTable.from_rows(rows), learner, rng)
        proposed = decisions.propose(
            state, policy, SafetyGate(safety), explore=explore, policy_name=policy_name
        )
        store.append(incident_id, proposed, state.next_seq)
        return ProposeResult(proposed.attempt, proposed.action.value, proposed.explored)

    return retry_on_conflict(propose_once)
