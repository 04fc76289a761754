"""Human output: each incident as the states it went through, with what each one decided."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from selfheal_core.domain.incident import EventType, IncidentEvent

OUTCOME_STYLE = {"resolved": "green", "escalated": "yellow", "duplicate": "cyan", "failed": "red"}


def describe(event: IncidentEvent) -> tuple[str, str] | None:
    d: Mapping[str, Any] = event.data
    kind = event.type
    if kind is EventType.DIAGNOSED:
        drift = ", ".join(
            f"{r['table']}: {'+'.join(r['kinds'])}" for r in d.get("drift", []) if r.get("kinds")
        )
        bad = d.get("bad_record_fraction")
        extra = f"; bad records {bad:.2%}" if isinstance(bad, float) else ""
        return "Diagnose", (
            f"{d.get('category')} (confidence {d.get('confidence')}, signature {d.get('signature')}); "
            f"drift: {drift or 'none'}; risk {d.get('risk')}{extra}"
        )
    if kind is EventType.PROPOSED:
        how = "explored" if d.get("explored") else "greedy"
        allowed = ", ".join(d.get("allowed", []))
        return "Propose", f"attempt {d.get('attempt')}: {d.get('action')} ({how}, allowed: {allowed})"
    if kind is EventType.GATED:
        if d.get("rules_fired"):
            return (
                "SafetyGate",
                f"{d.get('proposed')} -> {d.get('action')} (rules: {', '.join(d['rules_fired'])})",
            )
        return "SafetyGate", f"{d.get('action')} allowed"
    if kind is EventType.EXECUTED:
        if d.get("job_run_id"):
            restored = ", ".join(f"{r['table']} to version {r['version']}" for r in d.get("restored", []))
            extra = f", restored {restored}" if restored else ""
            return "Execute", f"{d.get('action')}: started run {str(d['job_run_id'])[:16]}…{extra}"
        if d.get("stopped_by"):
            return "Execute", f"{d.get('action')}: stopped by {d['stopped_by']}, no Glue call"
        return "Execute", f"{d.get('action')}: no Glue call"
    if kind is EventType.VALIDATED and d.get("final"):
        verdict = "the fix held" if d.get("fixed") else f"not fixed ({d.get('reason')})"
        return "Validate", f"run {d.get('run_state')}: {verdict}"
    if kind is EventType.ESCALATED:
        return "Escalate", str(d.get("reason"))
    if kind is EventType.HUMAN_DECIDED:
        return "Human", f"{d.get('decision')} (by {d.get('by', 'nobody')})"
    if kind is EventType.LEARNED:
        return "Learn", f"{d.get('row_updates')} Q-row updates, return {d.get('return')}"
    return None


def print_incident(console: Console, summary: Mapping[str, Any], events: Iterable[IncidentEvent]) -> None:
    outcome = str(summary["outcome"])
    style = OUTCOME_STYLE.get(outcome, "white")
    source = f"{summary['event']}: " if summary.get("event") else ""
    console.print(
        f"{source}[bold]{summary['job_name']}[/bold] run {str(summary['job_run_id'])[:18]}… "
        f"[{style}]{outcome}[/{style}] (incident {summary['incident_id']}, execution {summary['status']})"
    )
    if outcome == "duplicate":
        console.print("  Diagnose      this failed run already has an incident; nothing else was done")
        return
    for event in events:
        line = describe(event)
        if line:
            console.print(f"  {line[0]:<13} {line[1]}", highlight=False)


def summary_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="selfheal demo: one incident per sample event")
    for column in ("event", "job", "category", "drift", "proposed", "final", "safety rules", "outcome"):
        table.add_column(column)
    for row in rows:
        style = OUTCOME_STYLE.get(str(row["outcome"]), "white")
        table.add_row(
            str(row.get("event", "")),
            str(row["job_name"]),
            str(row["category"]),
            "yes" if row["drift"] else "no",
            str(row["proposed_action"]),
            str(row["final_action"]),
            ", ".join(row["safety_rules"]) or "-",
            f"[{style}]{row['outcome']}[/{style}]",
        )
    return table
