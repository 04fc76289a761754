"""What each incident path uses, counted on the local engine (``selfheal cost``).

Each path runs one incident through the real state machine and handlers: the state transitions are the
states the execution entered (its history), the Lambda invocations are the engine's dispatches (including
RunFinished's, which EventBridge makes outside the execution), the GB-seconds are the handlers' measured
wall time here times the function memory, and the AWS calls are those the fault controller counted
(the SQLite and directory stand-ins count as the DynamoDB and S3 calls they replace).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.costmodel import Usage
from selfheal.local.engine import EngineOptions, LocalEngine
from selfheal.local.replay import DEFAULT_WORLD, PROJECT_EVENTS, load_event
from selfheal.local.world import World

# The state machine before runs were awaited by event (integration at cb1ead4), kept to measure against.
POLLING_ASL = Path(__file__).resolve().parents[1] / "data" / "baseline" / "incident.polling.asl.json"
JOB_MINUTES = 18.0
# The deployed defaults that change the path (the local engine's own defaults are for the demo).
DEPLOYED = {"AWAIT_HUMAN": "false", "POLL_SECONDS": "60", "MAX_POLLS": "120", "BACKOFF_SECONDS": "600"}


@dataclass(frozen=True)
class Path_:
    name: str
    sample: str  # events/glue/<sample>.json
    runs_succeed: bool
    description: str
    redeliver: bool = False


PATHS = (
    Path_(
        "resolved_after_one_retry",
        "transient_network",
        True,
        f"a transient failure, re-run once; the {JOB_MINUTES:.0f}-minute run succeeds",
    ),
    Path_(
        "escalated_after_three_attempts",
        "transient_network",
        False,
        f"three {JOB_MINUTES:.0f}-minute re-runs all fail, then a human is told",
    ),
    Path_("escalated_at_once", "permission", False, "a permission error: a human is told at once, no run"),
    Path_(
        "duplicate_event",
        "transient_network",
        True,
        "a redelivered event for an incident already open",
        redeliver=True,
    ),
)


@dataclass(frozen=True)
class Design:
    name: str  # "polling" | "event"
    asl_path: Path | None
    memory_mb: int


POLLING = Design("polling", POLLING_ASL, 512)
EVENT = Design("event", None, 256)


def _world(minutes: float) -> World:
    world = World.load(DEFAULT_WORLD)
    jobs = {name: dataclasses.replace(job, runtime_minutes=minutes) for name, job in world.jobs.items()}
    return World(jobs=jobs, run_logs=world.run_logs)


def _with_run_id(event: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    copy = dict(event)
    copy["detail"] = {**dict(event["detail"]), "jobRunId": run_id}
    copy["id"] = f"cost-{run_id}"
    return copy


def measure(design: Design, minutes: float = JOB_MINUTES) -> dict[str, Usage]:
    """Every path of ``PATHS`` on one engine for ``design``, after one warm-up incident (so cold imports
    are not counted as run time)."""
    succeed = {"value": True}
    usages: dict[str, Usage] = {}
    with tempfile.TemporaryDirectory(prefix="selfheal-cost-") as home:
        options = EngineOptions(
            home=Path(home),
            world=_world(minutes),
            learning=True,
            decider=lambda job, arguments: succeed["value"],
            environment=DEPLOYED,
            asl_path=design.asl_path,
        )
        with LocalEngine(options) as engine:
            warm = load_event(PROJECT_EVENTS / "glue" / "transient_network.json")
            engine.run(_with_run_id(warm, "jr_cost_warm_up"))
            for number, path in enumerate(PATHS):
                event = _with_run_id(
                    load_event(PROJECT_EVENTS / "glue" / f"{path.sample}.json"), f"jr_cost_{number}"
                )
                succeed["value"] = path.runs_succeed
                if path.redeliver:
                    engine.run(event)
                before = len(engine.invocations)
                result = engine.run(event)
                invoked = engine.invocations[before:]
                usages[path.name] = Usage(
                    transitions=result.transitions,
                    invocations=dict(Counter(i.function for i in invoked)),
                    gb_seconds=sum(i.seconds for i in invoked) * design.memory_mb / 1024,
                    calls={k: v for k, v in result.calls.calls.items() if k != "lambda:Invoke"},
                )
            if engine.emits_run_events:
                usages[FOREIGN_RUN_END] = _foreign_run_end(engine, design)
    return usages


FOREIGN_RUN_END = "other_glue_run_ended"


def _foreign_run_end(engine: LocalEngine, design: Design) -> Usage:
    """The end of a Glue run selfheal did not start: the rule invokes RunFinished, which looks and ignores
    it. Paid for every run of every job in GlueJobNamePattern, failed or not."""
    from selfheal.local.faults import controller

    before = len(engine.invocations)
    controller.arm([])
    try:
        engine.emit_run_event("orders-daily-load", "jr_not_started_by_selfheal", "SUCCEEDED")
    finally:
        calls = controller.disarm()
    invoked = engine.invocations[before:]
    return Usage(
        transitions=0,
        invocations=dict(Counter(i.function for i in invoked)),
        gb_seconds=sum(i.seconds for i in invoked) * design.memory_mb / 1024,
        calls=dict(calls.calls),
    )
