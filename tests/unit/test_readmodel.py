"""The read model on hand-built logs: the summary row (status, outcome, deadline, assisted), what each
incident says about its proposal, and the timeline (steps, the path through the ASL, the waits)."""

from __future__ import annotations

from datetime import timedelta

from readmodel_logs import APPROVAL_ASL, T0, Log

from selfheal.readmodel.evidence import observation, observations
from selfheal.readmodel.graph import Machine
from selfheal.readmodel.precision import Observation
from selfheal.readmodel.records import IncidentLog, summary
from selfheal.readmodel.sources import bundled_definition
from selfheal.readmodel.timeline import (
    inferred_path,
    story,
    visits_from_history,
    visits_from_log,
    waits_from_log,
)

BUNDLED = Machine.from_definition(bundled_definition())
APPROVAL = Machine.from_definition(APPROVAL_ASL)
LATER = T0 + timedelta(hours=1)


def resolved_automatically() -> Log:
    return Log().opened(category="throttling").proposed("retry").ran("retry", 10, fixed=True).learned(80)


def approved_and_held() -> Log:
    return (
        Log()
        .opened()
        .proposed("rollback")
        .asked(5)
        .answered(7205, "approve")
        .ran("rollback", 7210, fixed=True)
        .learned(7300)
    )


# -- the summary row -------------------------------------------------------------------------------------
def test_a_resolved_incident_is_closed_with_its_action() -> None:
    row = summary(resolved_automatically().log(), LATER)
    assert {k: row[k] for k in ("status", "outcome", "final_action", "category", "assisted", "overdue")} == {
        "status": "closed",
        "outcome": "resolved",
        "final_action": "retry",
        "category": "throttling",
        "assisted": False,
        "overdue": False,
    }
    assert row["deadline"] is None and row["opened_at"] == "2026-11-26T02:00:00.000Z"


def test_an_approved_fix_that_held_is_assisted() -> None:
    row = summary(approved_and_held().log(), LATER)
    assert row["outcome"] == "resolved" and row["assisted"] is True
    assert row["answer"]["decision"] == "approve" and row["answer"]["by"] == "alice"


def test_a_fix_that_held_before_any_approval_is_not_assisted() -> None:
    log = Log().opened().proposed("retry").ran("retry", 10, fixed=True).answered(90, "approve").learned(95)
    assert summary(log.log(), LATER)["assisted"] is False


def test_an_unanswered_approval_is_waiting_and_overdue_past_its_expiry() -> None:
    log = Log().opened().proposed("rollback").asked(5, expires=600).log()
    row = summary(log, T0 + timedelta(seconds=300))
    assert row["status"] == "waiting" and row["waiting_for"] == "approval"
    assert row["deadline"] == "2026-11-26T02:10:05.000Z" and row["overdue"] is False
    assert summary(log, T0 + timedelta(hours=1))["overdue"] is True
    assert row["final_action"] is None and row["outcome"] == "open"


def test_an_open_incident_is_overdue_after_the_executions_bound() -> None:
    log = Log().opened().proposed("retry").log()
    assert summary(log, T0 + timedelta(hours=47))["overdue"] is False
    row = summary(log, T0 + timedelta(hours=49))
    assert row["status"] == "open" and row["overdue"] is True
    assert row["deadline"] == "2026-11-28T02:00:00.000Z"


def test_a_legacy_wait_for_a_decision_is_waiting() -> None:
    log = Log().opened().proposed("retry", gated="escalate").escalated(10, await_human=True).log()
    row = summary(log, LATER)
    assert row["status"] == "waiting" and row["waiting_for"] == "decision"
    assert row["outcome"] == "escalated" and row["final_action"] == "escalate"


def test_a_swept_incident_is_closed() -> None:
    row = summary(Log().opened().proposed("retry").escalated(900, source="sweeper").log(), LATER)
    assert row["status"] == "closed" and row["swept"] is True and row["outcome"] == "escalated"


def test_an_event_type_this_code_does_not_know_is_kept_and_ignored() -> None:
    log = Log().opened().add("from_the_future", 3, anything=1).proposed("retry", 4).log()
    row = summary(log, LATER)
    assert row["category"] == "schema_drift" and row["proposed_action"] == "retry"
    assert [r["type"] for r in log.records][2] == "from_the_future"


def test_a_version_1_human_decision_reads_as_an_answer() -> None:
    log = Log().opened().proposed("retry", gated="escalate").escalated(10)
    log.add("human_decided", 100, v=1, decision="fixed", by="bob")
    assert log.log().of_kind("answered")[0]["data"]["by"] == "bob"
    assert summary(log.log(), LATER)["answer"]["decision"] == "fixed"


