"""An incident's history as steps of the state machine: when each was entered and left, what it decided,
how long it took and where the incident waited.

Two sources, one shape (``Visit``): the execution's own history (Step Functions ``GetExecutionHistory``,
or the copy the local engine keeps), which knows every state entered with its input and output; or, when
that is gone, the incident's event log, whose records each belong to one step (``STEP_OF_KIND``) and
whose path through the states that record nothing (Choice, Wait) is inferred from the ASL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from selfheal.readmodel.graph import Machine
from selfheal.readmodel.records import ANSWER_REQUESTED, ANSWERED, IncidentLog, iso, parse_time

# The step (state name) that appends each kind of record.
STEP_OF_KIND = {
    "opened": "Diagnose",
    "diagnosed": "Diagnose",
    "proposed": "Propose",
    "gated": "SafetyGate",
    "action_started": "Execute",
    "executed": "Execute",
    "validated": "Validate",
    "escalated": "Escalate",
    "notified": "Escalate",
    "learned": "Learn",
}
SWEEPER = "Sweeper"  # not a state: the scheduled function that closes what an execution left open
# Where each question of the answers contract is asked, by preference (the first that the ASL has).
QUESTION_STEPS = {"approval": ("Await Approval",), "fix": ("Await Human Decision",)}


@dataclass(frozen=True)
class Visit:
    step: str
    entered: str
    left: str
    records: tuple[Mapping[str, Any], ...] = ()
    input: Any = None
    output: Any = None

    @property
    def seconds(self) -> float:
        return _seconds(self.entered, self.left)


@dataclass(frozen=True)
class Wait:
    step: str
    since: str
    until: str
    seconds: float
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "since": self.since,
            "until": self.until,
            "seconds": round(self.seconds, 3),
            "why": self.why,
        }


@dataclass(frozen=True)
class Story:
    """What ``incidents show`` tells: the visits in order, the path through the ASL, the waits."""

    visits: tuple[Visit, ...]
    path: tuple[str, ...]
    waits: tuple[Wait, ...]
    source: str  # "execution history" | "event log"
    execution: Mapping[str, Any] = field(default_factory=dict)


def _seconds(since: str | None, until: str | None) -> float:
    start, end = parse_time(since), parse_time(until)
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds())


def step_of(record: Mapping[str, Any], machine: Machine, previous: str | None) -> str:
    kind = str(record["type"])
    data = record["data"]
    if kind == "escalated" and data.get("source") == "sweeper":
        return SWEEPER
    if kind in (ANSWER_REQUESTED, ANSWERED):
        return answer_step(machine, str(data.get("question") or ""), previous)
    return STEP_OF_KIND.get(kind, kind)


def answer_step(machine: Machine, question: str, previous: str | None) -> str:
    """The state that waits for a human's answer to ``question``: named in QUESTION_STEPS if the ASL has
    it, else the waiting Task reachable soonest from ``previous``."""
    for name in QUESTION_STEPS.get(question, ()):
        if name in machine.states:
            return name
    waiting = [n for n in machine.states if machine.waits_for_a_human(n)]
    if previous is not None:
        routes = [(len(r), n) for n in waiting if (r := machine.route(previous, n)) is not None]
        if routes:
            return str(min(routes)[1])
    return waiting[0] if waiting else "Human"


def with_questions(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records, each ``answered`` that does not name its question given the latest one asked (so
    that its step is the state that asked it)."""
    shown: list[Mapping[str, Any]] = []
    question = "fix"  # a log from before answer requests: its only question was "what fixed it?"
    for record in records:
        if record["type"] == ANSWER_REQUESTED:
            question = str(record["data"].get("question") or "")
        if record["type"] == ANSWERED and not record["data"].get("question"):
            record = {**record, "data": {**record["data"], "question": question}}
        shown.append(record)
    return shown


def visits_from_log(log: IncidentLog, machine: Machine) -> list[Visit]:
    """One visit per step the log shows, in order: a record opens a new visit when its step differs from
    the previous record's, or when it repeats the previous record's kind (a second poll of Validate)."""
    visits: list[Visit] = []
    previous_kind = None
    for record in with_questions(log.records):
        step = step_of(record, machine, visits[-1].step if visits else None)
        if visits and visits[-1].step == step and record["type"] != previous_kind:
            last = visits[-1]
            visits[-1] = Visit(step, last.entered, record["at"], (*last.records, record))
        else:
            visits.append(Visit(step, record["at"], record["at"], (record,)))
        previous_kind = record["type"]
    return visits


