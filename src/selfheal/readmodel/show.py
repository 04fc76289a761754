"""``incidents show``: everything about one incident in one document, for the terminal, JSON and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from selfheal.errors import UsageError
from selfheal.readmodel.describe import what
from selfheal.readmodel.graph import Machine
from selfheal.readmodel.records import IncidentLog, summary
from selfheal.readmodel.timeline import Story, step_of, story, visits_from_log, with_questions


@dataclass(frozen=True)
class IncidentDocument:
    summary: dict[str, Any]
    log: IncidentLog
    machine: Machine
    story: Story

    def events(self) -> list[dict[str, Any]]:
        """``[{type, at, seq, step, what, ...the event's data}]``: the envelope wins a name clash."""
        shown = []
        previous = None
        for record, asked in zip(self.log.records, with_questions(self.log.records), strict=True):
            step = step_of(asked, self.machine, previous)
            previous = step if step in self.machine.states else previous
            shown.append(
                {
                    **record["data"],
                    "type": record["type"],
                    "at": record["at"],
                    "seq": record["seq"],
                    "step": step,
                    "what": what(record, self.log.incident_id),
                }
            )
        return shown

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary,
            "events": self.events(),
            "path": list(self.story.path),
            "path_source": self.story.source,
            "waits": [w.to_json() for w in self.story.waits],
            "steps": [
                {"step": v.step, "entered": v.entered, "left": v.left, "seconds": round(v.seconds, 3)}
                for v in self.story.visits
            ],
        }


def answer_commands(incident_id: str, stack: str | None) -> dict[str, str]:
    """How to answer a waiting incident (``selfheal incidents approve|reject|resolve``)."""
    suffix = f" --stack {stack}" if stack else ""
    return {
        "approve": f"selfheal incidents approve {incident_id}{suffix}",
        "reject": f"selfheal incidents reject {incident_id}{suffix}",
        "resolve": f"selfheal incidents resolve {incident_id} --category C --action A --note '...'{suffix}",
    }


def incident_document(
    source: Any, incident_id: str, now: datetime, stack: str | None = None
) -> IncidentDocument:
    log = source.log(incident_id)
    if log is None:
        where = f"stack {stack}" if stack else "the local log ($SELFHEAL_HOME)"
        raise UsageError(f"no incident {incident_id!r} in {where}; `selfheal incidents list` shows them")
    head = summary(log, now)
    execution = head.get("execution_id")
    try:
        machine = Machine.from_definition(source.definition(execution))
    except ValueError as error:
        raise UsageError(f"cannot read the state machine's definition: {error}") from None
    told = story(log, machine, source.history(incident_id, execution), head["status"] == "closed")
    links: dict[str, str] = {}
    if source.region:
        from selfheal_core.steps.escalate import links as console_links

        links.update(console_links(log.state(), source.region))
    head["links"] = links
    head["answer_with"] = answer_commands(incident_id, stack) if head["status"] == "waiting" else {}
    return IncidentDocument(head, log, machine, told)


def render_html(document: IncidentDocument) -> str:
    from selfheal.readmodel.page import render

    return render(
        document.summary,
        document.log,
        document.machine,
        document.story,
        visits_from_log(document.log, document.machine),
    )