# -- what each incident says about its proposal ------------------------------------------------------------
def test_a_run_that_held_is_the_fix() -> None:
    assert observation(resolved_automatically().log()) == Observation("throttling", "retry", fix="retry")
    assert observation(approved_and_held().log()) == Observation("schema_drift", "rollback", fix="rollback")


def test_a_later_attempt_that_held_disagrees_with_the_first_proposal() -> None:
    log = (
        Log()
        .opened()
        .proposed("retry")
        .ran("retry", 10, fixed=False)
        .proposed("rollback", 80, attempt=2)
        .ran("rollback", 90, fixed=True, attempt=2)
    )
    found = observation(log.log())
    assert found == Observation("schema_drift", "retry", fix="rollback")
    assert found is not None and found.known and not found.agreed


def test_a_human_who_resolved_it_says_what_fixed_it() -> None:
    log = Log().opened().proposed("rollback", gated="escalate").escalated(5).asked(7, question="fix")
    log.answered(3600, "resolved", action="rollback", category="schema_drift")
    found = observation(log.log())
    assert found == Observation("schema_drift", "rollback", fix="rollback") and found.agreed


def test_a_rejected_proposal_is_refuted_and_a_timeout_tells_nothing() -> None:
    rejected = Log().opened().proposed("rollback").asked(5).answered(60, "reject").learned(61)
    assert observation(rejected.log()) == Observation("schema_drift", "rollback", refuted=True)
    timed_out = Log().opened().proposed("rollback").asked(5).answered(3605, "timeout").learned(3606)
    unknown = observation(timed_out.log())
    assert unknown == Observation("schema_drift", "rollback") and not unknown.known


def test_a_proposal_that_ran_and_did_not_hold_is_refuted() -> None:
    log = Log().opened().proposed("retry").ran("retry", 10, fixed=False).escalated(80)
    assert observation(log.log()) == Observation("schema_drift", "retry", refuted=True)


def test_a_resolved_answer_without_an_action_leaves_the_fix_unknown() -> None:
    log = Log().opened().proposed("rollback", gated="escalate").escalated(5).answered(60, "resolved")
    found = observation(log.log())
    assert found is not None and not found.known


def test_incidents_without_a_proposal_are_not_observations() -> None:
    only_opened = Log().add("opened", 0, job_name="j", job_run_id="r").log()
    assert observation(only_opened) is None
    assert observations([only_opened, resolved_automatically().log()]) == [
        Observation("throttling", "retry", fix="retry")
    ]
    assert observation(IncidentLog("inc-empty", ())) is None


# -- the timeline -------------------------------------------------------------------------------------------
def test_the_log_gives_one_visit_per_step_and_the_asl_fills_in_the_silent_states() -> None:
    log = resolved_automatically().log()
    visits = visits_from_log(log, BUNDLED)
    assert [v.step for v in visits] == ["Diagnose", "Propose", "SafetyGate", "Execute", "Validate", "Learn"]
    assert visits[3].seconds == 1.0  # action_started then executed, one visit
    assert inferred_path(visits, BUNDLED, closed=True) == [
        "Diagnose",
        "Already Handled?",
        "Run Still Going?",
        "Propose",
        "SafetyGate",
        "Gate Decision",
        "Execute",
        "Run Started?",
        "Await Run End",
        "Validate",
        "Fix Held?",
        "Learn",
        "Incident Closed",
    ]
    # The run is awaited by its end event (a token wait, not a human's): the gap is that state's wait.
    (wait,) = waits_from_log(visits, BUNDLED)
    assert wait.step == "Await Run End" and wait.seconds == 60.0
    assert wait.why.startswith("Wait for the run's end") and not BUNDLED.waits_for_a_human("Await Run End")


def test_a_second_poll_is_a_second_visit_and_the_loop_is_in_the_path() -> None:
    log = Log().opened().proposed("retry").add("action_started", 10, attempt=1, action="retry", marker="m")
    log.add("executed", 11, attempt=1, action="retry", job_run_id="jr_2", awaiting_run=True)
    log.add("validated", 71, attempt=1, job_run_id="jr_2", run_state="RUNNING", final=False)
    log.add("validated", 131, attempt=1, job_run_id="jr_2", run_state="SUCCEEDED", final=True, fixed=True)
    visits = visits_from_log(log.log(), BUNDLED)
    assert [v.step for v in visits][-2:] == ["Validate", "Validate"]
    path = inferred_path(visits, BUNDLED, closed=False)
    assert path[-4:] == ["Validate", "Fix Held?", "Wait For Job Run", "Validate"]
    # The first wait is for the run's end event; polling (the fallback) is only the loop after RUNNING.
    assert "Wait For Job Run" not in path[: path.index("Validate")]
    waits = [(w.step, w.seconds) for w in waits_from_log(visits, BUNDLED)]
    assert waits == [("Await Run End", 60.0), ("Wait For Job Run", 60.0)]


