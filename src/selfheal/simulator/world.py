"""The simulated world: a stream of incidents drawn from a scenario, and what the agent can see of each.

The agent sees only what a deployed Diagnose Lambda sees (the failed run's message, the job's tags, the
catalog versions of the job's tables, the bad-record evidence) and it goes through the SAME
``selfheal_core.domain.diagnosis.diagnose`` with the same classifier. The hidden mode is kept on the
incident for the engine and for ``oracle`` only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
from selfheal_core.domain.diagnosis import (
    ClassificationLike,
    Classify,
    Diagnosis,
    Evidence,
    diagnose,
)
from selfheal_core.domain.drift import Column, TableVersion
from selfheal_core.job_contract import QUARANTINE_TAG
from selfheal_core.vocabulary import ACTIONS, Category

from selfheal.simulator.scenario import ApprovalsSpec, JobSpec, ModeSpec, Scenario

# Random streams, kept apart so that a policy's choices never shift the world or another policy's luck.
STREAM_WORLD = 1
STREAM_LUCK = 2

_BASE_COLUMNS: tuple[Column, ...] = (
    Column("id", "bigint"),
    Column("customer_id", "string"),
    Column("amount", "decimal(10,2)"),
    Column("event_ts", "timestamp"),
    Column("country", "string"),
    Column("status", "string"),
)
_BASELINE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


@cache
def message_library() -> dict[Category, tuple[str, ...]]:
    """The simulator's own library of real Glue/Spark error wordings per category."""
    text = resources.files("selfheal").joinpath("data/messages.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {c: tuple(data[c.value]) for c in Category}


class CachedClassifier:
    """Classify each distinct message once: messages repeat across incidents and policies."""

    def __init__(self, classify: Classify) -> None:
        self._classify = classify
        self._cache: dict[str, ClassificationLike] = {}

    def __call__(self, text: str) -> ClassificationLike:
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._classify(text)
        return found


@dataclass(frozen=True)
class PerfectClassification:
    category: Category
    confidence: float = 1.0
    signature: str | None = "perfect"
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class PerfectClassifier:
    """Knows the incident's true category (``evaluate --diagnosis perfect``)."""

    category: Category

    def __call__(self, text: str) -> ClassificationLike:
        return PerfectClassification(self.category)


def default_classifier() -> Classify:
    """The project's real classifier (the one the Diagnose Lambda uses)."""
    from selfheal_core.classification.classifier import classify

    return classify


@dataclass(frozen=True)
class Incident:
    index: int
    position: float  # place in the stream, in [0, 1)
    job: JobSpec
    mode_index: int
    mode: ModeSpec  # hidden from every policy but oracle
    message: str
    drift_table: str | None
    diagnosis: Diagnosis  # what the agent sees
    luck: npt.NDArray[np.float64]  # uniforms per (attempt - 1, action index): common random numbers
    human_z: float  # standard normal for the human's time: common to every policy
    # Per approval request of this incident (the first, the second...): a standard normal for the time to
    # the answer and a uniform for approve or reject; common to every policy, like the human's time.
    answer_z: npt.NDArray[np.float64]
    answer_u: npt.NDArray[np.float64]

    def run_succeeds(self, attempt: int, action_index: int, probability: float) -> bool:
        row = min(attempt - 1, self.luck.shape[0] - 1)
        return bool(self.luck[row, action_index] < probability)

    def human_hours(self, scenario: Scenario, factor: float = 1.0) -> float:
        human = scenario.human
        return factor * human.median_hours * math.exp(human.sigma * self.human_z)

    def approval(self, approvals: ApprovalsSpec, request: int) -> tuple[float, bool]:
        """(minutes to the answer, approved) for the incident's ``request``-th approval request."""
        row = min(request - 1, self.answer_z.shape[0] - 1)
        minutes = approvals.answer_minutes(float(self.answer_z[row]))
        return minutes, bool(self.answer_u[row] < approvals.approve_probability)


def _versions(table: str, drift: str | None, rng: np.random.Generator) -> tuple[TableVersion, ...]:
    """Catalog versions of one table: a crawler re-run (same schema) or a change of ``drift``'s kind."""
    baseline = TableVersion("1", _BASE_COLUMNS, updated_at=_BASELINE_TIME)
    columns = list(_BASE_COLUMNS)
    if drift is not None:
        k = 1 + int(rng.integers(len(columns) - 1))  # never the key column
        old = columns[k]
        if drift == "column_removed":
            del columns[k]
        elif drift == "column_renamed":
            columns[k] = Column(f"{old.name}_v2", old.type)
        else:  # type_changed
            columns[k] = Column(old.name, "string" if old.type != "string" else "bigint")
    current = TableVersion("2", tuple(columns), updated_at=_BASELINE_TIME + timedelta(days=1))
    return baseline, current


def _pick(weights: Sequence[float], rng: np.random.Generator) -> int:
    total = float(sum(weights))
    u = rng.random() * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if u < acc:
            return i
    return len(weights) - 1


def seed_entropy(seed: int) -> int:
    """numpy's generators take non-negative seeds only; a scenario's seed is any integer. Seeds in
    [0, 2**128) are used as they are, so the streams they give do not change."""
    return seed % (1 << 128)


def generate_incidents(
    scenario: Scenario,
    incidents: int,
    seed: int,
    classify: Callable[[str], ClassificationLike],
    attempts_kept: int = 8,
    *,
    perfect_diagnosis: bool = False,
) -> list[Incident]:
    """The stream every policy meets, in order. Deterministic in (scenario, incidents, seed).

    Luck (common random numbers) is one uniform per (attempt, action) per incident, from a generator
    seeded by (seed, incident index) alone, for every attempt any policy can make; the same generator
    then draws the human's time and, per approval request, the answer's time and verdict. With
    ``perfect_diagnosis`` the classifier is replaced by the mode's true category (everything else, the
    stream included, unchanged), so that the cost of misdiagnosis can be measured on the same stream.
    """
    entropy = seed_entropy(seed)
    rng = np.random.default_rng([entropy, STREAM_WORLD])
    rows = max(attempts_kept, scenario.max_attempts + 1)  # baselines make at most 3 attempts
    library = message_library()
    job_weights = [j.weight for j in scenario.jobs]
    out: list[Incident] = []
    for index in range(incidents):
        position = index / incidents
        job = scenario.jobs[_pick(job_weights, rng)]
        candidates = [i for i, m in enumerate(scenario.modes) if m.applies(job.name, position)]
        if not candidates:  # validation makes this impossible; keep the error clear anyway
            raise ValueError(f"no mode applies to job {job.name!r} at {position:.3f} of the stream")
        mode_index = candidates[_pick([scenario.modes[i].weight for i in candidates], rng)]
        mode = scenario.modes[mode_index]
        messages = mode.messages if mode.messages is not None else library[mode.category]
        message = messages[int(rng.integers(len(messages)))]

        drift_table = None
        if mode.drift is not None and job.tables:
            drift_table = job.tables[int(rng.integers(len(job.tables)))]
        table_versions = {
            table: _versions(table, mode.drift if table == drift_table else None, rng) for table in job.tables
        }
        evidence = Evidence(
            job_name=job.name,
            error_log=message,
            tags={"criticality": job.criticality.value, QUARANTINE_TAG: "enabled"},
            table_versions=table_versions,
            bad_record_fraction=mode.bad_record_fraction,
        )
        luck_rng = np.random.default_rng([entropy, STREAM_LUCK, index])
        luck = luck_rng.random((rows, len(ACTIONS)))
        human_z = float(luck_rng.standard_normal())
        # Drawn after the luck and the human, so that they are what they were before approvals existed.
        answer_z = luck_rng.standard_normal(rows)
        answer_u = luck_rng.random(rows)
        out.append(
            Incident(
                index=index,
                position=position,
                job=job,
                mode_index=mode_index,
                mode=mode,
                message=message,
                drift_table=drift_table,
                diagnosis=diagnose(
                    evidence, PerfectClassifier(mode.category) if perfect_diagnosis else classify
                ),
                luck=luck,
                human_z=human_z,
                answer_z=answer_z,
                answer_u=answer_u,
            )
        )
    return out
