"""The pure decisions of each step, over the typed incident state.

Each step of the state machine is load → decide → append; the deciding is here, so the Lambdas and the
in-process simulator take exactly the same decisions and learn exactly the same updates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from selfheal_core.domain.events import Gated, Proposed
from selfheal_core.domain.incident import Attempt, IncidentState, Outcome
from selfheal_core.domain.learning import ACTION_INDEX, Transition, state_key
from selfheal_core.domain.reward import RewardWeights, StepOutcome, step_reward
from selfheal_core.domain.rules import rule_action
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.domain.storm import STORM_RULES
from selfheal_core.vocabulary import GLUE_ACTIONS, Action

if TYPE_CHECKING:  # numpy is loaded by the functions that learn or propose, not by the others
    import numpy as np

    from selfheal_core.domain.qlearning import QLearningPolicy

LEARNED = "learned"
RULES = "rules"
POLICIES = (LEARNED, RULES)


def exploration_rng(incident_id: str, attempt: int, seed: str) -> np.random.Generator:
    """Exploration is reproducible per incident and attempt: a replay makes the same choices."""
    import numpy as np

    digest = hashlib.sha256(f"{seed}\x00{incident_id}\x00{attempt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def propose(
    state: IncidentState,
    policy: QLearningPolicy,
    gate: SafetyGate,
    *,
    explore: bool,
    policy_name: str = LEARNED,
) -> Proposed:
    """The next attempt's action: the Q-policy (or the rulebook) among the actions the gate allows."""
    ctx = state.next_context()
    allowed = gate.allowed_actions(ctx)
    q_values = policy.q_values(ctx)
    if policy_name == RULES:
        # The rulebook behind the same gate: a conservative mode to run until the learned table is trusted.
        greedy = action = rule_action(ctx)
    else:
        action = policy.select_action(ctx, allowed, explore=explore)
        greedy = policy.greedy_action(ctx, allowed)
    return Proposed(
        attempt=ctx.attempt,
        action=action,
        explored=action is not greedy,
        policy=policy_name,
        allowed=allowed,
        state=state_key(ctx),
        q_values={a.value: round(float(q_values[i]), 4) for a, i in ACTION_INDEX.items()},
    )


def review(attempt: Attempt, state: IncidentState, settings: SafetySettings, backoff_seconds: float) -> Gated:
    """The gate's verdict on the proposal in progress, and the backoff (1x, 2x, 4x...) it sets."""
    if attempt.proposed is None:
        raise ValueError("the attempt has no proposal to review")
    gate = SafetyGate(settings)
    ctx = state.current_context()
    decision = gate.review(attempt.proposed, ctx)
    if decision.needs_approval and any(a.needs_approval for a in state.attempts if a is not attempt):
        # One approval per incident: when the approved fix did not hold, the next risky action is for the
        # human to take (and the execution's 48 h holds at most one approval wait).
        decision = replace(decision, action=Action.ESCALATE, rules_fired=decision.approval, approval=())
    wait = 0
    if decision.action is Action.BACKOFF_RETRY:
        wait = int(backoff_seconds * 2 ** (attempt.number - 1))
    return Gated(
        attempt=attempt.number,
        proposed=decision.proposed,
        action=decision.action,
        rules_fired=decision.rules_fired,
        masked={a.value: tuple(rules) for a, rules in gate.mask_reasons(ctx).items()},
        constraints=tuple(gate.constraints(ctx, rule_action(ctx))),
        shadow=decision.shadow,
        kill_switch=settings.kill_switch,
        mode=settings.mode,
        wait_seconds=wait,
        approval=decision.approval,
        autonomy=decision.autonomy,
    )


@dataclass(frozen=True)
class LearningTerms:
    """How an incident's record is priced: the reward weights and the fixed decision time per attempt."""

    weights: RewardWeights = field(default_factory=RewardWeights)
    decision_minutes: float = 5.0 / 60.0  # diagnose + propose + gate take seconds


def transitions(state: IncidentState, gate: SafetyGate, terms: LearningTerms) -> list[Transition]:
    """One Q-learning transition per attempt the policy decided, from the incident's record alone.

    - Shadow and kill-switch attempts teach nothing: nothing the policy chose was executed.
    - A vetoed proposal carries the veto penalty: it is what the policy chose.
    - ``escalate`` costs the human's time (their answer's ``minutes_to_fix``, else the expected hours);
      so does the last attempt when it ran and did not fix the run (the attempt budget escalates).
    - ``log_and_wait`` whose outcome is not in the record is priced as a wait for the next scheduled run
      followed by a hand-over to the job's owner: the record cannot tell whether that run fixed it.
    - A human who reports that an automated action damaged data charges the harm to the last action.
    """
    steps = [a for a in state.attempts if a.action is not None and a.proposed is not None]
    if any(a.shadow or a.kill_switch or set(a.rules_fired) & set(STORM_RULES) for a in steps):
        return []  # storm control stopped it: nothing the policy chose was tried
    answer = state.answer
    human_hours = None
    if answer is not None and answer.minutes_to_fix is not None:
        human_hours = answer.minutes_to_fix / 60.0
    harmful = answer is not None and answer.harmful
    out: list[Transition] = []
    previous: tuple[Action, ...] = ()
    for index, attempt in enumerate(steps):
        assert attempt.action is not None and attempt.proposed is not None
        ctx = state.context(attempt.number, previous)
        last = index == len(steps) - 1
        # An action held for an approval that never came did not run: a human took the incident.
        ran = attempt.action in GLUE_ACTIONS and not attempt.held
        waited_blind = attempt.action is Action.LOG_AND_WAIT and attempt.fixed is None and not attempt.held
        escalated = (
            attempt.action is Action.ESCALATE
            or waited_blind
            or attempt.held
            or (last and ran and not attempt.fixed)
        )
        blind_wait = terms.weights.unobserved_wait_hours * 60.0 if waited_blind else 0.0
        outcome = StepOutcome(
            elapsed_minutes=terms.decision_minutes
            + attempt.wait_seconds / 60.0
            + attempt.elapsed_seconds / 60.0
            + blind_wait,
            resolved=bool(attempt.fixed),
            wasted_run=ran and attempt.fixed is False,
            # A human who rejects the proposal vetoes it as the gate would.
            vetoed=attempt.vetoed or attempt.approval_answer in ("reject", "rejected"),
            harmful=harmful and last and ran,
            escalated=escalated,
            human_hours=human_hours,
        )
        next_ctx = None
        if not last and not outcome.resolved and not escalated:
            next_ctx = state.context(attempt.number + 1, (*previous, attempt.action))
        allowed = gate.allowed_actions(next_ctx) if next_ctx is not None else ()
        out.append(Transition(ctx, attempt.proposed, step_reward(outcome, terms.weights), next_ctx, allowed))
        previous = (*previous, attempt.action)
        if outcome.resolved or escalated:
            break
    return out


def final_action(state: IncidentState) -> Action:
    """What finally happened: the last gated action if it resolved or was a wait, else escalate."""
    final = state.current_attempt
    if final is None or final.action is None:
        return Action.ESCALATE
    if state.outcome is Outcome.RESOLVED or final.action is Action.LOG_AND_WAIT:
        return final.action
    return Action.ESCALATE
