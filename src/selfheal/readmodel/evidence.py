"""What each incident says about its proposal: the shadow report's observations.

The proposal is the policy's first one (``proposed``, attempt 1): what would run if its category were
promoted. What fixed the incident, when known, in this order:
1. a run that held (``validated`` final and fixed) after an action ran, approved by a human or not: the
   action that ran;
2. a human's answer ``resolved`` that names the ``action`` they took;
otherwise the proposal is *refuted* (known wrong, fix unknown) when a human rejected it or when it ran and
did not hold, and the fix is *unknown* when nobody said (a timeout, an answer without an action, a
``log_and_wait`` whose next run selfheal never saw).
"""

from __future__ import annotations

from collections.abc import Iterable

from selfheal.readmodel.precision import Observation
from selfheal.readmodel.records import ANSWERED, REJECT, RESOLVED, IncidentLog

UNDIAGNOSED = "unknown"


def observation(log: IncidentLog) -> Observation | None:
    """None for an incident with no proposal (a duplicate's, one Diagnose refused before any)."""
    state = log.state()
    if not state.attempts or state.attempts[0].proposed is None:
        return None
    group = state.diagnosis.category.value if state.diagnosis else UNDIAGNOSED
    proposal = state.attempts[0].proposed.value
    fixed = log.fixed_by()
    if fixed is not None:
        return Observation(group, proposal, fix=fixed[1])
    answers = log.of_kind(ANSWERED)
    human = answers[-1]["data"] if answers else {}
    if human.get("decision") == RESOLVED and human.get("action"):
        return Observation(group, proposal, fix=str(human["action"]))
    rejected = any(a["data"].get("decision") == REJECT for a in answers)
    return Observation(group, proposal, refuted=rejected or _ran_and_failed(log, proposal))


def _ran_and_failed(log: IncidentLog, proposal: str) -> bool:
    ran = None
    for record in log.records:
        data = record["data"]
        if record["type"] == "executed":
            ran = str(data.get("action")) if data.get("job_run_id") else None
        elif (
            record["type"] == "validated"
            and data.get("final")
            and data.get("fixed") is False
            and ran == proposal
        ):
            return True
    return False


def observations(logs: Iterable[IncidentLog]) -> list[Observation]:
    return [o for o in (observation(log) for log in logs) if o is not None]
