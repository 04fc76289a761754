"""SafetyGate: fixed rules outside the policy; they can only replace a proposal by a safer one."""

from __future__ import annotations

import dataclasses

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import GateResult
from selfheal_core.domain import decisions
from selfheal_core.domain.events import Gated
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.errors import InvalidInputError
from selfheal_core.ports import EventStore
from selfheal_core.steps import storm_control
from selfheal_core.steps.common import load_state


def run(
    incident_id: str,
    store: EventStore,
    safety: SafetySettings,
    backoff_seconds: float,
    storm: storm_control.StormControl | None = None,
) -> GateResult:
    """``storm``: storm control (groups, budgets, breaker) after the fixed rules; None: off."""

    def review_once() -> GateResult:
        state = load_state(store, incident_id)
        attempt = state.current_attempt
        if attempt is None or attempt.proposed is None:
            raise InvalidInputError(f"incident {incident_id} has no proposal to review")
        if attempt.gated is not None:  # a retried SafetyGate: the verdict stands
            return _result(attempt.gated)
        gated = decisions.review(attempt, state, safety, backoff_seconds)
        if storm is not None:
            review = storm_control.review(state, gated, storm, store, storm_control.reader(store))
            state, gated = review.state, review.gated
            if review.hold:  # nothing is gated yet: the state machine waits and asks again
                return dataclasses.replace(_result(gated), hold=True, wait_seconds=review.hold_seconds)
        store.append(incident_id, gated, state.next_seq)
        return _result(gated)

    return retry_on_conflict(review_once)


def _result(gated: Gated) -> GateResult:
    return GateResult(
        action=gated.action.value,
        proposed=gated.proposed.value,
        rules_fired=gated.rules_fired,
        shadow=gated.shadow,
        wait_seconds=gated.wait_seconds,
        needs_approval=gated.needs_approval,
        approval=gated.approval,
        autonomy=gated.autonomy,
    )
