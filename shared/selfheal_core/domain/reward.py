"""The reward, in one place. Units are hours of broken data, so the return of an incident is minus its
time to resolve plus explicit costs; maximising it minimises MTTR, wasted runs and human time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RewardWeights:
    # Expected hours for a human to fix an escalated incident (used when the real figure is not known).
    human_hours: float = 20.0
    # A run that failed again costs DPU-hours and an on-call glance beyond its runtime.
    wasted_run_hours: float = 0.25
    # Proposing something the safety gate vetoes is a policy mistake even though nothing ran.
    veto_penalty_hours: float = 1.0
    # Damaging data is far worse than any delay: a human must repair data and downstream consumers.
    harm_penalty_hours: float = 200.0
    # ``log_and_wait`` whose outcome nobody recorded: the data stays broken until the next scheduled run
    # (a day for a daily job) and then, as far as the log can tell, a human takes over.
    unobserved_wait_hours: float = 24.0


@dataclass(frozen=True)
class StepOutcome:
    """What one attempt cost and how it ended, as checked by Validate."""

    elapsed_minutes: float
    resolved: bool = False
    wasted_run: bool = False
    vetoed: bool = False
    harmful: bool = False
    escalated: bool = False
    human_hours: float | None = None


def step_reward(outcome: StepOutcome, weights: RewardWeights = RewardWeights()) -> float:
    reward = -outcome.elapsed_minutes / 60.0
    if outcome.wasted_run:
        reward -= weights.wasted_run_hours
    if outcome.vetoed:
        reward -= weights.veto_penalty_hours
    if outcome.harmful:
        reward -= weights.harm_penalty_hours
    if outcome.escalated:
        reward -= outcome.human_hours if outcome.human_hours is not None else weights.human_hours
    return reward
