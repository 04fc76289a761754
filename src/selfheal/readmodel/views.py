"""The terminal views of ``incidents list`` and ``incidents show``, readable at 80 columns. Every value
that came from a log or an event is escaped (``for_terminal``): markup and control characters print as
text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from selfheal.local.render import OUTCOME_STYLE
from selfheal.readmodel.describe import duration, what
from selfheal.readmodel.records import parse_time
from selfheal.readmodel.show import IncidentDocument
from selfheal.readmodel.timeline import step_of, with_questions
from selfheal.untrusted import for_terminal

DASH = "-"


def _shown(value: Any) -> str:
    return DASH if value is None or value == "" else for_terminal(value)


def short_time(value: str | None) -> str:
    moment = parse_time(value)
    return moment.strftime("%m-%d %H:%M:%S") if moment else _shown(value)


def _state(row: Mapping[str, Any]) -> str:
    outcome = str(row["outcome"])
    if row["status"] == "waiting":
        text = f"[yellow]waiting for {for_terminal(row.get('waiting_for') or 'answer')}[/yellow]"
    elif row["status"] == "open":
        text = "[cyan]open[/cyan]"
    else:
        style = OUTCOME_STYLE.get(outcome, "white")
        text = f"[{style}]{for_terminal(outcome)}[/{style}]"
        if row.get("assisted"):
            text += " (assisted)"
    if row.get("overdue"):
        text += "\n[bold red]OVERDUE[/bold red]"
    return text


def _action(row: Mapping[str, Any]) -> str:
    """``rollback`` when the proposal held, ``rollback -> escalate`` when it was replaced."""
    proposed, final = row.get("proposed_action"), row.get("final_action")
    if proposed is None or final is None or proposed == final:
        return _shown(final if final is not None else proposed)
    return f"{for_terminal(proposed)} -> {for_terminal(final)}"


def _longest_word(cells: Iterable[str], floor: int) -> int:
    return max([floor, *(len(word) for cell in cells for word in cell.split())])


def incidents_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """One row per incident, its job under its id: at 80 columns the id, the category and every action
    and state word show whole (only a long job name folds)."""
    rows = list(rows)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("incident / job", overflow="fold", min_width=20, ratio=1)
    table.add_column("opened (UTC)", min_width=11)
    table.add_column("category", no_wrap=True)
    table.add_column("action", min_width=_longest_word((_action(r) for r in rows), 6))
    table.add_column("state", min_width=len("escalated"))
    for row in rows:
        opened = parse_time(row["opened_at"])
        table.add_row(
            f"{_shown(row['incident_id'])}\n[dim]{_shown(row['job_name'])}[/dim]",
            opened.strftime("%m-%d %H:%M") if opened else _shown(row["opened_at"]),
            _shown(row["category"]),
            _action(row),
            _state(row),
        )
    return table


def print_timeline(console: Console, document: IncidentDocument) -> None:
    row = document.summary
    console.print(
        f"[bold]{_shown(row['incident_id'])}[/bold] {_shown(row['job_name'])} run "
        f"{_shown(str(row['job_run_id'] or '')[:18])}… {_state(row).replace(chr(10), ' ')}",
        highlight=False,
    )
    console.print(
        f"  category {_shown(row['category'])}; proposed {_shown(row['proposed_action'])}; "
        f"final {_shown(row['final_action'])}; status {_shown(row['status'])}",
        highlight=False,
    )
    deadline = f"; deadline {_shown(row['deadline'])}" if row.get("deadline") else ""
    console.print(f"  opened {_shown(row['opened_at'])}{deadline}", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("+", no_wrap=True, justify="right")
    table.add_column("step", no_wrap=True)
    table.add_column("what was decided", overflow="fold", ratio=1)
    previous_at: str | None = None
    previous_step: str | None = None
    for record, asked in zip(document.log.records, with_questions(document.log.records), strict=True):
        step = step_of(asked, document.machine, previous_step)
        previous_step = step if step in document.machine.states else previous_step
        gap = DASH
        if previous_at is not None:
            start, end = parse_time(previous_at), parse_time(record["at"])
            gap = duration((end - start).total_seconds()) if start and end else DASH
        previous_at = record["at"]
        table.add_row(
            short_time(record["at"]), gap, for_terminal(step), for_terminal(what(record, row["incident_id"]))
        )
    console.print(table, highlight=False)
    told = document.story
    console.print(f"path ({told.source}): {for_terminal(' > '.join(told.path)) or DASH}", highlight=False)
    if told.waits:
        console.print("waits:", highlight=False)
        for wait in told.waits:
            console.print(
                f"  {for_terminal(wait.step)}: {duration(wait.seconds)} "
                f"({short_time(wait.since)} to {short_time(wait.until)}), for {for_terminal(wait.why)}",
                highlight=False,
            )
    else:
        console.print("waits: none", highlight=False)
    answer = row.get("answer")
    if answer:
        from selfheal.readmodel.describe import answer_line

        console.print(f"answer: {for_terminal(answer_line(answer))}", highlight=False)
    for name, command in (row.get("answer_with") or {}).items():
        console.print(f"to {for_terminal(name)}: {for_terminal(command)}", highlight=False)
    for name, url in (row.get("links") or {}).items():
        console.print(f"{for_terminal(name)}: {for_terminal(url)}", highlight=False, soft_wrap=True)
