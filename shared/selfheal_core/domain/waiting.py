"""Which question an incident is waiting on: the latest ``answer_requested`` with no ``answered`` after it
(its task token is the one that answers it), or why nothing is waiting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selfheal_core.domain.events import Answered, AnswerRequested, IncidentEvent


@dataclass(frozen=True)
class Waiting:
    """``request`` is the open question, if any; otherwise ``answer`` is what closed the latest one."""

    request: AnswerRequested | None = None
    requested_at: str | None = None
    answer: Answered | None = None
    asked: bool = False  # whether any question was ever asked


def waiting_for(records: Sequence[IncidentEvent]) -> Waiting:
    answer: Answered | None = None
    for record in reversed(records):
        event = record.event
        if isinstance(event, Answered) and answer is None:
            answer = event
        if isinstance(event, AnswerRequested):
            if answer is not None:
                return Waiting(answer=answer, asked=True)
            return Waiting(request=event, requested_at=record.at, asked=True)
    return Waiting(answer=answer)
