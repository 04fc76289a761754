"""The simulated Glue environment behind the local engine: jobs, catalog histories, the failed runs'
logs, and a seeded decision on whether each run Execute starts succeeds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal_core.job_contract import ACTION_ARGUMENT, ATTEMPT_ARGUMENT

from selfheal.errors import UsageError


@dataclass(frozen=True)
class JobFixture:
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    default_arguments: Mapping[str, str] = field(default_factory=dict)
    # action -> probability that a run started by that action succeeds (as in the scenario spec)
    fix: Mapping[str, float] = field(default_factory=dict)
    # "db.table" -> list of column lists, oldest first; the last one is current
    tables: Mapping[str, list[list[dict[str, str]]]] = field(default_factory=dict)
    # How long a run of the job takes (its CompletedOn - StartedOn, as Validate measures it).
    runtime_minutes: float = 0.0


@dataclass(frozen=True)
class World:
    jobs: Mapping[str, JobFixture]
    run_logs: Mapping[str, str]
    # Glue Data Quality results, as GetDataQualityResult returns them (ResultId, JobName, JobRunId,
    # RuleResults, AggregatedMetrics): the only source of a bad-record fraction.
    data_quality: list[Mapping[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> World:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise UsageError(f"cannot read the local world file {path}: {error}") from error
        jobs = {
            name: JobFixture(
                name=name,
                tags=spec.get("tags", {}),
                default_arguments=spec.get("default_arguments", {}),
                fix=spec.get("fix", {}),
                tables=spec.get("tables", {}),
                runtime_minutes=float(spec.get("runtime_minutes", 0.0)),
            )
            for name, spec in data.get("jobs", {}).items()
        }
        return cls(
            jobs=jobs, run_logs=data.get("run_logs", {}), data_quality=list(data.get("data_quality", []))
        )

    def job(self, name: str) -> JobFixture:
        return self.jobs.get(name, JobFixture(name=name))


def uniform(*parts: Any) -> float:
    """A reproducible number in [0, 1) from its parts: the same run always meets the same luck."""
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass
class RunOutcomeDecider:
    """Decides each run Execute starts; ``forced`` ("success" | "failure") overrides the dice."""

    world: World
    seed: int = 0
    forced: str | None = None

    def succeeds(self, job_name: str, arguments: Mapping[str, str]) -> bool:
        if self.forced is not None:
            return self.forced == "success"
        action = arguments.get(ACTION_ARGUMENT, "retry")
        probability = float(self.world.job(job_name).fix.get(action, 0.0))
        return uniform(self.seed, job_name, arguments.get(ATTEMPT_ARGUMENT, ""), action) < probability
