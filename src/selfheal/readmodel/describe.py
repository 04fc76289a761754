"""One line per record of what its step decided: the renderer's words for the events it knows
(``selfheal.local.render.describe``), and this module's for the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfheal_core.domain.events import IncidentEvent

from selfheal.local.render import describe
from selfheal.readmodel.records import ANSWER_REQUESTED, ANSWERED


def what(record: Mapping[str, Any], incident_id: str) -> str:
    kind, data = str(record["type"]), record["data"]
    if kind == ANSWER_REQUESTED:
        proposed = data.get("proposed") or "nothing"
        reasons = ", ".join(str(r) for r in data.get("reasons") or ()) or "no reason given"
        return (
            f"asked a human for {data.get('question') or 'an answer'} of {proposed} ({reasons}); "
            f"expires {data.get('expires_at') or 'never'}"
        )
    if kind == ANSWERED:
        return answer_line(data)
    try:
        line = describe(IncidentEvent.from_record({**record, "incident_id": incident_id}))
    except (ValueError, KeyError, TypeError):
        line = None
    if line is not None:
        return line[1]
    match kind:
        case "opened":
            return f"incident opened for run {data.get('job_run_id') or '?'}"
        case "action_started":
            return f"{data.get('action')}: intent recorded before calling Glue"
        case "notified":
            return "the message was delivered"
        case "validated":
            return f"run {data.get('run_state') or '?'}: still going, looking again"
    return kind


def answer_line(data: Mapping[str, Any]) -> str:
    parts = [f"{data.get('decision') or '?'} by {data.get('by') or data.get('answered_by') or 'nobody'}"]
    if data.get("category"):
        parts.append(f"true category {data['category']}")
    if data.get("action"):
        parts.append(f"did {data['action']}")
    note = data.get("note") or data.get("notes")
    if note:
        parts.append(f"note: {note}")
    if data.get("minutes_to_fix") is not None:
        parts.append(f"{data['minutes_to_fix']} min to fix")
    return "; ".join(parts)


def duration(seconds: float) -> str:
    """Short and readable: 0.2s, 45s, 3m20s, 2h05m, 1d04h."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