def test_the_human_wait_is_at_the_approval_state_of_the_definition_given() -> None:
    log = approved_and_held().log()
    told = story(log, APPROVAL, None, closed=True)
    assert told.source == "event log"
    assert "Await Approval" in told.path and "Approved?" in told.path
    assert told.path.index("Await Approval") < told.path.index("Execute")
    human = [w for w in told.waits if w.step == "Await Approval"]
    assert len(human) == 1 and human[0].seconds == 7201.0 and human[0].why == "a human's answer"


def test_without_an_approval_state_the_answer_goes_to_the_waiting_task_reachable() -> None:
    log = Log().opened().proposed("retry", gated="escalate").escalated(10, await_human=True)
    log.answered(3611, "fixed").learned(3612)
    told = story(log.log(), BUNDLED, None, closed=True)
    assert "Await Human Decision" in told.path
    (human,) = [w for w in told.waits if w.step == "Await Human Decision"]
    assert human.seconds == 3600.0


def test_the_execution_history_gives_inputs_outputs_and_waits() -> None:
    history = {
        "execution_arn": "arn:e",
        "status": "SUCCEEDED",
        "events": [
            {"type": "ExecutionStarted", "timestamp": "2026-11-26T02:00:00+00:00"},
            {
                "type": "TaskStateEntered",
                "timestamp": "2026-11-26T02:00:00+00:00",
                "stateEnteredEventDetails": {"name": "Execute", "input": '{"incident_id": "inc-1"}'},
            },
            {
                "type": "TaskStateExited",
                "timestamp": "2026-11-26T02:00:01+00:00",
                "stateExitedEventDetails": {
                    "name": "Execute",
                    "output": '{"execution": {"job_run_id": "jr"}}',
                },
            },
            {
                "type": "WaitStateEntered",
                "timestamp": "2026-11-26T02:00:01+00:00",
                "stateEnteredEventDetails": {"name": "Wait For Job Run", "input": "{}"},
            },
            {
                "type": "WaitStateExited",
                "timestamp": "2026-11-26T02:01:01+00:00",
                "stateExitedEventDetails": {"name": "Wait For Job Run", "output": "not json"},
            },
            {
                "type": "FailStateEntered",
                "timestamp": "2026-11-26T02:01:02+00:00",
                "stateEnteredEventDetails": {"name": "Learning Failed", "input": "{}"},
            },
        ],
    }
    visits = visits_from_history(history["events"])
    assert [v.step for v in visits] == ["Execute", "Wait For Job Run", "Learning Failed"]
    assert visits[0].input == {"incident_id": "inc-1"} and visits[0].output == {
        "execution": {"job_run_id": "jr"}
    }
    assert visits[1].output == "not json" and visits[2].seconds == 0.0
    told = story(resolved_automatically().log(), BUNDLED, history, closed=True)
    assert told.source == "execution history" and told.path == (
        "Execute",
        "Wait For Job Run",
        "Learning Failed",
    )
    assert [(w.step, w.seconds) for w in told.waits] == [("Wait For Job Run", 60.0)]


def test_durations_read_at_a_glance() -> None:
    from selfheal.readmodel.describe import duration

    assert [duration(s) for s in (0.25, 45, 200, 7500, 100_000)] == ["0.2s", "45s", "3m20s", "2h05m", "1d03h"]


def test_every_record_has_a_line_even_one_this_code_does_not_know() -> None:
    from selfheal.readmodel.describe import what

    log = Log().opened().proposed("rollback").asked(5).answered(60, "resolved", action="rollback", note="n")
    log.add("notified", 61, notification_id="n").add("from_the_future", 62)
    lines = [what(r, "inc-1") for r in log.log().records]
    assert lines[0] == "incident opened for run jr_1"
    assert lines[4].startswith("asked a human for approval of rollback (autonomy:approve)")
    assert lines[5] == "resolved by alice; did rollback; note: n"
    assert lines[-2:] == ["the message was delivered", "from_the_future"]
