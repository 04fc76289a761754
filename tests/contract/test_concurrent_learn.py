"""Hundreds of incidents learning at once on ONE Q-row, each Learn retried at random: every update is
applied exactly once on every Q-table backend (in-memory, SQLite, DynamoDB via moto)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from selfheal_core.adapters.dynamodb_store import DynamoDbQTableStore
from selfheal_core.adapters.memory import MemoryEventStore, MemoryQTableStore
from selfheal_core.adapters.sqlite_store import SqliteQTableStore
from selfheal_core.domain.decisions import LearningTerms, transitions
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed, Executed, Gated, Opened, Proposed, Validated
from selfheal_core.domain.incident import Outcome, incident_id_for
from selfheal_core.domain.learning import QRow, QUpdate, fold
from selfheal_core.domain.qlearning import LearnerSettings, QEntry, job_state_key, state_key
from selfheal_core.domain.safety import SafetyGate, SafetySettings
from selfheal_core.steps import learn
from selfheal_core.steps.common import load_state
from selfheal_core.vocabulary import Action, Category, Criticality
from test_stores import SerializedClient

INCIDENTS = 300
THREADS = 16
JOB = "orders-nightly"
SETTINGS = LearnerSettings()


def _resolved_incident(store: MemoryEventStore, n: int) -> str:
    """A first-try retry that fixed the run; each took a different time, so each has its own target."""
    run_id, new_run = f"jr_{n}", f"jr_new_{n}"
    incident_id = incident_id_for(JOB, run_id)
    store.open(incident_id, Opened(JOB, run_id))
    diagnosis = Diagnosis(JOB, Category.TRANSIENT_NETWORK, 1.0, None, (), Criticality.MEDIUM, "medium")
    for seq, event in enumerate(
        [
            Diagnosed(diagnosis),
            Proposed(attempt=1, action=Action.RETRY),
            Gated(attempt=1, proposed=Action.RETRY, action=Action.RETRY),
            Executed(attempt=1, action=Action.RETRY, job_run_id=new_run, awaiting_run=True),
            Validated(1, new_run, "SUCCEEDED", final=True, fixed=True, elapsed_seconds=60.0 * (1 + n % 97)),
        ],
        start=1,
    ):
        store.append(incident_id, event, seq)
    return incident_id


class Recording:
    """The store under test, recording which calls of ``apply`` applied their update."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.applied: list[QUpdate] = []
        self.repeats = 0
        self._lock = threading.Lock()

    def load_rows(self, keys: Iterable[str]) -> dict[str, QRow]:
        rows: dict[str, QRow] = self.inner.load_rows(keys)
        return rows

    def all_rows(self) -> dict[str, QRow]:
        rows: dict[str, QRow] = self.inner.all_rows()
        return rows

    def install(self, key: str, row: QRow) -> None:
        self.inner.install(key, row)

    def apply(self, update: QUpdate) -> bool:
        done = bool(self.inner.apply(update))
        with self._lock:
            if done:
                self.applied.append(update)
            else:
                self.repeats += 1
        return done


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def qtable(request: pytest.FixtureRequest, tmp_path: Path, aws_env: None) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryQTableStore()
    elif request.param == "sqlite":
        store = SqliteQTableStore(tmp_path / "q.sqlite3")
        yield store
        store.close()
    else:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName="q",
                KeySchema=[{"AttributeName": "state", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "state", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            yield DynamoDbQTableStore("q", client=SerializedClient(client))


def test_hundreds_of_concurrent_retried_learns_on_one_row_apply_each_update_once(
    qtable: Any, request: pytest.FixtureRequest
) -> None:
    store = MemoryEventStore()
    incidents = [_resolved_incident(store, n) for n in range(INCIDENTS)]
    recording = Recording(qtable)
    gate, terms = SafetyGate(SafetySettings()), LearningTerms()
    crashed_first = {i for i in incidents if random.Random(i).random() < 0.5}

    def learn_one(incident_id: str) -> None:
        if incident_id in crashed_first:
            # A Learn that wrote its Q-updates, then died before appending ``learned``: Step Functions
            # retries it, and the retry re-derives the same updates.
            learn.apply_learning(load_state(store, incident_id), recording, SETTINGS, gate, terms)
        learn.run(incident_id, None, store, recording, SETTINGS, SafetySettings(), True)

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(learn_one, incidents))
    # Retries long after hundreds of other updates of the row (a per-row memory of 64 forgot these).
    late = random.Random(1).sample(incidents, 50)
    for incident_id in late:
        learn.apply_learning(load_state(store, incident_id), recording, SETTINGS, gate, terms)
    elapsed = time.perf_counter() - started

    ctx = load_state(store, incidents[0]).context(1, ())
    rows = qtable.all_rows()
    assert set(rows) == {state_key(ctx), job_state_key(ctx)}  # one shared row, one job row: both hot
    assert len(recording.applied) == 2 * INCIDENTS
    assert len({u.update_id for u in recording.applied}) == 2 * INCIDENTS
    assert recording.repeats == 2 * (len(crashed_first) + len(late))
    initial = QEntry.initial(ctx, SETTINGS).to_row(SETTINGS)
    for key, row in rows.items():
        assert row.cell(Action.RETRY).visits == INCIDENTS and row.total_visits == INCIDENTS
        mine = [u for u in recording.applied if u.row == key]
        # The row is its update records, in whatever order the store applied them.
        shuffled = random.Random(2).sample(mine, len(mine))
        for order in (mine, sorted(mine, key=lambda u: u.update_id), shuffled):
            assert row.cell(Action.RETRY).value == pytest.approx(
                fold(initial, order).cell(Action.RETRY).value, rel=1e-9
            )
        targets = [u.target for u in mine]
        assert min(targets) <= row.cell(Action.RETRY).value <= max(targets)
    for incident_id in incidents:
        state = load_state(store, incident_id)
        assert state.outcome is Outcome.RESOLVED and state.learned
        assert [r.kind for r in store.load(incident_id)].count("learned") == 1
    print(
        f"\n{request.node.callspec.params['qtable']}: {INCIDENTS} Learns ({len(crashed_first)} retried at once,"
        f" {len(late)} retried late) on one row from {THREADS} threads in {elapsed:.2f} s;"
        f" {len(recording.applied)} updates applied, {recording.repeats} repeats ignored"
    )


def test_learned_one_at_a_time_the_row_follows_the_former_step_rule(qtable: Any) -> None:
    """Serially, the stored sums give the learner's step rule, value += max(lr, 1/(n+2)) (target - value)."""
    store = MemoryEventStore()
    incidents = [_resolved_incident(store, n) for n in range(40)]
    targets = []
    for incident_id in incidents:
        learn.run(incident_id, None, store, qtable, SETTINGS, SafetySettings(), True)
        (transition,) = transitions(
            load_state(store, incident_id), SafetyGate(SafetySettings()), LearningTerms()
        )
        targets.append(transition.reward)
    ctx = load_state(store, incidents[0]).context(1, ())
    value = float(QEntry.initial(ctx, SETTINGS).values[0])
    for n, target in enumerate(targets):
        value += max(SETTINGS.learning_rate, 1 / (n + 2)) * (target - value)
    row = qtable.all_rows()[state_key(ctx)]
    assert row.cell(Action.RETRY).value == pytest.approx(value, rel=1e-9)
