"""Storm control in the SafetyGate and Escalate steps, on the in-memory event store and the SQLite storm
store: holds, following the probe, budgets, the breaker and one notification per group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import RecordingNotifier
from selfheal_core.adapters.memory import MemoryEventStore
from selfheal_core.adapters.storm_store import SqliteStormStore
from selfheal_core.domain import storm
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import (
    Diagnosed,
    Escalated,
    Executed,
    Gated,
    Held,
    Notified,
    Opened,
    Proposed,
    Validated,
)
from selfheal_core.domain.incident import incident_id_for
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.domain.storm import StormSettings
from selfheal_core.steps import escalate, safety_gate
from selfheal_core.steps.common import load_state
from selfheal_core.steps.storm_control import StormControl
from selfheal_core.vocabulary import Action, Category, Criticality

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
MESSAGE = "AnalysisException: Path does not exist: s3://partner-drop/acme/dt=2026-11-26"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world() -> tuple[MemoryEventStore, StormControl, Clock]:
    clock = Clock()
    settings = StormSettings(hold_seconds=60, max_hold_seconds=3600, max_actions=3, max_actions_per_job=1)
    return MemoryEventStore(), StormControl(SqliteStormStore(":memory:"), settings, clock), clock


def _incident(
    store: MemoryEventStore, job: str, message: str = MESSAGE, action: Action = Action.RETRY
) -> str:
    incident_id = incident_id_for(job, "jr_1")
    store.open(incident_id, Opened(job, "jr_1"))
    diagnosis = Diagnosis(
        job, Category.SOURCE_NOT_READY, 1.0, "source.path_not_exist", (message,), Criticality.MEDIUM, "medium"
    )
    store.append(incident_id, Diagnosed(diagnosis), 1)
    store.append(incident_id, Proposed(1, action), 2)
    return incident_id


def _gate(store: MemoryEventStore, control: StormControl, incident_id: str):  # type: ignore[no-untyped-def]
    return safety_gate.run(incident_id, store, SafetySettings(), 600, control)


def _run(store: MemoryEventStore, incident_id: str, fixed: bool) -> None:
    state = load_state(store, incident_id)
    store.append(incident_id, Executed(1, Action.RETRY, "jr_2", awaiting_run=True), state.next_seq)
    store.append(
        incident_id,
        Validated(1, "jr_2", "SUCCEEDED" if fixed else "FAILED", final=True, fixed=fixed),
        state.next_seq + 1,
    )


def test_the_probe_acts_and_followers_hold_until_it_resolves(world) -> None:
    store, control, clock = world
    probe, follower = _incident(store, "job-a"), _incident(store, "job-b")
    first = _gate(store, control, probe)
    assert first.action == "retry" and not first.hold
    held = _gate(store, control, follower)
    assert held.hold and held.wait_seconds == 60
    state = load_state(store, follower)
    assert state.current_attempt is not None and state.current_attempt.gated is None  # nothing was gated
    assert state.storm_group is not None and state.storm_group.role == "follower"
    assert state.storm_group.probe == probe
    assert [r.event.rule for r in store.load(follower) if isinstance(r.event, Held)] == [storm.HOLD_FOR_PROBE]
    clock.now += timedelta(seconds=60)
    assert _gate(store, control, follower).hold  # still waiting: no second Held event
    assert len([r for r in store.load(follower) if isinstance(r.event, Held)]) == 1
    _run(store, probe, fixed=True)
    clock.now += timedelta(seconds=60)
    go = _gate(store, control, follower)
    assert go.action == "retry" and not go.hold


def test_followers_of_a_failed_probe_join_its_escalation_and_one_message_goes_out(world) -> None:
    store, control, clock = world
    probe, a, b = _incident(store, "job-a"), _incident(store, "job-b"), _incident(store, "job-c")
    _gate(store, control, probe)
    assert _gate(store, control, a).hold and _gate(store, control, b).hold
    _run(store, probe, fixed=False)
    notifier = RecordingNotifier()
    escalate.run({"incident_id": probe}, None, store, notifier, True, 60, "us-east-1", storm=control)
    assert len(notifier) == 1
    assert notifier.messages[0][1]["storm"] and "probe" in notifier.messages[0][1]["storm"][0]
    for follower in (a, b):
        gated = _gate(store, control, follower)
        assert gated.action == "escalate" and storm.GROUP_ESCALATED in gated.rules_fired
        result = escalate.run(
            {"incident_id": follower}, None, store, notifier, True, 60, "us-east-1", storm=control
        )
        assert not result.await_human  # the group's human answers once
        state = load_state(store, follower)
        assert not state.notification_pending and state.last_kind == Notified.kind
    assert len(notifier) == 1
    # A retried Escalate of a follower publishes nothing either.
    escalate.run({"incident_id": a}, None, store, notifier, True, 60, "us-east-1", storm=control)
    assert len(notifier) == 1
    # The probe's failure was counted once for the breaker, however often it was seen.
    assert control.store.failures(storm.breaker_windows(clock.now, control.settings)[0]) == 1


def test_a_probe_stopped_by_its_own_rule_hands_the_probe_on(world) -> None:
    store, control, _ = world
    probe, follower = _incident(store, "job-a"), _incident(store, "job-b")
    _gate(store, control, probe)
    assert _gate(store, control, follower).hold
    # The probe's attempt is escalated for a reason of its own: it tried nothing.
    records = store.load(probe)
    store.append(probe, Escalated("critical job"), len(records))
    gated = _gate(store, control, follower)
    assert gated.action == "retry" and not gated.hold
    state = load_state(store, follower)
    assert state.storm_group is not None and state.storm_group.role == "probe"


def test_over_budget_actions_hold_then_escalate_after_max_hold(world) -> None:
    store, control, clock = world
    # Different sources: no group holds them; the budget is 3 actions, 1 per job.
    jobs = [_incident(store, f"job-{n}", f"Path does not exist: s3://bucket-{n}/x") for n in range(4)]
    verdicts = [_gate(store, control, i) for i in jobs]
    assert [v.action for v in verdicts[:3]] == ["retry"] * 3
    assert verdicts[3].hold
    held = load_state(store, jobs[3]).current_attempt
    assert held is not None and held.held_rule == storm.HOLD_FOR_BUDGET
    clock.now += timedelta(seconds=control.settings.budget_window_seconds)
    assert _gate(store, control, jobs[3]).action == "retry"  # a new window, a new budget


def test_a_hold_past_max_hold_escalates(world) -> None:
    store, control, clock = world
    probe, follower = _incident(store, "job-a"), _incident(store, "job-b")
    _gate(store, control, probe)
    assert _gate(store, control, follower).hold
    clock.now += timedelta(seconds=control.settings.max_hold_seconds)
    gated = _gate(store, control, follower)
    assert gated.action == "escalate"
    assert storm.HOLD_FOR_PROBE in gated.rules_fired and storm.HOLD_TIMEOUT in gated.rules_fired


def test_the_open_breaker_stops_automation_and_its_incidents_share_one_message(world) -> None:
    store, control, clock = world
    window = storm.breaker_windows(clock.now, control.settings)[0]
    for n in range(control.settings.breaker_failures):
        control.store.record_failure(f"inc-old-{n}#1", window)
    a = _incident(store, "job-a", "Connection reset by peer s3://a/1")
    b = _incident(store, "job-b", "Path does not exist: s3://b/2")
    notifier = RecordingNotifier()
    for incident in (a, b):
        gated = _gate(store, control, incident)
        assert gated.action == "escalate" and storm.BREAKER_OPEN in gated.rules_fired
        escalate.run({"incident_id": incident}, None, store, notifier, False, 60, "us-east-1", storm=control)
    assert len(notifier) == 1


def test_a_gate_without_storm_control_is_unchanged(world) -> None:
    store, _, _ = world
    probe, follower = _incident(store, "job-a"), _incident(store, "job-b")
    assert safety_gate.run(probe, store, SafetySettings(), 600).action == "retry"
    assert safety_gate.run(follower, store, SafetySettings(), 600).action == "retry"


def test_escalations_and_vetoes_are_grouped_but_never_held(world) -> None:
    store, control, _ = world
    a = _incident(store, "job-a", action=Action.ESCALATE)
    b = _incident(store, "job-b", action=Action.ESCALATE)
    for incident in (a, b):
        gated = _gate(store, control, incident)
        assert gated.action == "escalate" and not gated.hold
        assert not any(rule in storm.STORM_RULES for rule in gated.rules_fired)
    assert load_state(store, b).storm_group is not None
    gated_events = [r.event for r in store.load(b) if isinstance(r.event, Gated)]
    assert len(gated_events) == 1


def test_a_job_at_max_concurrent_runs_is_waited_for_not_escalated() -> None:
    import json
    from pathlib import Path

    from botocore.exceptions import ClientError
    from selfheal_core.adapters.glue import GlueAdapter
    from selfheal_core.errors import JobRunsBusyError, RetryableError

    class BusyGlue:
        meta = type("Meta", (), {"region_name": "us-east-1", "partition": "aws"})()

        def start_job_run(self, **_: object) -> dict[str, str]:
            error = {
                "Error": {"Code": "ConcurrentRunsExceededException", "Message": "Concurrent runs exceeded"}
            }
            raise ClientError(error, "StartJobRun")  # type: ignore[arg-type]

    with pytest.raises(JobRunsBusyError) as raised:
        GlueAdapter(client=BusyGlue()).start_job_run("job-a", {})
    assert isinstance(raised.value, RetryableError)
    # The state machine waits on it (a long Retry on Execute) instead of escalating at once.
    asl = json.loads((Path(__file__).resolve().parents[2] / "statemachine/incident.asl.json").read_text())
    retry = next(r for r in asl["States"]["Execute"]["Retry"] if r["ErrorEquals"] == ["JobRunsBusyError"])
    assert retry["MaxAttempts"] >= 5 and retry["IntervalSeconds"] >= 60 and retry["JitterStrategy"] == "FULL"


def test_escalations_caused_by_throttling_share_one_message(world) -> None:
    store, control, _ = world
    notifier = RecordingNotifier()
    throttled = {"Error": "TransientDependencyError", "Cause": "GetParameter: ThrottlingException"}
    for n in range(5):
        incident = incident_id_for(f"job-{n}", "jr_1")
        store.open(incident, Opened(f"job-{n}", "jr_1"))  # Diagnose never finished: no diagnosis, no key
        escalate.run(
            {"incident_id": incident, "error": throttled},
            None,
            store,
            notifier,
            True,
            60,
            "us-east-1",
            storm=control,
        )
        state = load_state(store, incident)
        assert (
            state.storm_group is not None
            and state.storm_group.key == "throttle:selfheal/TransientDependencyError"
        )
    assert len(notifier) == 1
    # An incident's own terminal error is not the platform's: it is told on its own.
    own = incident_id_for("job-x", "jr_1")
    store.open(own, Opened("job-x", "jr_1"))
    escalate.run(
        {"incident_id": own, "error": {"Error": "RemediationError", "Cause": "no such table"}},
        None,
        store,
        notifier,
        True,
        60,
        "us-east-1",
        storm=control,
    )
    assert len(notifier) == 2
