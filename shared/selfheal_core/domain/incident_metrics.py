"""The incident metrics the dashboard shows, computed from an incident's log (pure: no AWS, no clock).

Each metric has a fixed list of dimension sets (``CATALOG``): CloudWatch stores one series per set and
value combination, so a dashboard can show totals, per-category and per-autonomy-level lines without
metric math, and nothing else is ever emitted. Every dimension takes its values from a closed vocabulary
(anything else becomes ``other``): categories, actions, the outcome, the autonomy level, the answer. The
job name is deliberately not a dimension: its values are unbounded (every job a team adds is a new
series, billed per month) and per-job questions are better answered by the incident log itself
(``selfheal incidents list --job J``) or CloudWatch Logs Insights over the handlers' structured logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from selfheal_core.domain import decisions
from selfheal_core.domain.events import Answered, AnswerRequested, Gated, IncidentEvent
from selfheal_core.domain.incident import Outcome, fold
from selfheal_core.domain.waiting import waiting_for
from selfheal_core.vocabulary import Action, Category

CATEGORY, ACTION, OUTCOME, AUTONOMY, DECISION, QUESTION = (
    "category",
    "action",
    "outcome",
    "autonomy",
    "decision",
    "question",
)
OTHER = "other"
NONE = "none"  # no action was gated, or no autonomy level applied (the incident stopped before the gate)
OUTCOMES = ("automated", "assisted", "escalated", "open")
AUTONOMY_LEVELS = ("shadow", "approve", "auto", NONE)
ANSWERS = ("approve", "reject", "resolved", "timeout", "fixed", "rejected", "timed_out", "failed")
QUESTIONS = ("approval", "fix")
RESOLVED_BY_A_HUMAN = ("resolved", "fixed")
VALUES: dict[str, tuple[str, ...]] = {
    CATEGORY: tuple(c.value for c in Category),
    ACTION: (*(a.value for a in Action), NONE),
    OUTCOME: OUTCOMES,
    AUTONOMY: AUTONOMY_LEVELS,
    DECISION: ANSWERS,
    QUESTION: QUESTIONS,
}

COUNT, SECONDS = "Count", "Seconds"


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    # Each set is emitted in addition to the handlers' ``service`` dimension; () is the total.
    dimension_sets: tuple[tuple[str, ...], ...]


CLOSED_SETS = (
    (),
    (OUTCOME,),
    (CATEGORY, OUTCOME),
    (AUTONOMY, OUTCOME),
    (CATEGORY, ACTION, OUTCOME, AUTONOMY),
)
CATALOG: dict[str, MetricSpec] = {
    "IncidentsOpened": MetricSpec(COUNT, ((), (CATEGORY,))),
    "IncidentsClosed": MetricSpec(COUNT, CLOSED_SETS),
    "TimeToResolve": MetricSpec(SECONDS, CLOSED_SETS[:4]),
    "ApprovalsAnswered": MetricSpec(COUNT, ((), (DECISION,))),
    "TimeToAnswer": MetricSpec(SECONDS, ((), (DECISION,))),
    # A gauge (the Sweeper's count every 15 minutes): per question only, since a total summed with the
    # per-question points would double; the dashboard reads its Maximum.
    "AnswersWaiting": MetricSpec(COUNT, ((QUESTION,),)),
}


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    dimensions: Mapping[str, str] = field(default_factory=dict)


def bounded(dimension: str, value: str | None) -> str:
    """``value`` if the dimension's vocabulary has it, else ``other`` (``none`` when there is none)."""
    if value is None or value == "":
        return NONE if NONE in VALUES[dimension] else OTHER
    return value if value in VALUES[dimension] else OTHER


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        finish = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (finish - begin).total_seconds())


def opened(category: str) -> list[MetricPoint]:
    return [MetricPoint("IncidentsOpened", 1, {CATEGORY: bounded(CATEGORY, category)})]


def autonomy_of(records: Sequence[IncidentEvent]) -> str:
    """The autonomy level that applied to the last gated action, ``none`` if nothing was gated.

    ``shadow`` whenever the gate recorded the action as shadowed (``Gated.shadow``: the shadow level, or
    ``mode: shadow`` on logs written before autonomy levels existed, whose ``autonomy`` reads as the
    default ``auto`` because the log writes it only when it is not ``auto``); otherwise the level the
    gate recorded."""
    gated = [r.event for r in records if isinstance(r.event, Gated)]
    if not gated:
        return NONE
    last = gated[-1]
    return bounded(AUTONOMY, "shadow" if last.shadow else last.autonomy)


def closed(records: Sequence[IncidentEvent]) -> list[MetricPoint]:
    """What closing this incident counts: the close itself, how long it took to resolve (when something
    resolved it: a fix that held, or a human who says they fixed it), and each approval's answer."""
    state = fold(records)
    answers = [r.event for r in records if isinstance(r.event, Answered)]
    if state.outcome is Outcome.RESOLVED:
        outcome = "assisted" if any(a.decision == "approve" for a in answers) else "automated"
    else:
        outcome = state.outcome.value
    dimensions = {
        CATEGORY: bounded(CATEGORY, state.diagnosis.category.value if state.diagnosis else "unknown"),
        ACTION: bounded(ACTION, decisions.final_action(state).value),
        OUTCOME: bounded(OUTCOME, outcome),
        AUTONOMY: autonomy_of(records),
    }
    points = [MetricPoint("IncidentsClosed", 1, dimensions)]
    human_fixed = state.answer is not None and state.answer.decision in RESOLVED_BY_A_HUMAN
    if state.outcome is Outcome.RESOLVED or human_fixed:
        took = _seconds(state.opened_at, state.closed_at)
        if took is not None:
            points.append(MetricPoint("TimeToResolve", took, dimensions))
    return points + list(_answered_approvals(records))


def _answered_approvals(records: Sequence[IncidentEvent]) -> Iterable[MetricPoint]:
    asked_at: str | None = None
    for record in records:
        event = record.event
        if isinstance(event, AnswerRequested):
            asked_at = record.at if event.question == "approval" else None
        elif isinstance(event, Answered) and asked_at is not None:
            decision = {DECISION: bounded(DECISION, event.decision)}
            yield MetricPoint("ApprovalsAnswered", 1, decision)
            took = _seconds(asked_at, record.at)
            if took is not None:
                yield MetricPoint("TimeToAnswer", took, decision)
            asked_at = None


def waiting(logs: Iterable[Sequence[IncidentEvent]]) -> list[MetricPoint]:
    """The gauge: how many incidents wait for an answer now, per question (always emitted, zeros too,
    so that the dashboard shows 0 rather than no data)."""
    counts = dict.fromkeys(QUESTIONS, 0)
    for records in logs:
        request = waiting_for(records).request
        question = bounded(QUESTION, request.question) if request is not None else None
        if question in counts:
            counts[question] += 1
    return [MetricPoint("AnswersWaiting", n, {QUESTION: q}) for q, n in counts.items()]
