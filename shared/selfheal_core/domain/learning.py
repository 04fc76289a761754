"""The numpy-free half of Q-learning: settings, state keys, transitions, and a Q-row as the stores keep it.

Only Propose and Learn compute with the table (``domain.qlearning``, numpy); everything the other functions
import through the ports lives here, so their cold start never loads numpy.

A stored row is a set of commutative sums, so a Q-update is an atomic increment that cannot conflict,
cannot be lost and is applied exactly once (each update is also written as its own record, keyed by
``<incident>#<transition>#<row>``, in the same transaction). Per action, a row keeps:

- its prior: the value before any outcome, with the weight that prior carries (``prior_weight``);
- ``visits``, the number of updates applied;
- per epoch, the sum of the updates' weights and the sum of weight x target.

The value is the weighted mean of the prior and the targets. The weight of an update depends only on the
number of visits the learner read when it computed it (``update_weight``): 1 for the first
``1 / learning_rate - 1`` visits, then growing by ``1 / (1 - learning_rate)`` per visit. Applied one at a
time, this is exactly the learner's former step rule ``value += max(lr, 1 / (n + 2)) x (target - value)``
(a running average of the prior and the outcomes, then an exponential average with rate ``lr``); applied
concurrently, updates computed on the same read carry the same weight and none is lost. Weights grow
without bound, so they are kept relative to an epoch (a factor of ``EPOCH_SPAN``): a weight is always in
[1, EPOCH_SPAN) and an old epoch's sums fade out of the mean instead of overflowing it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from selfheal_core.domain.context import DecisionContext
from selfheal_core.vocabulary import ACTIONS, Action

N_ACTIONS = len(ACTIONS)
ACTION_INDEX: dict[Action, int] = {a: i for i, a in enumerate(ACTIONS)}
JOB_SEPARATOR = "::"


@dataclass(frozen=True)
class LearnerSettings:
    # Floor of the step size. Before it, a row's action is a running average of its outcomes and the
    # prior (step 1 / (n + 2)), so a single unlucky run does not bury an action; the floor keeps
    # tracking remedies that stop working.
    learning_rate: float = 0.1
    # Episodes are a few attempts long and rewards are hours: undiscounted, so the return is exactly
    # minus the incident's cost (a discount would make handing over to a human later look cheaper).
    discount_factor: float = 1.0
    # Random exploration (on top of the optimism below). 0.05 cost up to 1.5 points of automated
    # resolution on the default scenario for no gain elsewhere; benchmarks/run_targets.py measures it.
    epsilon: float = 0.02
    epsilon_min: float = 0.01
    # Visits (of the row in use) after which the exploration rate has halved.
    epsilon_half_life_visits: float = 40.0
    # A job's own value of an action is used once the job has tried that action this many times.
    job_min_visits: int = 5
    # Value of ``escalate`` before any outcome: as bad as handing the incident to a human (hours, negative).
    initial_value: float = -20.0
    # An automated action never tried in a state starts at (1 - untried_optimism) x initial_value: better
    # than a human, so once the known actions look worse than that, each untried one is tried once.
    untried_optimism: float = 0.25
    # The rulebook's action starts this much better, so an untrained table behaves like the rules.
    prior_bonus: float = 1.0


def bucket_bad_records(fraction: float | None) -> str:
    if fraction is None or fraction <= 0.0:
        return "none"
    if fraction <= 0.01:
        return "trace"
    if fraction <= 0.10:
        return "some"
    return "many"


def state_key(ctx: DecisionContext) -> str:
    """The shared state: a readable, bounded string (10 categories x 3 risks x 3 attempts x ...)."""
    previous = ctx.previous_action.value if ctx.previous_action else "none"
    return "|".join(
        (
            ctx.category.value,
            f"risk={ctx.risk}",
            f"attempt={min(ctx.attempt, 3)}",
            f"drift={'yes' if ctx.drift else 'no'}",
            f"bad={bucket_bad_records(ctx.bad_record_fraction)}",
            f"prev={previous}",
        )
    )


def job_state_key(ctx: DecisionContext) -> str:
    return f"{ctx.job_name}{JOB_SEPARATOR}{state_key(ctx)}"


@dataclass(frozen=True)
class Transition:
    state: DecisionContext
    action: Action
    reward: float
    next_state: DecisionContext | None = None  # None: the incident ended
    next_allowed: tuple[Action, ...] = field(default_factory=tuple)


# -- the stored row ------------------------------------------------------------------------------------
# Weights of one epoch stay within [1, EPOCH_SPAN); an epoch three behind the newest weighs 1e-18 of it.
EPOCH_SPAN = 1e6
_LOG_SPAN = math.log(EPOCH_SPAN)
# A learning rate of 1 (keep only the last outcome) would need infinite weights; this is as close.
MAX_LEARNING_RATE = 0.99


def _rate(learning_rate: float) -> float:
    return min(max(learning_rate, 0.0), MAX_LEARNING_RATE)


def _log_weight(visits: int, learning_rate: float) -> float:
    """Natural log of the weight of an update made on ``visits`` earlier updates (0 while averaging)."""
    rate = _rate(learning_rate)
    if rate <= 0.0:
        return 0.0
    return max(0.0, (visits + 2 - 1.0 / rate) * -math.log1p(-rate))


def _split(log_weight: float) -> tuple[int, float]:
    epoch = int(log_weight // _LOG_SPAN)
    return epoch, math.exp(log_weight - epoch * _LOG_SPAN)


def update_weight(visits: int, learning_rate: float) -> tuple[int, float]:
    """(epoch, weight in [1, EPOCH_SPAN)) of an update computed on a row whose action had ``visits``.

    Applied serially, a weighted mean with these weights steps by ``max(lr, 1 / (visits + 2))``."""
    return _split(_log_weight(visits, learning_rate))


def step_size(visits: int, learning_rate: float) -> float:
    """The former step rule, which ``update_weight`` reproduces when updates are applied one at a time."""
    return max(_rate(learning_rate), 1.0 / (visits + 2))


@dataclass(frozen=True)
class QCell:
    """One action of one row: the prior, its weight and epoch, the visits and the per-epoch sums."""

    prior: float
    prior_weight: float = 1.0
    prior_epoch: int = 0
    visits: int = 0
    # (epoch, sum of weights, sum of weight x target), epochs ascending.
    sums: tuple[tuple[int, float, float], ...] = ()

    @classmethod
    def installed(cls, value: float, visits: int, learning_rate: float) -> QCell:
        """A cell worth ``value`` after ``visits`` updates: its next update steps by
        ``max(lr, 1 / (visits + 2))``, as it would have if those updates had been learned here."""
        epoch, weight = update_weight(visits, learning_rate)
        prior_weight = weight * (1.0 / step_size(visits, learning_rate) - 1.0)
        return cls(prior=value, prior_weight=prior_weight, prior_epoch=epoch, visits=visits)

    @property
    def value(self) -> float:
        if not self.sums:
            return self.prior
        newest = max(self.prior_epoch, self.sums[-1][0])
        scale = EPOCH_SPAN ** (self.prior_epoch - newest)
        weights, weighted = self.prior_weight * scale, self.prior_weight * scale * self.prior
        for epoch, weight, weight_x_target in self.sums:
            scale = EPOCH_SPAN ** (epoch - newest)
            weights += weight * scale
            weighted += weight_x_target * scale
        return weighted / weights

    def plus(self, epoch: int, weight: float, weighted: float) -> QCell:
        sums = dict((e, (w, s)) for e, w, s in self.sums)
        w, s = sums.get(epoch, (0.0, 0.0))
        sums[epoch] = (w + weight, s + weighted)
        merged = tuple((e, *sums[e]) for e in sorted(sums))
        return replace(self, visits=self.visits + 1, sums=merged)


@dataclass(frozen=True)
class QRow:
    """One row as the stores keep it: a cell per action, in vocabulary order (``ACTIONS``)."""

    cells: tuple[QCell, ...]

    def __post_init__(self) -> None:
        if len(self.cells) != N_ACTIONS:
            raise ValueError(f"a Q-row has {N_ACTIONS} cells, not {len(self.cells)}")

    @classmethod
    def initial(cls, values: Sequence[float], learning_rate: float) -> QRow:
        """A row nobody has learned in yet, starting at ``values``."""
        return cls.installed(values, [0] * N_ACTIONS, learning_rate)

    @classmethod
    def installed(cls, values: Sequence[float], visits: Sequence[int], learning_rate: float) -> QRow:
        """A trained row (``selfheal train --install``), which keeps learning at the pace its visits set."""
        return cls(
            tuple(
                QCell.installed(float(v), int(n), learning_rate) for v, n in zip(values, visits, strict=True)
            )
        )

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(cell.value for cell in self.cells)

    @property
    def visits(self) -> tuple[int, ...]:
        return tuple(cell.visits for cell in self.cells)

    @property
    def total_visits(self) -> int:
        return sum(self.visits)

    def cell(self, action: Action) -> QCell:
        return self.cells[ACTION_INDEX[action]]

    def plus(self, update: QUpdate) -> QRow:
        """This row with ``update`` applied (what every store does atomically)."""
        index = ACTION_INDEX[update.action]
        cells = list(self.cells)
        cells[index] = cells[index].plus(update.epoch, update.weight, update.weighted)
        return QRow(tuple(cells))

    def to_dict(self) -> dict[str, Any]:
        """Values and visits per action (what ``selfheal qtable`` and the Q-table file show)."""
        return {
            "values": {a.value: c.value for a, c in zip(ACTIONS, self.cells, strict=True)},
            "visits": {a.value: c.visits for a, c in zip(ACTIONS, self.cells, strict=True)},
        }


@dataclass(frozen=True)
class QUpdate:
    """One Q-update of one row by one transition of one incident, applied exactly once per ``update_id``.

    The weight comes from the visits the learner read (``seen``): a retried Learn that recomputes it on a
    fresher row produces the same ``update_id``, which the store has already applied, so it changes nothing.
    """

    update_id: str  # <incident>#<transition>#<row>
    row: str
    action: Action
    target: float
    seen: int
    epoch: int
    weight: float
    weighted: float  # weight x target, computed once so every store adds the same number
    initial: QRow  # the row to start from if the store has none

    @classmethod
    def of(
        cls,
        update_id: str,
        row_key: str,
        row: QRow,
        action: Action,
        target: float,
        learning_rate: float,
    ) -> QUpdate:
        """The update of ``row`` (as the learner read it; the initial row if the store had none)."""
        seen = row.cell(action).visits
        epoch, weight = update_weight(seen, learning_rate)
        return cls(update_id, row_key, action, target, seen, epoch, weight, weight * target, row)

    def to_record(self) -> dict[str, Any]:
        """The record a store keeps of the update (for audit; the row's sums are what Propose reads)."""
        return {
            "update_id": self.update_id,
            "row": self.row,
            "action": self.action.value,
            "target": self.target,
            "seen": self.seen,
            "epoch": self.epoch,
            "weight": self.weight,
        }


def fold(initial: QRow, updates: Sequence[QUpdate]) -> QRow:
    """A row from its initial state and its update records, in the order given (sums commute)."""
    row = initial
    for update in updates:
        row = row.plus(update)
    return row
