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
import numpy.typing as npt

from selfheal_core.domain.context import DecisionContext
from selfheal_core.domain.rules import rule_action
from selfheal_core.vocabulary import ACTIONS, Action

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]

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


@dataclass
class QEntry:
    """One row of the table, with the version used for optimistic concurrency."""

    values: FloatArray
    visits: IntArray
    version: int = 0
    # Markers of the last updates applied to this row, so a retried Learn never applies one twice.
    applied: tuple[str, ...] = ()

    @classmethod
    def initial(cls, ctx: DecisionContext, settings: LearnerSettings) -> QEntry:
        values = np.full(N_ACTIONS, settings.initial_value * (1.0 - settings.untried_optimism), dtype=float)
        values[ACTION_INDEX[Action.ESCALATE]] = settings.initial_value
        values[ACTION_INDEX[rule_action(ctx)]] += settings.prior_bonus
        return cls(values=values, visits=np.zeros(N_ACTIONS, dtype=int))

    @property
    def total_visits(self) -> int:
        return int(self.visits.sum())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "values": {a.value: float(self.values[i]) for a, i in ACTION_INDEX.items()},
            "visits": {a.value: int(self.visits[i]) for a, i in ACTION_INDEX.items()},
            "version": self.version,
        }
        if self.applied:
            data["applied"] = list(self.applied)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QEntry:
        values = np.array([float(data["values"][a.value]) for a in ACTIONS])
        visits = np.array([int(data["visits"][a.value]) for a in ACTIONS])
        applied = tuple(str(marker) for marker in data.get("applied", ()))
        return cls(values=values, visits=visits, version=int(data.get("version", 0)), applied=applied)


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

    def put(self, key: str, entry: QEntry) -> None:
        """Replace a row by a fresher copy (what a store wrote), so later targets read it."""
        self.rows[key] = entry


@dataclass(frozen=True)
class Transition:
    state: DecisionContext
    action: Action
    reward: float
    next_state: DecisionContext | None = None  # None: the incident ended
    next_allowed: tuple[Action, ...] = field(default_factory=tuple)


# A row update that can be re-applied to a fresher copy of the row (optimistic-concurrency retry).
RowUpdate = Callable[[QEntry], QEntry]
APPLIED_MEMORY = 64


def once(update: RowUpdate, marker: str) -> RowUpdate:
    """``update``, applied at most once per row: a row that already carries ``marker`` is left as it is."""

    def apply(row: QEntry) -> QEntry:
        if marker in row.applied:
            return row
        new = update(row)
        new.applied = (*row.applied, marker)[-APPLIED_MEMORY:]
        return new

    return apply


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
        # Ties go to the rulebook's action, then to vocabulary order: deterministic and explainable.
        return max(allowed, key=lambda a: (values[ACTION_INDEX[a]], a is preferred, -ACTION_INDEX[a]))

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

    def row_updates(self, transition: Transition) -> dict[str, RowUpdate]:
        """The updates one transition makes, keyed by row; each re-applies cleanly to a fresher row."""
        target = self.target(transition)
        index = ACTION_INDEX[transition.action]
        floor = self.settings.learning_rate

        def update(row: QEntry) -> QEntry:
            values = row.values.copy()
            visits = row.visits.copy()
            # Step size from the row being written (the fresher copy after a version conflict).
            alpha = max(floor, 1.0 / (int(visits[index]) + 2))
            values[index] += alpha * (target - values[index])
            visits[index] += 1
            return QEntry(values=values, visits=visits, version=row.version + 1)

        return {state_key(transition.state): update, job_state_key(transition.state): update}

    def update(self, transition: Transition) -> float:
        """Apply one Q-update to the in-memory table; returns the TD error on the shared row."""
        shared_key = state_key(transition.state)
        before = float(
            self.table.row(shared_key, transition.state, self.settings).values[
                ACTION_INDEX[transition.action]
            ]
        )
        td_error = self.target(transition) - before
        for key, apply in self.row_updates(transition).items():
            self.table.put(key, apply(self.table.row(key, transition.state, self.settings)))
        return td_error

    def learn_episode(self, transitions: Iterable[Transition]) -> list[float]:
        """Updates from the last step backwards, so the outcome reaches the first decision at once."""
        return [self.update(t) for t in reversed(list(transitions))]
