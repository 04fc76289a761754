"""Storm control inside SafetyGate and Escalate (``domain.storm`` decides, a ``StormStore`` counts).

SafetyGate calls ``review`` after the fixed rules: it can only make the verdict safer. It records the
failures of earlier attempts for the breaker, puts the incident in its group (``correlated``), and for an
automated Glue action: the breaker open → escalate; a follower whose probe is still working, or an action
over budget → hold (``held``; the state machine waits and asks again; nothing runs); a follower whose
probe failed → escalate with the group. Escalate calls ``joins_group_notification``: the group publishes
one message, the others record that they joined it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from selfheal_core.domain import storm
from selfheal_core.domain.events import Correlated, DomainEvent, Gated, Held
from selfheal_core.domain.incident import IncidentState, evolve, fold
from selfheal_core.domain.storm import ProbeOutcome, Role, StormSettings, Verdict
from selfheal_core.ports import EventStore, StormStore
from selfheal_core.vocabulary import GLUE_ACTIONS, Action


@dataclass(frozen=True)
class StormControl:
    store: StormStore
    settings: StormSettings
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class Review:
    state: IncidentState  # with the storm events appended
    gated: Gated
    hold: bool = False
    hold_seconds: int = 0


def _append(store: EventStore, state: IncidentState, event: DomainEvent) -> IncidentState:
    return evolve(state, store.append(state.incident_id, event, state.next_seq))


def record_failures(state: IncidentState, control: StormControl, now: datetime, *, current: bool) -> None:
    """Count each automated action that failed, once (by incident and attempt), for the breaker."""
    window, _ = storm.breaker_windows(now, control.settings)
    attempts = state.attempts if current else state.attempts[:-1]
    for attempt in attempts:
        if attempt.action in GLUE_ACTIONS and attempt.fixed is False:
            control.store.record_failure(f"{state.incident_id}#{attempt.number}", window)


def _correlate(
    state: IncidentState, control: StormControl, now: datetime, store: EventStore
) -> IncidentState:
    if state.storm_group is not None:
        return state
    key = storm.correlation_key(state.diagnosis, by_signature=control.settings.group_by_signature)
    if key is None:
        return state
    member = control.store.join(key.key, state.incident_id, storm.iso(now), control.settings.window_seconds)
    joined = Correlated(member.group_id, member.key, member.role.value, member.probe, member.members)
    return _append(store, state, joined)


def _escalate(gated: Gated, rule: str) -> Gated:
    return dataclasses.replace(
        gated, action=Action.ESCALATE, rules_fired=(*gated.rules_fired, rule), wait_seconds=0
    )


def review(
    state: IncidentState,
    gated: Gated,
    control: StormControl,
    store: EventStore,
    read: Callable[[str], IncidentState | None],
) -> Review:
    """``read`` loads another incident's state (the probe's), None if it has no log."""
    settings, now = control.settings, control.clock()
    if not settings.enabled:
        return Review(state, gated)
    record_failures(state, control, now, current=False)
    state = _correlate(state, control, now, store)
    if gated.action not in GLUE_ACTIONS:
        return Review(state, gated)  # escalations and waits are grouped by Escalate

    current, previous = storm.breaker_windows(now, settings)
    failures_now, failures_before = control.store.failures(current), control.store.failures(previous)
    if storm.breaker_open(failures_now, failures_before, settings):
        tripped = current if failures_now >= settings.breaker_failures else previous
        group_id = storm.breaker_group(tripped)
        owner = state.storm_group.probe if state.storm_group else ""
        state = _append(store, state, Correlated(group_id, group_id, Role.FOLLOWER.value, owner))
        return Review(state, _escalate(gated, storm.BREAKER_OPEN))

    group = state.storm_group
    if group is not None and group.role == Role.FOLLOWER.value and group.probe != state.incident_id:
        outcome = storm.probe_outcome(read(group.probe))
        if outcome is ProbeOutcome.UNINFORMATIVE:
            # The probe was stopped by something of its own: this incident probes in its place.
            if control.store.replace_probe(group.group_id, group.probe, state.incident_id):
                promoted = Correlated(
                    group.group_id, group.key, Role.PROBE.value, state.incident_id, group.members
                )
                state = _append(store, state, promoted)
                outcome = ProbeOutcome.RESOLVED  # go ahead, as a probe does
            else:
                record = control.store.group(group.group_id)
                if record is not None and record.probe != group.probe:
                    moved = Correlated(group.group_id, group.key, group.role, record.probe, group.members)
                    state = _append(store, state, moved)
                outcome = ProbeOutcome.PENDING
        decision = storm.follower_decision(outcome)
        if decision.verdict is Verdict.ESCALATE:
            assert decision.rule is not None
            return Review(state, _escalate(gated, decision.rule))
        if decision.verdict is Verdict.HOLD:
            assert decision.rule is not None
            return _hold(state, gated, control, now, store, decision.rule, decision.detail)

    attempt = state.current_attempt
    assert attempt is not None
    window = storm.budget_window(now, settings)
    granted = control.store.take_action(
        f"{state.incident_id}#{attempt.number}",
        window,
        state.job_name,
        settings.max_actions,
        settings.max_actions_per_job,
    )
    if not granted:
        return _hold(state, gated, control, now, store, storm.HOLD_FOR_BUDGET, f"no action left in {window}")
    if attempt.held_since is not None and gated.wait_seconds:
        gated = dataclasses.replace(
            gated, wait_seconds=storm.remaining_backoff(gated.wait_seconds, attempt.held_since, now)
        )
    return Review(state, gated)


def _hold(
    state: IncidentState,
    gated: Gated,
    control: StormControl,
    now: datetime,
    store: EventStore,
    rule: str,
    detail: str,
) -> Review:
    attempt = state.current_attempt
    assert attempt is not None
    if storm.held_too_long(attempt.held_since, now, control.settings):
        return Review(state, _escalate(_escalate(gated, rule), storm.HOLD_TIMEOUT))
    if attempt.held_rule != rule:
        since = attempt.held_since or storm.iso(now)
        state = _append(store, state, Held(attempt.number, rule, since, detail))
    return Review(state, gated, hold=True, hold_seconds=control.settings.hold_seconds)


# Errors that say the platform (AWS throttling, Lambda capacity, lost races) stopped a step after the state
# machine's retries, not the incident itself: escalations they cause share one message.
PLATFORM_ERRORS = frozenset(
    {
        "TransientDependencyError",
        "ConcurrentUpdateError",
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    }
)


def joins_group_notification(
    state: IncidentState,
    control: StormControl | None,
    store: EventStore | None = None,
    error_name: str | None = None,
) -> tuple[IncidentState, str | None]:
    """The key of the group notification this escalation joins without publishing, or None when this
    incident publishes (it stands alone, or it is the first of its group to escalate). Also counts the
    current attempt's failure for the breaker. An escalation caused by a platform error (throttling after
    every retry) joins the group of that error, so throttling never becomes an escalation storm."""
    if control is None or not control.settings.enabled:
        return state, None
    now = control.clock()
    record_failures(state, control, now, current=True)
    if state.storm_group is None and error_name in PLATFORM_ERRORS and store is not None:
        key = f"{storm.Basis.THROTTLE.value}:selfheal/{error_name}"
        member = control.store.join(key, state.incident_id, storm.iso(now), control.settings.window_seconds)
        joined = Correlated(member.group_id, member.key, member.role.value, member.probe, member.members)
        state = _append(store, state, joined)
    group = state.storm_group
    if group is None:
        return state, None
    owner = control.store.claim_notification(group.group_id, state.incident_id)
    return state, None if owner == state.incident_id else f"{group.group_id}:notification"


def reader(store: EventStore) -> Callable[[str], IncidentState | None]:
    def read(incident_id: str) -> IncidentState | None:
        records = store.load(incident_id)
        return fold(records) if records else None

    return read
