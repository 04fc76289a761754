"""Tabular Q-learning over a small, inspectable state, behind the safety gate.

The state is what the agent really sees (category, risk, attempt, drift and bad-record evidence, what the
previous attempt did). Values are kept twice: in a shared row and in a per-job row; a job's own row is
used once it has ``job_min_visits`` visits, so job-specific remedies are learned without letting the table
grow with jobs that fail rarely. Exploration happens only among actions the gate allows (the mask).

The settings, the state keys, transitions and the stored form of a row are numpy-free
(``domain.learning``, re-exported here); this module is what only Propose and Learn import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.learning import (
    ACTION_INDEX,
    JOB_SEPARATOR,
    N_ACTIONS,
    LearnerSettings,
    QRow,
    Transition,
    bucket_bad_records,
    job_state_key,
    state_key,
    step_size,
)
from selfheal_core.domain.rules import rule_action
from selfheal_core.vocabulary import ACTIONS, Action

__all__ = [
    "ACTION_INDEX",
    "JOB_SEPARATOR",
    "N_ACTIONS",
    "LearnerSettings",
    "QEntry",
    "QLearningPolicy",
    "QTable",
    "Transition",
    "bucket_bad_records",
    "job_state_key",
    "state_key",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]


@dataclass
class QEntry:
    """One row as the policy computes with it: a value and a visit count per action.

    The stores keep a row as sums (``domain.learning.QRow``); ``from_row`` is what the policy reads.
    ``version`` counts the updates the row has had (its total visits), for display and tests only."""

    values: FloatArray
    visits: IntArray
    version: int = 0

    @classmethod
    def initial(cls, ctx: DecisionContext, settings: LearnerSettings) -> QEntry:
        values = np.full(N_ACTIONS, settings.initial_value * (1.0 - settings.untried_optimism), dtype=float)
        values[ACTION_INDEX[Action.ESCALATE]] = settings.initial_value
        values[ACTION_INDEX[rule_action(ctx)]] += settings.prior_bonus
        return cls(values=values, visits=np.zeros(N_ACTIONS, dtype=int))

    @classmethod
    def from_row(cls, row: QRow) -> QEntry:
        visits = np.array(row.visits, dtype=int)
        return cls(values=np.array(row.values, dtype=float), visits=visits, version=int(visits.sum()))

    def to_row(self, settings: LearnerSettings) -> QRow:
        """The stored form of this row: it keeps learning at the pace its visits set."""
        return QRow.installed(
            [float(v) for v in self.values], [int(n) for n in self.visits], settings.learning_rate
        )

    @property
    def total_visits(self) -> int:
        return int(self.visits.sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": {a.value: float(self.values[i]) for a, i in ACTION_INDEX.items()},
            "visits": {a.value: int(self.visits[i]) for a, i in ACTION_INDEX.items()},
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QEntry:
        values = np.array([float(data["values"][a.value]) for a in ACTIONS])
        visits = np.array([int(data["visits"][a.value]) for a in ACTIONS])
        return cls(values=values, visits=visits, version=int(data.get("version", 0)))


class QTable:
    """In-memory rows keyed by state string. Stores (DynamoDB, SQLite) load and save these rows."""

    def __init__(self, rows: Mapping[str, QEntry] | None = None) -> None:
        self.rows: dict[str, QEntry] = dict(rows or {})

    @classmethod
    def from_rows(cls, rows: Mapping[str, QRow]) -> QTable:
        """The table of rows a store returned."""
        return cls({key: QEntry.from_row(row) for key, row in rows.items()})

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def row(self, key: str, ctx: DecisionContext, settings: LearnerSettings) -> QEntry:
        if key not in self.rows:
            self.rows[key] = QEntry.initial(ctx, settings)
        return self.rows[key]

    def peek(self, key: str) -> QEntry | None:
        return self.rows.get(key)

    def put(self, key: str, entry: QEntry) -> None:
        """Replace a row by a fresher copy (what a store wrote), so later targets read it."""
        self.rows[key] = entry


class QLearningPolicy:
    def __init__(
        self,
        table: QTable,
        settings: LearnerSettings | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.table = table
        self.settings = settings or LearnerSettings()
        self.rng = rng if rng is not None else np.random.default_rng(0)

    # -- reading ---------------------------------------------------------------------------------
    def q_values(self, ctx: DecisionContext) -> FloatArray:
        """Per action, the job's own value once the job has tried it ``job_min_visits`` times, else the
        shared value: job-specific remedies win where the job has evidence, the shared row elsewhere."""
        shared = self.table.row(state_key(ctx), ctx, self.settings)
        job_row = self.table.peek(job_state_key(ctx))
        if job_row is None:
            return shared.values
        own = job_row.visits >= self.settings.job_min_visits
        values: FloatArray = np.where(own, job_row.values, shared.values)
        return values

    def epsilon(self, ctx: DecisionContext) -> float:
        """Decays with the job's visits of this state, so each job explores before it settles."""
        job_row = self.table.peek(job_state_key(ctx))
        visits = job_row.total_visits if job_row is not None else 0
        decayed = self.settings.epsilon * 0.5 ** (visits / self.settings.epsilon_half_life_visits)
        return max(self.settings.epsilon_min, decayed) if self.settings.epsilon > 0 else 0.0

    def greedy_action(self, ctx: DecisionContext, allowed: Sequence[Action]) -> Action:
        if not allowed:
            raise ValueError("the safety mask allows no action; escalate must always be allowed")
        values = self.q_values(ctx)
        preferred = rule_action(ctx)

        def rank(action: Action) -> tuple[bool, float]:
            # A NaN (a corrupt row) compares false with everything, so max() would keep whichever came
            # first: rank it below every number, -inf included.
            v = float(values[ACTION_INDEX[action]])
            return (False, 0.0) if np.isnan(v) else (True, v)

        # Ties go to the rulebook's action, then to vocabulary order: deterministic and explainable.
        return max(allowed, key=lambda a: (rank(a), a is preferred, -ACTION_INDEX[a]))

    def select_action(self, ctx: DecisionContext, allowed: Sequence[Action], explore: bool = True) -> Action:
        """Epsilon-greedy among ``allowed`` only: a masked action is never chosen."""
        # Handing over to a human is never explored: its value (the human's time) teaches nothing new.
        candidates = [a for a in allowed if a is not Action.ESCALATE]
        if explore and candidates and self.rng.random() < self.epsilon(ctx):
            return candidates[int(self.rng.integers(len(candidates)))]
        return self.greedy_action(ctx, allowed)

    # -- learning --------------------------------------------------------------------------------
    def target(self, transition: Transition) -> float:
        if transition.next_state is None or not transition.next_allowed:
            return transition.reward
        next_values = self.q_values(transition.next_state)
        best_next = max(next_values[ACTION_INDEX[a]] for a in transition.next_allowed)
        return transition.reward + self.settings.discount_factor * float(best_next)

    def update(self, transition: Transition) -> float:
        """Apply one Q-update to the in-memory table; returns the TD error on the shared row."""
        shared_key = state_key(transition.state)
        before = float(
            self.table.row(shared_key, transition.state, self.settings).values[
                ACTION_INDEX[transition.action]
            ]
        )
        target = self.target(transition)
        index = ACTION_INDEX[transition.action]
        for key in (shared_key, job_state_key(transition.state)):
            row = self.table.row(key, transition.state, self.settings)
            values, visits = row.values.copy(), row.visits.copy()
            # The serial form of the stores' weighted mean (domain.learning): the same values, one
            # update at a time.
            values[index] += step_size(int(visits[index]), self.settings.learning_rate) * (
                target - values[index]
            )
            visits[index] += 1
            self.table.put(key, QEntry(values=values, visits=visits, version=row.version + 1))
        return target - before

    def learn_episode(self, transitions: Iterable[Transition]) -> list[float]:
        """Updates from the last step backwards, so the outcome reaches the first decision at once."""
        return [self.update(t) for t in reversed(list(transitions))]
