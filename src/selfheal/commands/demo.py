"""``selfheal demo``: replay every sample in events/glue through the local state machine."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from rich.console import Console
from rich.progress import Progress

from selfheal.commands import help_options

DEMO_EXAMPLES = """\
examples:
  selfheal demo                  # every sample, then a summary table
  selfheal demo --mode shadow    # propose and record, execute nothing
  selfheal demo --kill-switch    # every incident escalated, nothing automated
  selfheal demo --human reject   # the on-call rejects the held rollback
  SELFHEAL_HOME=/tmp/sh selfheal demo
"""


DESCRIPTION = """\
Replay every sample event in events/glue/ (one per failure category, and a dropped column on a critical
job whose rollback waits for approval, which the local on-call gives) through the real state machine and
Lambda handlers on the local engine (no AWS, no Docker), redeliver one of them to show duplicate
detection, and print what each incident went through and a summary table. The incident log and audit
files are left in $SELFHEAL_HOME/demo (emptied first).
"""


def register(subparsers: Any) -> None:
    from selfheal.commands.replay import add_engine_options

    parser = subparsers.add_parser(
        "demo",
        help="replay every sample event locally and show what happened",
        **help_options(
            DESCRIPTION,
            DEMO_EXAMPLES,
        ),
    )
    add_engine_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    from selfheal.commands.replay import engine_options
    from selfheal.home import selfheal_home
    from selfheal.local.engine import LocalEngine
    from selfheal.local.render import print_incident, summary_table
    from selfheal.local.replay import PROJECT_EVENTS, load_event, replay
    from selfheal.untrusted import for_terminal

    console = Console()
    home = selfheal_home() / "demo"
    shutil.rmtree(home, ignore_errors=True)  # the demo always starts from an empty incident log
    samples = sorted((PROJECT_EVENTS / "glue").glob("*.json"))
    rows: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("starting the local engine", total=len(samples) + 1)
        with LocalEngine(engine_options(args, home)) as engine:
            for path in samples:
                progress.update(task, description=f"replaying {for_terminal(path.name)}")
                rows.append({"event": path.stem, **replay(engine, load_event(path)).data})
                progress.advance(task)
            progress.update(task, description="redelivering one event (at-least-once delivery)")
            rows.append(
                {"event": f"{samples[0].stem} (again)", **replay(engine, load_event(samples[0])).data}
            )
            progress.advance(task)

    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        for row in rows:
            print_incident(console, row, store.load(str(row["incident_id"])))
            console.print()
    finally:
        store.close()
    console.print(summary_table(rows, width=console.width))
    resolved = sum(1 for r in rows if r["outcome"] == "resolved" and not r.get("assisted"))
    assisted = sum(1 for r in rows if r["outcome"] == "resolved" and r.get("assisted"))
    console.print(
        f"{resolved} of {len(samples)} incidents resolved automatically, {assisted} after the on-call "
        f"approved the fix selfheal held for approval; every step is in "
        f"{for_terminal(home / 'selfheal.sqlite3')} and {for_terminal(home / 'audit')}."
    )
    return 0