def visits_from_history(events: Iterable[Mapping[str, Any]]) -> list[Visit]:
    """Each ``...StateEntered`` with its ``...StateExited`` (a Fail state has none)."""
    visits: list[Visit] = []
    open_at: dict[str, int] = {}
    for event in events:
        kind = str(event.get("type", ""))
        at = _timestamp(event.get("timestamp"))
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            name = str(details.get("name", ""))
            open_at[name] = len(visits)
            visits.append(Visit(name, at, at, input=_json(details.get("input"))))
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails") or {}
            name = str(details.get("name", ""))
            index = open_at.pop(name, None)
            if index is not None:
                entered = visits[index]
                visits[index] = Visit(
                    name, entered.entered, at, input=entered.input, output=_json(details.get("output"))
                )
    return visits


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    moment = parse_time(str(value)) if value is not None else None
    return iso(moment) if moment is not None else str(value or "")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def inferred_path(visits: Sequence[Visit], machine: Machine, closed: bool) -> list[str]:
    """The states the log's steps imply, with the silent ones between them filled in from the ASL."""
    steps = [v.step for v in visits if v.step in machine.states]
    if not steps:
        return []
    path = [machine.start]
    if steps[0] != machine.start:
        path += machine.route(machine.start, steps[0]) or [steps[0]]
    for step in steps[1:]:
        path += machine.route(path[-1], step) or [step]
    if closed:
        ends: list[list[str]] = [
            r for end in machine.ends() if (r := machine.route(path[-1], end)) is not None
        ]
        succeeding = [r for r in ends if machine.type_of(r[-1]) == "Succeed"]
        if succeeding:
            path += sorted(succeeding, key=lambda route: len(route))[0]
    return path


def waits_from_log(visits: Sequence[Visit], machine: Machine) -> list[Wait]:
    """The gap before a visit is a wait when the route from the previous step passes a Wait state or a
    Task that waits for its token, like "Await Run End" (the wait is that state's); a visit of a state
    that waits for a human's answer is a wait until it ends."""
    waits: list[Wait] = []
    for before, after in pairwise(visits):
        gap = _seconds(before.left, after.entered)
        if machine.waits_for_a_human(after.step):
            # The request is recorded as the wait begins and the answer as it ends: both in this visit.
            human = _seconds(before.left, after.left)
            waits.append(Wait(after.step, before.left, after.left, human, "a human's answer"))
            continue
        if before.step not in machine.states or after.step not in machine.states:
            continue
        route = machine.route(before.step, after.step) or []
        waited = [s for s in route[:-1] if machine.is_wait(s)]
        if waited:
            waits.append(Wait(waited[-1], before.left, after.entered, gap, _why(machine, waited[-1])))
    return waits


def waits_from_history(visits: Sequence[Visit], machine: Machine) -> list[Wait]:
    return [
        Wait(v.step, v.entered, v.left, v.seconds, _why(machine, v.step))
        for v in visits
        if machine.is_wait(v.step)
    ]


def _why(machine: Machine, step: str) -> str:
    if machine.waits_for_a_human(step):
        return "a human's answer"
    comment = str(machine.states.get(step, {}).get("Comment", ""))
    return comment.split(".")[0] if comment else "a Wait state"


def story(log: IncidentLog, machine: Machine, history: Mapping[str, Any] | None, closed: bool) -> Story:
    """From the execution's history when there is one, else from the log."""
    if history and history.get("events"):
        visits = visits_from_history(history["events"])
        if visits:
            return Story(
                tuple(visits),
                tuple(v.step for v in visits),
                tuple(waits_from_history(visits, machine)),
                "execution history",
                {k: v for k, v in history.items() if k != "events"},
            )
    visits = visits_from_log(log, machine)
    return Story(
        tuple(visits),
        tuple(inferred_path(visits, machine, closed)),
        tuple(waits_from_log(visits, machine)),
        "event log",
    )
