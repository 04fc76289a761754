"""``selfheal qtable [PATH]``: show a saved Q-table as a readable table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from selfheal.commands import help_options
from selfheal.errors import UsageError
from selfheal.home import selfheal_home

QTABLE_EXAMPLES = """\
examples:
  selfheal train --scenario job_specific && selfheal qtable
  # a table saved with 'selfheal train --out'
  selfheal qtable /tmp/q.json
  # one JSON object: {"path": ..., "rows": [...]}
  selfheal qtable --json
"""


DESCRIPTION = """\
Show a Q-table saved by 'selfheal train': one row per state (shared rows, and job-specific rows
'job::state'), the value and visit count of each action, and the action the row picks. On a terminal
narrower than the full grid, each row lists only the actions it has tried.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "qtable",
        help="show a saved Q-table (values, visits, the action it picks)",
        **help_options(
            DESCRIPTION,
            QTABLE_EXAMPLES,
        ),
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

    console = Console()
    console.print(qtable_view(rows, f"{path}: {len(rows)} rows", console.width))
    return 0


# The full grid (a column per action) needs about this many columns; below it, a compact layout.
WIDE_QTABLE_COLUMNS = 160


def qtable_view(rows: list[dict[str, Any]], caption: str, width: int) -> Any:
    """The full grid on a wide terminal; otherwise one line per state with only the actions it tried."""
    if width >= WIDE_QTABLE_COLUMNS:
        return _grid(rows, caption)
    return _compact(rows, caption)


def _readable_state(key: str) -> str:
    # Spaces after the separators let a narrow column wrap between the state's parts, not inside them.
    return key.replace("|", " | ").replace("::", ":: ")


def _grid(rows: list[dict[str, Any]], caption: str) -> Any:
    from rich.table import Table
    from selfheal_core.vocabulary import ACTIONS

    out = Table(title=f"{caption}: value (visits) per action; 'picks': the best tried action")
    out.add_column("state", overflow="fold", ratio=1)
    for action in ACTIONS:
        out.add_column(action.value, justify="right", no_wrap=True)
    out.add_column("visits", justify="right", no_wrap=True)
    out.add_column("picks", no_wrap=True)
    for row in rows:
        out.add_row(
            _readable_state(row["state"]),
            *(f"{row['values'][a.value]:.2f} ({row['visits'][a.value]})" for a in ACTIONS),
            str(row["total_visits"]),
            row["picks"],
        )
    return out


def _tried(row: dict[str, Any]) -> str:
    """The actions the row has tried, best first, one per line: ``backoff_retry -4.20 (11)``."""
    tried = [a for a, n in row["visits"].items() if n > 0]
    tried.sort(key=lambda a: row["values"][a], reverse=True)
    return "\n".join(f"{a} {row['values'][a]:.2f} ({row['visits'][a]})" for a in tried) or "-"


def _compact(rows: list[dict[str, Any]], caption: str) -> Any:
    from rich import box
    from rich.table import Table
    from selfheal_core.vocabulary import ACTIONS

    out = Table(title=f"{caption}: tried actions, value (visits)", box=box.SIMPLE_HEAD, pad_edge=False)
    out.add_column("state", overflow="fold", ratio=1)
    longest_action = max(len(a.value) for a in ACTIONS)
    out.add_column("picks", no_wrap=True, min_width=longest_action)
    out.add_column("visits", justify="right", no_wrap=True)
    out.add_column("tried: value (visits)", no_wrap=True)
    for row in rows:
        out.add_row(_readable_state(row["state"]), row["picks"], str(row["total_visits"]), _tried(row))
    return out
