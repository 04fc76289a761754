"""``selfheal replay EVENT.json``: one EventBridge event through the local state machine."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from selfheal.commands import help_options
from selfheal.errors import UsageError
from selfheal.local.replay import read_event

# What replay keeps under $SELFHEAL_HOME: the SQLite incident log and Q-table (with SQLite's side files)
# and the audit files. Reports, qtable.json and demo/ are not replay's and survive --fresh.
LOCAL_STATE = (
    "selfheal.sqlite3",
    "selfheal.sqlite3-wal",
    "selfheal.sqlite3-shm",
    "selfheal.sqlite3-journal",
    "audit",
    "executions",
)
DEFAULT_HUMAN = "answer"


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated Glue environment")
    parser.add_argument("--mode", choices=("auto", "shadow"), default="auto", help="shadow: execute nothing")
    parser.add_argument("--kill-switch", action="store_true", help="turn every automated action off")
    parser.add_argument(
        "--human",
        choices=("answer", "approve", "reject", "resolve", "timeout", "wait"),
        default=None,  # None, not "answer": replay must know whether it was given (a duplicate ignores it)
        help="the local on-call's answer to any wait: approve, reject, resolve (fixed by hand) or "
        f"timeout (nobody answers), or wait for selfheal incidents approve|reject|resolve from another "
        f"terminal; {DEFAULT_HUMAN}: approve a held proposal, resolve the rest "
        f"(default: {DEFAULT_HUMAN})",
    )
    parser.add_argument(
        "--world", type=Path, default=None, help="simulated Glue world (events/local/world.json)"
    )


REPLAY_EXAMPLES = """\
examples:
  # the states visited and what each decided
  selfheal replay events/glue/schema_drift.json
  # the runs selfheal starts fail; print one JSON object
  selfheal replay events/glue/throttling.json --outcome failure --json
  # nobody answers the escalation
  selfheal replay events/glue/permission.json --human timeout
  # a rollback on a critical job waits for approval: the on-call approves it
  selfheal replay events/glue/schema_drift_critical.json --human approve --json
  # the same event again, from an empty local store
  selfheal replay events/glue/schema_drift.json --fresh
  # SNS throttles the escalation once; the event log is down for good
  selfheal replay events/glue/permission.json --inject 'sns:Publish=Throttled'
  selfheal replay events/glue/permission.json --fresh \\
      --inject 'dynamodb:PutItem=ProvisionedThroughputExceededException always'

Replaying an event twice in the same $SELFHEAL_HOME reports a duplicate, as
AWS would for a redelivered event; --fresh first moves the previous local
state aside to $SELFHEAL_HOME/previous/<time>/.
"""


DESCRIPTION = """\
Run one Glue failure event (Glue Job State Change FAILED/TIMEOUT, or a failed Data Quality result)
through the real state machine and Lambda handlers on the local engine, against a simulated Glue world,
and show the states it visited and what each decided. Local state (the SQLite incident log and Q-table,
audit files) lives in $SELFHEAL_HOME (default .selfheal/).
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="run one EventBridge event through the local state machine",
        **help_options(
            DESCRIPTION,
            REPLAY_EXAMPLES,
        ),
    )
    parser.add_argument("event", type=Path, help="a Glue Job State Change event (JSON)")
    parser.add_argument("--outcome", choices=("success", "failure"), help="force the runs Execute starts")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly one JSON object (notices go to stderr)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty local store: move $SELFHEAL_HOME's incident log, Q-table and audit "
        "files aside first",
    )
    parser.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault (repeatable): SERVICE:Operation=ErrorCode, timeout:SERVICE:Operation or "
        "lost:STATE, optionally followed by ' xN' or ' always' (default: once); "
        "see docs/operations.md, Fault injection",
    )
    add_engine_options(parser)
    parser.set_defaults(run=run)


def parse_faults(specs: list[str]) -> tuple[Any, ...]:
    from selfheal.local.faults import FaultSpecError, parse

    try:
        return tuple(parse(spec) for spec in specs)
    except FaultSpecError as error:
        raise UsageError(str(error)) from None


