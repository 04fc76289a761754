"""The stored Q-row (``domain.learning``): sums that commute, and the step rule they reproduce."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfheal_core.domain.learning import (
    EPOCH_SPAN,
    N_ACTIONS,
    QRow,
    QUpdate,
    fold,
    step_size,
    update_weight,
)
from selfheal_core.vocabulary import Action

PRIORS = [-15.0] * N_ACTIONS


def serial(row: QRow, targets: list[float], rate: float, action: Action = Action.RETRY) -> QRow:
    """Each update computed on the row as the previous one left it (one Learn at a time)."""
    for n, target in enumerate(targets):
        row = row.plus(QUpdate.of(f"inc-{n}#0#s", "s", row, action, target, rate))
    return row


def stepped(prior: float, targets: list[float], rate: float, visits: int = 0) -> float:
    """The former rule: value += max(rate, 1 / (n + 2)) x (target - value)."""
    value = prior
    for n, target in enumerate(targets, start=visits):
        value += step_size(n, rate) * (target - value)
    return value


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.1, 0.25, 0.5])
def test_serial_updates_reproduce_the_former_step_rule(rate: float) -> None:
    rng = random.Random(7)
    targets = [rng.uniform(-40.0, 0.0) for _ in range(3000)]  # crosses many epochs at these rates
    row = serial(QRow.initial(PRIORS, rate), targets, rate)
    cell = row.cell(Action.RETRY)
    assert cell.visits == 3000
    assert cell.value == pytest.approx(stepped(-15.0, targets, rate), rel=1e-9, abs=1e-9)
    assert all(w > 0.0 for _, w, _ in cell.sums)
    assert row.cell(Action.ESCALATE).value == -15.0 and row.cell(Action.ESCALATE).visits == 0


def test_the_step_size_is_the_running_average_then_the_floor() -> None:
    targets = [-1.0, -3.0, -5.0]
    row = serial(QRow.initial(PRIORS, 0.1), targets, 0.1)
    assert row.cell(Action.RETRY).value == pytest.approx((-15.0 - 1.0 - 3.0 - 5.0) / 4)
    assert [update_weight(n, 0.1) for n in (0, 8)] == [(0, 1.0), (0, 1.0)]
    epoch, weight = update_weight(9, 0.1)
    assert epoch == 0 and weight == pytest.approx(1 / 0.9)


@pytest.mark.parametrize("visits", [0, 3, 8, 9, 50, 500, 5000])
def test_an_installed_row_keeps_learning_at_the_pace_its_visits_set(visits: int) -> None:
    values = [-10.0 + i for i in range(N_ACTIONS)]
    counts = [visits] * N_ACTIONS
    row = QRow.installed(values, counts, 0.1)
    assert row.values == tuple(values) and row.visits == tuple(counts)
    after = serial(row, [-2.0, -4.0], 0.1)  # each update weighted by the visits it read
    assert after.cell(Action.RETRY).visits == visits + 2
    expected = stepped(values[0], [-2.0, -4.0], 0.1, visits)
    assert after.cell(Action.RETRY).value == pytest.approx(expected, rel=1e-12)


def test_weights_stay_bounded_however_many_visits() -> None:
    for visits in (0, 10, 1_000, 100_000, 10_000_000):
        epoch, weight = update_weight(visits, 0.1)
        assert 1.0 <= weight < EPOCH_SPAN and epoch >= 0
    row = QRow.installed(PRIORS, [10_000_000] * N_ACTIONS, 0.1)
    row = serial(row, [-1.0] * 5, 0.1)
    assert math.isfinite(row.cell(Action.RETRY).value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.floats(-50.0, 0.0)), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_a_row_is_the_same_fold_of_its_updates_in_any_order(
    reads: list[tuple[int, float]], rng: random.Random
) -> None:
    """Concurrent Learns compute on whatever they read (``seen``); the row they leave does not depend on
    the order the store applied them in."""
    initial = QRow.initial(PRIORS, 0.1)
    updates = []
    for n, (seen, target) in enumerate(reads):
        epoch, weight = update_weight(seen, 0.1)
        updates.append(
            QUpdate(f"u{n}", "s", Action.ROLLBACK, target, seen, epoch, weight, weight * target, initial)
        )
    shuffled = list(updates)
    rng.shuffle(shuffled)
    a, b = fold(initial, updates), fold(initial, shuffled)
    assert a.visits == b.visits
    assert a.cell(Action.ROLLBACK).visits == len(reads)
    assert a.cell(Action.ROLLBACK).value == pytest.approx(b.cell(Action.ROLLBACK).value, rel=1e-12, abs=1e-12)
    lo, hi = min([-15.0, *(t for _, t in reads)]), max([-15.0, *(t for _, t in reads)])
    assert lo - 1e-9 <= a.cell(Action.ROLLBACK).value <= hi + 1e-9  # a weighted mean of prior and targets
