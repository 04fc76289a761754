"""``selfheal qtable [PATH]``: show a saved Q-table as a readable table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from selfheal.commands.evaluate import selfheal_home


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "qtable", help="show a saved Q-table (values, visits, the action it picks)"
    )
    parser.add_argument(
        "path", nargs="?", type=Path, help="Q-table JSON (default: $SELFHEAL_HOME/qtable.json)"
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(run=run)


def preferred(values: dict[str, float], visits: dict[str, int]) -> str:
    """The highest-valued action among those the row has tried (the mask is not in the table, and an
    untried action's value is only its prior); the highest value overall for a row never visited."""
    tried = [a for a in values if visits.get(a, 0) > 0] or list(values)
    return max(tried, key=lambda a: (values[a], visits.get(a, 0)))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from selfheal_core.vocabulary import ACTIONS

    from selfheal.cli import UsageError
    from selfheal.simulator.qtable_io import QTableFileError, load_qtable

    path = args.path or selfheal_home() / "qtable.json"
    if not Path(path).exists():
        raise UsageError(f"{path}: no such Q-table (train one with 'selfheal train --scenario default')")
    try:
        table, _settings = load_qtable(path)
    except QTableFileError as error:
        raise UsageError(str(error)) from None

    rows = []
    for key in sorted(table.rows):
        entry = table.rows[key].to_dict()
        rows.append(
            {
                "state": key,
                "values": entry["values"],
                "visits": entry["visits"],
                "total_visits": sum(entry["visits"].values()),
                "picks": preferred(entry["values"], entry["visits"]),
            }
        )
    if args.json:
        sys.stdout.write(json.dumps({"path": str(path), "rows": rows}) + "\n")
        return 0

    out = Table(title=f"{path}: {len(rows)} rows (value, visits); 'picks': best tried action")
    out.add_column("state")
    for action in ACTIONS:
        out.add_column(action.value, justify="right")
    out.add_column("visits", justify="right")
    out.add_column("picks")
    for row in rows:
        out.add_row(
            row["state"],
            *(f"{row['values'][a.value]:.2f} ({row['visits'][a.value]})" for a in ACTIONS),
            str(row["total_visits"]),
            row["picks"],
        )
    Console(width=250).print(out)
    return 0