def engine_options(args: argparse.Namespace, home: Path, outcome: str | None = None) -> Any:
    from selfheal.local.engine import EngineOptions
    from selfheal.local.replay import DEFAULT_WORLD
    from selfheal.local.world import World

    return EngineOptions(
        home=home,
        seed=args.seed,
        outcome=outcome,
        mode=args.mode,
        kill_switch=args.kill_switch,
        human=args.human or DEFAULT_HUMAN,
        world=World.load(args.world or DEFAULT_WORLD),
        faults=parse_faults(getattr(args, "inject", None) or []),
    )


def move_local_state_aside(home: Path, now: float | None = None) -> Path | None:
    """Move replay's local state to ``home/previous/<UTC time>/`` (kept, not deleted: it may hold a
    Q-table installed with ``train --install``); None when there was nothing to move."""
    present = [home / name for name in LOCAL_STATE if (home / name).exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = home / "previous" / stamp
    suffix = 1
    while target.exists():  # two --fresh runs within the same second
        suffix += 1
        target = home / "previous" / f"{stamp}-{suffix}"
    target.mkdir(parents=True)
    for path in present:
        path.rename(target / path.name)
    return target


def forget_open_stores() -> None:
    """Handlers keep their adapters per Lambda container, which is this process locally: the cached SQLite
    connections would go on writing to the files just moved aside (a second replay in one process)."""
    from selfheal_core.runtime import wiring

    cached = getattr(wiring, "_cached", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def duplicate_notices(summary: Mapping[str, Any], home: Path, args: argparse.Namespace) -> list[str]:
    """What to say on stderr when the event had already been replayed in this home (nothing otherwise)."""
    if summary.get("outcome") != "duplicate":
        return []
    if summary.get("closed_by") == "sweeper":
        return [
            f"selfheal replay: this event's incident {summary['incident_id']} was left open by an earlier "
            "replay that did not finish, and was closed by the sweeper (selfheal incidents sweep), so "
            "nothing was done; use --fresh or another SELFHEAL_HOME to replay it again"
        ]
    notices = [
        f"selfheal replay: this event was already replayed in {home} as incident {summary['incident_id']}, "
        "so nothing was done; use --fresh or another SELFHEAL_HOME to replay it again"
    ]
    ignored = [
        f"--{name} {value}" for name, value in (("outcome", args.outcome), ("human", args.human)) if value
    ]
    if ignored:
        notices.append(f"selfheal replay: {' and '.join(ignored)} ignored: a duplicate runs no step")
    return notices


def waiting_notice(event: Mapping[str, Any]) -> str:
    from selfheal_core.adapters.eventbridge import trigger_from_event
    from selfheal_core.domain.incident import incident_id_for

    try:
        trigger = trigger_from_event(event)
        incident = incident_id_for(trigger.job_name, trigger.job_run_id)
    except (KeyError, TypeError, ValueError):
        incident = "INCIDENT_ID"
    return (
        f"selfheal replay: any wait for a human is answered from another terminal, with the same "
        f"SELFHEAL_HOME: selfheal incidents approve|reject|resolve {incident}"
    )


def run(args: argparse.Namespace) -> int:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    from selfheal.home import selfheal_home
    from selfheal.local.engine import LocalEngine
    from selfheal.local.render import print_incident
    from selfheal.local.replay import replay
    from selfheal.untrusted import one_line

    event, problem = read_event(args.event)
    if problem is not None:
        print(
            f"selfheal replay: {one_line(args.event)}: {one_line(problem)}; replayed anyway: Diagnose "
            "refuses it and Escalate records the incident, as in AWS",
            file=sys.stderr,
        )
    home = selfheal_home()
    if args.fresh:
        moved = move_local_state_aside(home)
        if moved is not None:
            forget_open_stores()
            print(f"selfheal replay: --fresh: the previous local state is now in {moved}", file=sys.stderr)
    if args.human == "wait":
        print(waiting_notice(event), file=sys.stderr)
    with LocalEngine(engine_options(args, home, args.outcome)) as engine:
        summary = replay(engine, event)
    for notice in duplicate_notices(summary.data, home, args):
        print(one_line(notice), file=sys.stderr)
    if args.json:
        sys.stdout.write(summary.to_json() + "\n")
        return 0
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        print_incident(Console(), summary.data, store.load(str(summary.data["incident_id"])))
    finally:
        store.close()
    return 0
