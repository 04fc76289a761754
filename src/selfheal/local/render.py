"""Human output: each incident as the states it went through, with what each one decided."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from selfheal_core.domain.events import (
    Answered,
    AnswerRequested,
    Diagnosed,
    Escalated,
    Executed,
    Gated,
    IncidentEvent,
    Learned,
    Proposed,
    Validated,
)

from selfheal.untrusted import for_terminal

OUTCOME_STYLE = {"resolved": "green", "escalated": "yellow", "duplicate": "cyan", "failed": "red"}


def describe(record: IncidentEvent) -> tuple[str, str] | None:
    """The state that recorded ``record`` and one line of what it decided (None: nothing to show)."""
    event = record.event
    match event:
        case Diagnosed(diagnosis=d):
            drift = ", ".join(f"{r.table}: {'+'.join(r.kinds)}" for r in d.drift if r.kinds)
            bad = d.bad_record_fraction
            extra = f"; bad records {bad:.2%}" if bad is not None else ""
            return "Diagnose", (
                f"{d.category.value} (confidence {round(d.confidence, 4)}, signature {d.signature}); "
                f"drift: {drift or 'none'}; risk {d.risk}{extra}"
            )
        case Proposed():
            how = "explored" if event.explored else "greedy"
            allowed = ", ".join(a.value for a in event.allowed)
            return "Propose", f"attempt {event.attempt}: {event.action.value} ({how}, allowed: {allowed})"
        case Gated():
            if event.approval:
                held = ", ".join(event.approval)
                return "SafetyGate", f"{event.action.value} held for a human's approval ({held})"
            if event.rules_fired:
                rules = ", ".join(event.rules_fired)
                return "SafetyGate", f"{event.proposed.value} -> {event.action.value} (rules: {rules})"
            return "SafetyGate", f"{event.action.value} allowed"
        case Executed():
            if event.job_run_id:
                restored = ", ".join(f"{r.table} to version {r.version}" for r in event.restored)
                extra = f", restored {restored}" if restored else ""
                return "Execute", f"{event.action.value}: started run {event.job_run_id[:16]}…{extra}"
            if event.stopped_by:
                return "Execute", f"{event.action.value}: stopped by {event.stopped_by}, no Glue call"
            return "Execute", f"{event.action.value}: no Glue call"
        case Validated(final=True):
            verdict = "the fix held" if event.fixed else f"not fixed ({event.reason})"
            return "Validate", f"run {event.run_state}: {verdict}"
        case Escalated():
            return "Escalate", event.reason
        case AnswerRequested():
            return "Await", f"waiting for a human's answer ({event.question}) until {event.expires_at}"
        case Answered():
            said = "; ".join(
                part
                for part in (
                    f"category {event.category}" if event.category else "",
                    f"did {event.action}" if event.action else "",
                    event.notes,
                )
                if part
            )
            return "Human", f"{event.decision} (by {event.by or 'nobody'})" + (f": {said}" if said else "")
        case Learned():
            return "Learn", f"{event.row_updates} Q-row updates, return {event.total_return}"
    return None


def print_incident(console: Console, summary: Mapping[str, Any], events: Iterable[IncidentEvent]) -> None:
    """Every value that came from the event or the log is escaped (``for_terminal``): a job named
    ``[link=https://evil]x`` or holding an ESC sequence prints as text, and is never obeyed."""
    outcome = str(summary["outcome"])
    style = OUTCOME_STYLE.get(outcome, "white")
    source = f"{for_terminal(summary['event'])}: " if summary.get("event") else ""
    console.print(
        f"{source}[bold]{for_terminal(summary['job_name'], 200)}[/bold] run "
        f"{for_terminal(str(summary['job_run_id'])[:18])}… [{style}]{for_terminal(outcome)}[/{style}] "
        f"(incident {for_terminal(summary['incident_id'])}, execution {for_terminal(summary['status'])})",
        highlight=False,
    )
    if outcome == "duplicate":
        console.print("  Diagnose      this failed run already has an incident; nothing else was done")
        return
    for event in events:
        line = describe(event)
        if line:
            console.print(f"  {line[0]:<13} {for_terminal(line[1])}", highlight=False)


NONE_SHOWN = "-"


def _shown(value: Any) -> str:
    """A missing value (a duplicate proposes nothing) is a dash, never Python's ``None``; any other is
    escaped for the terminal (it may come from the event)."""
    return NONE_SHOWN if value is None else for_terminal(value)


def _actions(row: Mapping[str, Any]) -> str:
    """``rollback`` when the proposal was executed, ``rollback -> escalate`` when the gate replaced it."""
    proposed, final = row.get("proposed_action"), row.get("final_action")
    if proposed is None or final is None or proposed == final:
        return _shown(final if final is not None else proposed)
    return f"{proposed} -> {final}"


def _outcome(row: Mapping[str, Any]) -> str:
    outcome = str(row["outcome"])
    style = OUTCOME_STYLE.get(outcome, "white")
    assisted = " (approved)" if row.get("assisted") else ""
    return f"[{style}]{for_terminal(outcome)}[/{style}]{assisted}"


def _rules(row: Mapping[str, Any], separator: str = ", ") -> str:
    return separator.join(for_terminal(rule) for rule in row.get("safety_rules") or []) or NONE_SHOWN


def summary_table(rows: Iterable[Mapping[str, Any]], width: int | None = None) -> Table:
    """One line per incident. Given the console's ``width``, a table with every column is used only if it
    fits unwrapped; otherwise a compact one (no job or drift column, the two actions merged) in which the
    category, action and outcome still show in full on an 80-column terminal."""
    rows = list(rows)
    wide = _wide_summary(rows)
    # Measured on an unbounded console: its natural width, before any wrapping.
    if width is None or Console(width=10_000).measure(wide).maximum <= width:
        return wide
    return _compact_summary(rows)


def _key_column(table: Table, name: str, cells: Iterable[str]) -> None:
    """A column whose words must never be cut: no wrapping, at least as wide as its longest value."""
    table.add_column(name, no_wrap=True, min_width=max((len(c) for c in cells), default=len(name)))


def _wide_summary(rows: list[Mapping[str, Any]]) -> Table:
    table = Table(title="selfheal demo: one incident per sample event")
    table.add_column("event", overflow="fold")
    table.add_column("job", overflow="fold")
    _key_column(table, "category", (_shown(r["category"]) for r in rows))
    table.add_column("drift")
    _key_column(table, "proposed", (_shown(r["proposed_action"]) for r in rows))
    _key_column(table, "final", (_shown(r["final_action"]) for r in rows))
    table.add_column("safety rules", overflow="fold")
    _key_column(table, "outcome", (str(r["outcome"]) for r in rows))
    for row in rows:
        table.add_row(
            _shown(row.get("event", "")),
            _shown(row["job_name"]),
            _shown(row["category"]),
            "yes" if row["drift"] else "no",
            _shown(row["proposed_action"]),
            _shown(row["final_action"]),
            _rules(row),
            _outcome(row),
        )
    return table


def _compact_summary(rows: list[Mapping[str, Any]]) -> Table:
    table = Table(
        title="selfheal demo: one incident per sample event",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 0),  # the box's own column separator is a space: enough between columns
    )
    table.add_column("event", overflow="fold", ratio=1)
    _key_column(table, "category", (_shown(r["category"]) for r in rows))
    # "proposed -> final" may wrap at its spaces, never inside an action's name.
    longest_action = max((len(w) for r in rows for w in _actions(r).split()), default=6)
    table.add_column("action", min_width=longest_action, overflow="fold")
    table.add_column("safety rules", overflow="fold", ratio=1)
    _key_column(table, "outcome", (str(r["outcome"]) for r in rows))
    for row in rows:
        table.add_row(
            _shown(row.get("event", "")),
            _shown(row["category"]),
            _actions(row),
            _rules(row, separator="\n"),
            _outcome(row),
        )
    return table
