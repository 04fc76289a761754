"""Propose: the Q-learning policy picks an action among those the safety gate would allow."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from selfheal_core.domain.incident import EventType
from selfheal_core.domain.qlearning import (
    ACTION_INDEX,
    LearnerSettings,
    QLearningPolicy,
    QTable,
    job_state_key,
    state_key,
)
from selfheal_core.domain.rules import rule_action
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.ports import EventStore, QTableStore
from selfheal_core.steps.common import context_for, gate_for, load_incident

LEARNED = "learned"
RULES = "rules"


def exploration_rng(incident_id: str, attempt: int, seed: str) -> np.random.Generator:
    """Exploration is reproducible per incident and attempt: a replay makes the same choices."""
    digest = hashlib.sha256(f"{seed}\x00{incident_id}\x00{attempt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def run(
    incident_id: str,
    store: EventStore,
    qtable: QTableStore,
    learner: LearnerSettings,
    safety: SafetySettings,
    explore: bool,
    exploration_seed: str = "",
    policy_name: str = "learned",
) -> dict[str, Any]:
    incident = load_incident(store, incident_id)
    attempt = len(incident.attempts) + 1
    rng = exploration_rng(incident_id, attempt, exploration_seed)
    ctx = context_for(incident, attempt, incident.previous_actions)
    allowed = gate_for(safety).allowed_actions(ctx)

    keys = [state_key(ctx), job_state_key(ctx)]
    policy = QLearningPolicy(QTable(qtable.load_rows(keys)), learner, rng)
    q_values = policy.q_values(ctx)
    if policy_name == RULES:
        # The rulebook, behind the same gate: a conservative mode to run until the learned table is trusted.
        greedy = action = rule_action(ctx)
    else:
        action = policy.select_action(ctx, allowed, explore=explore)
        greedy = policy.greedy_action(ctx, allowed)

    store.append(
        incident_id,
        EventType.PROPOSED,
        {
            "attempt": attempt,
            "action": action.value,
            "explored": action != greedy,
            "policy": policy_name,
            "allowed": [a.value for a in allowed],
            "state": state_key(ctx),
            "q_values": {a.value: round(float(q_values[i]), 4) for a, i in ACTION_INDEX.items()},
        },
    )
    return {"attempt": attempt, "action": action.value, "explored": action != greedy}
