"""``incidents show --html``: one self-contained page (inline CSS and SVG, no script, nothing fetched)
with the state machine drawn from its ASL, the path the incident took highlighted, and each visited
state's input and output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jinja2

from selfheal.readmodel.describe import duration, what
from selfheal.readmodel.graph import Machine, layout, taken_edges
from selfheal.readmodel.records import IncidentLog
from selfheal.readmodel.timeline import Story, Visit

TEMPLATE = "incident.html.j2"
MAX_SHOWN_JSON = 20_000  # characters of one input or output on the page


def _environment() -> jinja2.Environment:
    # Autoescape on: job names, error messages and answers come from outside.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("selfheal.readmodel", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def pretty(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str)
    if len(text) > MAX_SHOWN_JSON:
        text = text[:MAX_SHOWN_JSON] + f"\n… ({len(text) - MAX_SHOWN_JSON} more characters)"
    return text


def _visit_view(visit: Visit, incident_id: str, from_history: bool) -> dict[str, Any]:
    recorded = [
        {"type": r["type"], "at": r["at"], "what": what(r, incident_id), "data": pretty(r["data"])}
        for r in visit.records
    ]
    return {
        "step": visit.step,
        "entered": visit.entered,
        "left": visit.left,
        "took": duration(visit.seconds),
        "input": pretty(visit.input) if from_history and visit.input is not None else None,
        "output": pretty(visit.output) if from_history and visit.output is not None else None,
        "recorded": recorded,
    }


def render(
    summary: Mapping[str, Any],
    log: IncidentLog,
    machine: Machine,
    told: Story,
    log_visits: list[Visit],
) -> str:
    drawing = layout(machine)
    path = list(told.path)
    counts: dict[str, int] = {}
    for step in path:
        counts[step] = counts.get(step, 0) + 1
    ids = {name: f"state-{index}" for index, name in enumerate(machine.states)}
    from_history = told.source == "execution history"
    visits = [_visit_view(v, log.incident_id, from_history) for v in told.visits]
    if from_history:
        # The log's records belong to the visits of their step, in order: show them there too.
        pending: dict[str, list[Visit]] = {}
        for visit in log_visits:
            pending.setdefault(visit.step, []).append(visit)
        for view in visits:
            queue = pending.get(view["step"])
            if queue:
                view["recorded"] = _visit_view(queue.pop(0), log.incident_id, False)["recorded"]
    anchored: set[str] = set()
    for view in visits:  # the boxes link to the first visit of their state
        view["anchor"] = ids[view["step"]] if view["step"] in ids and view["step"] not in anchored else None
        anchored.add(view["step"])
    timeline = [{"at": r["at"], "type": r["type"], "what": what(r, log.incident_id)} for r in log.records]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            summary=summary,
            layout=drawing,
            counts=counts,
            taken=taken_edges(machine, path),
            ids=ids,
            path=path,
            source=told.source,
            visits=visits,
            waits=[{**w.to_json(), "took": duration(w.seconds)} for w in told.waits],
            timeline=timeline,
        )
    )
