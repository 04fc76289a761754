"""Sweep: no incident stays open because its execution ended, failed or vanished before closing it.

Scheduled (EventBridge), every few minutes. An incident opened more than ``deadline`` ago (and less than
``lookback`` ago) that has neither a checked resolution nor a delivered escalation, and whose execution is
no longer running (DescribeExecution) or no longer exists, is escalated with what its log knows: the
Sweeper appends ``escalated`` (source ``sweeper``) and publishes, through the same path as Escalate, with
the same dedupe key discipline. An escalation recorded but never marked as delivered is re-sent under its
own key. Each incident is swept on its own: one that fails is counted and retried at the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from selfheal_core.domain.incident import IncidentState, Outcome
from selfheal_core.ports import EventStore, ExecutionLookup, IncidentIndex, Notifier
from selfheal_core.steps import escalate
from selfheal_core.steps.common import load_state

SOURCE = "sweeper"
ENDED = "vanished"  # what the Sweeper calls an execution Step Functions no longer knows


@dataclass
class SweepResult:
    examined: int = 0
    swept: list[str] = field(default_factory=list)
    still_running: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # incident -> error

    def to_json(self) -> dict[str, object]:
        return {
            "examined": self.examined,
            "swept": list(self.swept),
            "still_running": list(self.still_running),
            "failed": dict(self.failed),
        }


def iso(moment: datetime) -> str:
    """The stores' time format (``adapters/clock.py``), so that cutoffs compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _up_to_the_millisecond(moment: datetime) -> datetime:
    """The stores keep an event's time cut down to the millisecond: an incident opened earlier in the
    cutoff's own millisecond is stored at that millisecond, so an exclusive cutoff cut down the same way
    would miss it (with a deadline of 0, the incident just opened). Rounded up, the cutoff keeps every
    incident opened before it, and at most 1 ms more."""
    extra = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - extra) if extra else moment


def needs_a_human(state: IncidentState) -> bool:
    """Neither resolved (a validated fix) nor escalated with the message delivered."""
    if state.outcome is Outcome.RESOLVED:
        return False
    return state.outcome is Outcome.OPEN or state.notification_pending


def reason(state: IncidentState, status: str | None) -> str:
    ended = (status or ENDED).lower()
    where = f" ({state.execution_id})" if state.execution_id else ""
    done = ", ".join(a.action.value for a in state.attempts if a.action is not None) or "nothing"
    return (
        f"the incident was left open: its execution{where} {ended} before it resolved or escalated; "
        f"automated actions so far: {done}. Check the job run before re-running it."
    )


def run(
    index: IncidentIndex,
    store: EventStore,
    executions: ExecutionLookup,
    notifier: Notifier,
    now: datetime,
    deadline_seconds: float,
    lookback_seconds: float,
    region: str,
    on_swept: Callable[[str, str], None] | None = None,
) -> SweepResult:
    result = SweepResult()
    before = iso(_up_to_the_millisecond(now - timedelta(seconds=deadline_seconds)))
    after = iso(now - timedelta(seconds=lookback_seconds))
    for incident_id in index.open_incidents(before, after):
        result.examined += 1
        try:
            state = load_state(store, incident_id)
            if not needs_a_human(state):
                continue
            status = executions.status(state.execution_id) if state.execution_id else None
            if status == "RUNNING":
                result.still_running.append(incident_id)
                continue
            why = reason(state, status)
            escalate.run(
                {"incident_id": incident_id},
                None,
                store,
                notifier,
                await_human=False,
                human_timeout_seconds=0,
                region=region,
                reason=why,
                source=SOURCE,
            )
        except Exception as error:  # one incident must not keep the others open
            result.failed[incident_id] = f"{type(error).__name__}: {error}"
            continue
        result.swept.append(incident_id)
        if on_swept is not None:
            on_swept(incident_id, why)
    return result
