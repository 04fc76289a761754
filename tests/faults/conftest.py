"""Runs each fault case once (a fresh local engine and home per case) and keeps what the invariant tests
check: the summary, the incident's log, the calls that succeeded, the Glue runs and the audit files."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.events import IncidentEvent
from selfheal_core.job_contract import ATTEMPT_ARGUMENT

from selfheal.local.engine import ACCOUNT, REGION, EngineOptions, LocalEngine
from selfheal.local.faults import CallLog, parse
from selfheal.local.replay import DEFAULT_WORLD, PROJECT_EVENTS, load_event, replay
from selfheal.local.world import World

WORLD = World.load(DEFAULT_WORLD)


@dataclass
class CaseResult:
    spec: str
    event_name: str
    summary: dict[str, Any]
    log: list[IncidentEvent]
    calls: CallLog
    run_markers: list[str]  # --selfheal-attempt of every run Glue has for the job, selfheal's only
    audit_seqs: list[int]  # audit files after the execution
    audit_seqs_later: list[int]  # after one more audit pass without faults
    notifications: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.log]


def run_case(home: Path, event_name: str, specs: list[str]) -> CaseResult:
    from moto.glue.models import glue_backends

    faults = tuple(parse(spec) for spec in specs)
    event = load_event(PROJECT_EVENTS / "glue" / f"{event_name}.json")
    options = EngineOptions(home=home, world=WORLD, outcome="success", learning=False, faults=faults)
    with LocalEngine(options) as engine:
        summary = replay(engine, event).data
        # replay() ran wait(), which disarmed the faults and wrote the audit trail once.
        result_calls = engine.last_calls
        job = glue_backends[ACCOUNT][REGION].get_job(summary["job_name"])
        markers = [(r.arguments or {}).get(ATTEMPT_ARGUMENT) for r in job.job_runs]
        store = SqliteEventStore(home / "selfheal.sqlite3")
        try:
            log = store.load(summary["incident_id"])
        finally:
            store.close()
        audit_dir = home / "audit" / "incidents" / summary["incident_id"]
        audit = sorted(int(p.name.split("-")[0]) for p in audit_dir.glob("*.json"))
        engine.write_audit([summary["incident_id"]])
        later = sorted(int(p.name.split("-")[0]) for p in audit_dir.glob("*.json"))
    notifications = []
    for message in result_calls.notifications:
        try:
            notifications.append(json.loads(message))
        except json.JSONDecodeError:
            notifications.append({"raw": message})
    return CaseResult(
        spec=" + ".join(specs) or "none",
        event_name=event_name,
        summary=summary,
        log=log,
        calls=result_calls,
        run_markers=[m for m in markers if m],
        audit_seqs=audit,
        audit_seqs_later=later,
        notifications=notifications,
    )


@pytest.fixture(scope="session")
def fault_case(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, tuple[str, ...]], CaseResult]:
    """``fault_case(event, specs)``: the case's result, run once per session."""
    cache: dict[tuple[str, tuple[str, ...]], CaseResult] = {}

    def get(event_name: str, specs: tuple[str, ...]) -> CaseResult:
        key = (event_name, specs)
        if key not in cache:
            home = tmp_path_factory.mktemp("fault")
            cache[key] = run_case(home, event_name, list(specs))
        return cache[key]

    return get
