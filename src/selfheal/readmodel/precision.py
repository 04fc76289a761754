"""How often proposals agreed with the fix that worked, and what that evidence allows.

Domain-free: an observation is a group (a failure category), a proposal (an action's name) and what is
known of the fix. Precision is agreed / known, where *known* counts the incidents whose fix is known, or
whose proposal is known to be wrong (a human rejected it, or it ran and did not hold); an incident whose
fix is unknown adds to the proposals and to nothing else. The interval is Wilson's score interval at 95%,
which stays inside [0, 1] and is honest for small counts and for precisions near 1, where the normal
approximation claims too much.

Recommendation (per group, and per group and proposal):
* ``auto`` when at least ``MIN_AUTO`` incidents are known and the interval's lower bound is at least
  ``AUTO_LOWER_BOUND`` (0.90). With perfect agreement this needs 35 known incidents (Wilson's lower bound
  of 35/35 is 0.901), so the minimum only matters when some proposals were wrong;
* ``approve`` when at least ``MIN_APPROVE`` incidents are known and the point estimate is at least
  ``APPROVE_PRECISION`` (0.70): a human still approves each action, so less evidence is asked;
* ``shadow`` otherwise (too little evidence, or proposals too often wrong).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
AUTO_LOWER_BOUND = 0.90
APPROVE_PRECISION = 0.70
MIN_AUTO = 20
MIN_APPROVE = 10


@dataclass(frozen=True)
class Observation:
    group: str
    proposal: str
    fix: str | None = None  # the action that fixed the incident, when known
    refuted: bool = False  # the proposal is known not to be the fix, though the fix is unknown

    @property
    def known(self) -> bool:
        return self.fix is not None or self.refuted

    @property
    def agreed(self) -> bool:
        return self.fix is not None and self.fix == self.proposal


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval for a binomial proportion; None when there are no trials."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def recommend(agreed: int, known: int) -> str:
    interval = wilson(agreed, known)
    if interval is None:
        return "shadow"
    if known >= MIN_AUTO and interval[0] >= AUTO_LOWER_BOUND:
        return "auto"
    if known >= MIN_APPROVE and agreed / known >= APPROVE_PRECISION:
        return "approve"
    return "shadow"


@dataclass
class Tally:
    proposals: int = 0
    known: int = 0
    agreed: int = 0

    def add(self, observation: Observation) -> None:
        self.proposals += 1
        self.known += observation.known
        self.agreed += observation.agreed

    @property
    def precision(self) -> float | None:
        return self.agreed / self.known if self.known else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.agreed, self.known)

    @property
    def recommendation(self) -> str:
        return recommend(self.agreed, self.known)

    def to_json(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "proposals": self.proposals,
            "agreed": self.agreed,
            "precision": _rounded(self.precision),
            "ci_low": _rounded(interval[0] if interval else None),
            "recommendation": self.recommendation,
        }


@dataclass
class GroupTally(Tally):
    by_proposal: dict[str, Tally] = field(default_factory=dict)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def tally(observations: Iterable[Observation]) -> dict[str, GroupTally]:
    """Per group (sorted by name), its totals and its totals per proposal."""
    groups: dict[str, GroupTally] = {}
    for observation in observations:
        group = groups.setdefault(observation.group, GroupTally())
        group.add(observation)
        group.by_proposal.setdefault(observation.proposal, Tally()).add(observation)
    return dict(sorted(groups.items()))


def report_json(groups: dict[str, GroupTally]) -> dict[str, Any]:
    """``{"categories": {GROUP: {proposals, agreed, precision, ci_low, recommendation, actions}}}``; each
    action under ``actions`` has the same keys plus ``known`` and ``ci_high``, and so does nothing else."""
    categories: dict[str, Any] = {}
    for name, group in groups.items():
        actions = {}
        for proposal, counts in sorted(group.by_proposal.items()):
            interval = counts.interval
            actions[proposal] = {
                **counts.to_json(),
                "known": counts.known,
                "ci_high": _rounded(interval[1] if interval else None),
            }
        categories[name] = {**group.to_json(), "actions": actions}
    return {"categories": categories}
