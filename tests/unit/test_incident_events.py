"""Typed events: explicit JSON both ways, and logs written before typed events still fold (upcasting)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    ActionStarted,
    Answered,
    AnswerRequested,
    Correlated,
    Diagnosed,
    DomainEvent,
    Escalated,
    Executed,
    Gated,
    Held,
    IncidentEvent,
    Learned,
    Notified,
    Opened,
    Proposed,
    RestoredTable,
    Validated,
)
from selfheal_core.domain.incident import Outcome, fold
from selfheal_core.vocabulary import Action, Category, Criticality

V1_LOG = Path(__file__).resolve().parents[1] / "data" / "event_log_v1.json"

DRIFT = DriftReport("crm.customers", "1", "2", renamed=(("email", "email_address"),))
SAMPLES: list[DomainEvent] = [
    Opened("orders", "jr_1", "arn:exec", {"detail": {"jobName": "orders"}}),
    Diagnosed(
        Diagnosis(
            "orders", Category.SCHEMA_DRIFT, 0.9, "drift.x", ("e",), Criticality.HIGH, "high", (DRIFT,)
        ),
        ("/aws-glue/jobs/error",),
        True,
    ),
    Proposed(
        1, Action.ROLLBACK, True, "learned", (Action.ROLLBACK, Action.ESCALATE), "k", {"rollback": -1.5}
    ),
    Gated(
        1, Action.ROLLBACK, Action.ESCALATE, ("r",), {"quarantine": ("q",)}, ("c",), True, True, "shadow", 60
    ),
    ActionStarted(1, Action.RETRY, "inc#1"),
    Executed(1, Action.ROLLBACK, "jr_2", True, None, (RestoredTable("crm.customers", "1"),), None, True),
    Executed(2, Action.QUARANTINE, None, False, "kill_switch", (), "s3://q/x/", False),
    Validated(1, "jr_2", "FAILED", True, False, "run ended FAILED", "boom", 12.5),
    Validated(1, "jr_2", "RUNNING", False),
    Escalated("why", "msg-1", True),
    Notified("msg-1"),
    AnswerRequested("approval", Action.ROLLBACK, ("autonomy:approve",), "tok", "2026-12-02T00:00:00.000Z"),
    Answered("fixed", "me", "n", 30.0, True),
    Learned("resolved", 2, -1.25),
    Gated(2, Action.ROLLBACK, Action.ROLLBACK, approval=("critical_job_low_risk_only",), autonomy="approve"),
    AnswerRequested(
        "approval", Action.ROLLBACK, ("critical_job_low_risk_only",), "tok", "2026-12-01T01:00:00Z"
    ),
    Answered("resolved", "ana", "restored", category="schema_drift", action="rollback"),
    Correlated("source:s3://x@2026-12-01T00:00:00.000Z", "source:s3://x", "follower", "inc-0", 3),
    Held(1, "storm_hold_for_probe", "2026-12-01T00:00:00.000Z", "waiting for the group's probe"),
]


def test_every_event_type_has_a_sample():
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_events_round_trip_through_their_stored_record(event: DomainEvent):
    record = IncidentEvent("inc-1", 4, "2026-12-01T00:00:00.000Z", event)
    stored = json.loads(json.dumps(record.to_record()))
    assert stored["v"] == SCHEMA_VERSION and stored["type"] == event.kind
    assert IncidentEvent.from_record(stored) == record


def test_a_record_from_a_newer_schema_is_refused_with_a_clear_error():
    record = IncidentEvent("inc-1", 0, "t", Learned("open")).to_record()
    with pytest.raises(ValueError, match="newer than this code"):
        IncidentEvent.from_record({**record, "v": SCHEMA_VERSION + 1})


def test_an_unknown_event_type_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="unknown incident event type"):
        IncidentEvent.from_record({"incident_id": "i", "seq": 0, "type": "bogus", "at": "t", "data": {}})


def v1_records() -> list[dict]:
    return json.loads(V1_LOG.read_text())["events"]


def test_a_log_recorded_with_schema_v1_upcasts_and_folds():
    records = [IncidentEvent.from_record(r) for r in v1_records()]
    assert all("v" not in r for r in v1_records())  # really the old format
    assert (
        Counter(r.kind for r in records)["answered"]
        == Counter(r["type"] for r in v1_records())["human_decided"]
    )
    by_incident: dict[str, list[IncidentEvent]] = {}
    for record in records:
        by_incident.setdefault(record.incident_id, []).append(record)
    states = [fold(rs) for rs in by_incident.values()]
    # `selfheal demo` at the time: 7 of 11 sample incidents resolved (one was a duplicate event)
    assert sum(s.outcome is Outcome.RESOLVED for s in states) == 7
    assert all(s.diagnosis is not None and s.learned for s in states)
    drifted = [s for s in states if s.diagnosis is not None and s.diagnosis.category is Category.SCHEMA_DRIFT]
    assert drifted and drifted[0].rollback_targets and drifted[0].rollback_targets[0].baseline_version
    escalated = [s for s in states if s.outcome is Outcome.ESCALATED]
    assert escalated and all(s.answer is not None and s.answer.decision == "fixed" for s in escalated)


def test_an_upcast_v1_record_is_written_back_as_the_current_version_without_loss():
    for raw in v1_records():
        record = IncidentEvent.from_record(raw)
        again = IncidentEvent.from_record(json.loads(json.dumps(record.to_record())))
        assert again == record
