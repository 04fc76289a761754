"""``selfheal replay EVENT.json``: one EventBridge event through the local state machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated Glue environment")
    parser.add_argument("--mode", choices=("auto", "shadow"), default="auto", help="shadow: execute nothing")
    parser.add_argument("--kill-switch", action="store_true", help="turn every automated action off")
    parser.add_argument(
        "--human",
        choices=("answer", "timeout"),
        default="answer",
        help="whether the local on-call answers escalations or lets them time out",
    )
    parser.add_argument(
        "--world", type=Path, default=None, help="simulated Glue world (events/local/world.json)"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="run one EventBridge event through the local state machine")
    parser.add_argument("event", type=Path, help="a Glue Job State Change event (JSON)")
    parser.add_argument("--outcome", choices=("success", "failure"), help="force the runs Execute starts")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_engine_options(parser)
    parser.set_defaults(run=run)


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
        human=args.human,
        world=World.load(args.world or DEFAULT_WORLD),
    )


def run(args: argparse.Namespace) -> int:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    from selfheal.local.engine import LocalEngine
    from selfheal.local.render import print_incident
    from selfheal.local.replay import load_event, replay, selfheal_home

    event = load_event(args.event)
    home = selfheal_home()
    with LocalEngine(engine_options(args, home, args.outcome)) as engine:
        summary = replay(engine, event)
    if args.json:
        sys.stdout.write(summary.to_json() + "\n")
        return 0
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        print_incident(Console(), summary.data, store.load(str(summary.data["incident_id"])))
    finally:
        store.close()
    return 0
