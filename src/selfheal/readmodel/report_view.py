"""The terminal view of ``report shadow``: one line per category, then one per proposed action."""

from __future__ import annotations

from rich import box
from rich.table import Table

from selfheal.readmodel.precision import GroupTally, Tally
from selfheal.untrusted import for_terminal

LEVEL_STYLE = {"auto": "green", "approve": "yellow", "shadow": "white"}


def _cells(counts: Tally) -> list[str]:
    interval = counts.interval
    precision = "-" if counts.precision is None else f"{counts.precision:.2f}"
    shown = "-" if interval is None else f"{interval[0]:.2f}-{interval[1]:.2f}"
    level = counts.recommendation
    return [
        str(counts.proposals),
        str(counts.known),
        str(counts.agreed),
        precision,
        shown,
        f"[{LEVEL_STYLE[level]}]{level}[/{LEVEL_STYLE[level]}]",
    ]


def shadow_table(groups: dict[str, GroupTally]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("category / action", overflow="fold", ratio=1)
    for name in ("props", "known", "agreed", "prec.", "95% CI"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("advice", no_wrap=True)
    for name, group in groups.items():
        table.add_row(f"[bold]{for_terminal(name)}[/bold]", *_cells(group))
        for action, counts in sorted(group.by_proposal.items()):
            table.add_row(f"  {for_terminal(action)}", *_cells(counts))
    return table
