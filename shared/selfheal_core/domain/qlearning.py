"""Tabular Q-learning over a small, inspectable state, behind the safety gate.

The state is what the agent really sees (category, risk, attempt, drift and bad-record evidence, what the
previous attempt did). Values are kept twice: in a shared row and in a per-job row; a job's own row is
used once it has ``job_min_visits`` visits, so job-specific remedies are learned without letting the table
grow with jobs that fail rarely. Exploration happens only among actions the gate allows (the mask).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.rules import rule_action
from selfheal_core.vocabulary import ACTIONS, Action

N_ACTIONS = len(ACTIONS)
ACTION_INDEX: dict[Action, int] = {a: i for i, a in enumerate(ACTIONS)}
JOB_SEPARATOR = "::"


@dataclass(frozen=True)
class LearnerSettings:
    learning_rate: float = 0.2
    discount_factor: float = 0.95
    epsilon: float = 0.1
    epsilon_min: float = 0.02
    # Visits after which a state's exploration rate has halved.
    epsilon_half_life_visits: float = 40.0
    job_min_visits: int = 5
    # Value of an unseen state-action: as bad as handing the incident to a human (hours, negative).
    initial_value: float = -20.0
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


@dataclass
class QEntry:
    """One row of the table, with the version used for optimistic concurrency."""

    values: np.ndarray
    visits: np.ndarray
    version: int = 0

    @classmethod
    def initial(cls, ctx: DecisionContext, settings: LearnerSettings) -> QEntry:
        values = np.full(N_ACTIONS, settings.initial_value, dtype=float)
        values[ACTION_INDEX[rule_action(ctx)]] += settings.prior_bonus
        return cls(values=values, visits=np.zeros(N_ACTIONS, dtype=int))

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


@dataclass(frozen=True)
class Transition:
    state: DecisionContext
    action: Action
    reward: float
    next_state: DecisionContext | None = None  # None: the incident ended
    next_allowed: tuple[Action, ...] = field(default_factory=tuple)


# A row update that can be re-applied to a fresher copy of the row (optimistic-concurrency retry).
RowUpdate = Callable[[QEntry], QEntry]


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
    def q_values(self, ctx: DecisionContext) -> np.ndarray:
        job_row = self.table.peek(job_state_key(ctx))
        if job_row is not None and job_row.total_visits >= self.settings.job_min_visits:
            return job_row.values
        return self.table.row(state_key(ctx), ctx, self.settings).values

    def epsilon(self, ctx: DecisionContext) -> float:
        visits = self.table.row(state_key(ctx), ctx, self.settings).total_visits
        decayed = self.settings.epsilon * 0.5 ** (visits / self.settings.epsilon_half_life_visits)
        return max(self.settings.epsilon_min, decayed) if self.settings.epsilon > 0 else 0.0

    def greedy_action(self, ctx: DecisionContext, allowed: Sequence[Action]) -> Action:
        if not allowed:
            raise ValueError("the safety mask allows no action; escalate must always be allowed")
        values = self.q_values(ctx)
        preferred = rule_action(ctx)
        # Ties go to the rulebook's action, then to vocabulary order: deterministic and explainable.
        return max(allowed, key=lambda a: (values[ACTION_INDEX[a]], a is preferred, -ACTION_INDEX[a]))

    def select_action(self, ctx: DecisionContext, allowed: Sequence[Action], explore: bool = True) -> Action:
        """Epsilon-greedy among ``allowed`` only: a masked action is never chosen."""
        if explore and len(allowed) > 1 and self.rng.random() < self.epsilon(ctx):
            return allowed[int(self.rng.integers(len(allowed)))]
        return self.greedy_action(ctx, allowed)

    # -- learning --------------------------------------------------------------------------------
    def target(self, transition: Transition) -> float:
        if transition.next_state is None or not transition.next_allowed:
            return transition.reward
        next_values = self.q_values(transition.next_state)
        best_next = max(next_values[ACTION_INDEX[a]] for a in transition.next_allowed)
        return transition.reward + self.settings.discount_factor * float(best_next)

    def row_updates(self, transition: Transition) -> dict[str, RowUpdate]:
        """The updates one transition makes, keyed by row; each re-applies cleanly to a fresher row."""
        target = self.target(transition)
        index = ACTION_INDEX[transition.action]
        alpha = self.settings.learning_rate

        def update(row: QEntry) -> QEntry:
            values = row.values.copy()
            visits = row.visits.copy()
            values[index] += alpha * (target - values[index])
            visits[index] += 1
            return QEntry(values=values, visits=visits, version=row.version + 1)

        return {state_key(transition.state): update, job_state_key(transition.state): update}

    def update(self, transition: Transition) -> float:
        """Apply one Q-update to the in-memory table; returns the TD error on the shared row."""
        shared_key = state_key(transition.state)
        before = float(self.table.row(shared_key, transition.state, self.settings).values[
            ACTION_INDEX[transition.action]
        ])
        td_error = self.target(transition) - before
        for key, apply in self.row_updates(transition).items():
            self.table.rows[key] = apply(self.table.row(key, transition.state, self.settings))
        return td_error

    def learn_episode(self, transitions: Iterable[Transition]) -> list[float]:
        """Updates from the last step backwards, so the outcome reaches the first decision at once."""
        return [self.update(t) for t in reversed(list(transitions))]
