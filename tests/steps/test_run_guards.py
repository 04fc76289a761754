"""Which runs open an incident, and when (issue 9, item 6): timeouts, Data Quality results for runs
selfheal started or that are still going, and the Glue arguments a re-run must not inherit."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from fakes import EVENTS_DIR, make_deps
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.contracts import DiagnoseResult
from selfheal_core.domain.events import Diagnosed
from selfheal_core.errors import RunInProgressError
from selfheal_core.steps import diagnose
from selfheal_core.vocabulary import Action, Category
from test_steps import EVENT, FAILED_RUN, INCIDENT, JOB, classifier, diagnosed, executed, run_diagnose, seed


def dq_event(run_id: str = FAILED_RUN) -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / "glue" / "dq_results_failed.json").read_text())
    event["detail"]["context"].update(jobName=JOB, jobId=run_id)
    return event


def diagnose_dq(
    deps: Any,
    execution_id: str = "exec-dq",
    checks_so_far: int = 0,
    event: Mapping[str, Any] | None = None,
    classify: Any = None,
) -> DiagnoseResult:
    event = event or dq_event()
    wait = diagnose.RunWait(poll_seconds=45, max_checks=3, checks_so_far=checks_so_far)
    return diagnose.run(
        trigger_from_event(event),
        event,
        execution_id,
        deps.store,
        deps.glue,
        deps.logs,
        classify or classifier(Category.DATA_QUALITY),
        wait=wait,
    )


# -- 1. TIMEOUT ------------------------------------------------------------------------------------
def test_a_timed_out_run_opens_an_incident_even_when_the_job_has_retries():
    """Glue's MaxRetries restarts FAILED runs only: a run that hit its timeout is not restarted."""
    deps = make_deps()
    seed(deps)
    deps.glue.jobs[JOB] = replace(deps.glue.jobs[JOB], max_retries=2)
    deps.glue.set_run(JOB, FAILED_RUN, state="TIMEOUT")
    event = copy.deepcopy(EVENT)
    event["detail"]["state"] = "TIMEOUT"
    result = run_diagnose(deps, classifier(Category.RESOURCE_EXHAUSTION), event=event)
    assert result.duplicate is False and result.category == "resource_exhaustion"


def test_a_failed_run_with_retries_left_is_still_left_to_glue():
    deps = make_deps()
    seed(deps)
    deps.glue.jobs[JOB] = replace(deps.glue.jobs[JOB], max_retries=2)
    result = run_diagnose(deps, classifier(Category.THROTTLING))
    assert result.duplicate is True and result.reason is not None and "Glue retries" in result.reason


# -- 2a. a Data Quality result for a run selfheal started ------------------------------------------
def test_a_data_quality_result_for_a_run_selfheal_started_opens_no_incident():
    deps = make_deps()
    seed(deps)
    owner = "inc-0123456789abcdef"
    deps.glue.set_run(JOB, FAILED_RUN, arguments={"--selfheal-attempt": f"{owner}#2"})
    result = diagnose_dq(deps)
    assert result.duplicate is True
    assert result.reason is not None and owner in result.reason
    assert deps.store.load(INCIDENT) == []


# -- 2b. a Data Quality result while its run is still going ----------------------------------------
def test_a_data_quality_result_for_a_running_run_waits_before_diagnosing():
    deps = make_deps()
    seed(deps)
    deps.glue.set_run(JOB, FAILED_RUN, state="RUNNING")
    classify = classifier(Category.DATA_QUALITY)

    first = diagnose_dq(deps, classify=classify)
    assert first.duplicate is False and first.run_in_progress is True
    assert first.in_progress_checks == 1 and first.poll_seconds == 45
    assert first.category is None and classify.seen == []
    assert deps.store.types(INCIDENT) == ["opened"]  # owned, so the run's own failure is a duplicate

    # The state machine waits and calls Diagnose again (a Lambda retry is the same call): it looks again.
    again = diagnose_dq(deps, checks_so_far=1, classify=classify)
    assert again.run_in_progress is True and again.in_progress_checks == 2
    assert deps.store.types(INCIDENT) == ["opened"]

    failure = run_diagnose(deps, classifier(Category.DATA_QUALITY), "exec-failed-event")
    assert failure.duplicate is True

    deps.glue.set_run(JOB, FAILED_RUN, state="SUCCEEDED")
    done = diagnose_dq(deps, checks_so_far=2, classify=classify)
    assert done.run_in_progress is False and done.category == "data_quality"
    assert deps.store.types(INCIDENT) == ["opened", "diagnosed"]
    assert len(classify.seen) == 1


def test_a_retried_diagnose_checks_the_run_again_before_reporting_a_recorded_diagnosis():
    deps = make_deps()
    seed(deps)
    diagnose_dq(deps)  # the run has ended: diagnosed at once
    assert deps.store.types(INCIDENT) == ["opened", "diagnosed"]
    deps.glue.set_run(JOB, FAILED_RUN, state="RUNNING")  # e.g. the run id was restarted in between
    retried = diagnose_dq(deps)
    assert retried.run_in_progress is True and retried.category is None


def test_diagnose_stops_waiting_after_max_checks_and_escalates_with_the_evidence():
    deps = make_deps()
    seed(deps)
    deps.glue.set_run(JOB, FAILED_RUN, state="RUNNING")
    with pytest.raises(RunInProgressError, match="still RUNNING after 3 checks"):
        diagnose_dq(deps, checks_so_far=2)
    # The human who gets the escalation sees the diagnosis of what is known so far.
    assert deps.store.types(INCIDENT) == ["opened", "diagnosed"]
    notes = deps.store.last(INCIDENT, Diagnosed).diagnosis.notes
    assert any("still RUNNING" in note for note in notes)


def test_a_run_that_stays_unreadable_is_diagnosed_not_awaited():
    deps = make_deps()
    seed(deps)
    result = diagnose_dq(deps, event=dq_event("jr_not_there"))
    assert result.run_in_progress is False and result.duplicate is False


# -- 6. re-runs never inherit the Glue workflow's arguments ------------------------------------------
def test_a_rerun_does_not_inherit_the_glue_workflow_arguments():
    deps = make_deps()
    diagnosed(deps, Category.TRANSIENT_NETWORK)
    run = next(r for r in deps.glue.runs[JOB] if r.run_id == FAILED_RUN)
    deps.glue.set_run(
        JOB,
        FAILED_RUN,
        arguments={**run.arguments, "--WORKFLOW_NAME": "nightly", "--WORKFLOW_RUN_ID": "wr_1"},
    )
    executed(deps, Action.RETRY)
    _, arguments = deps.glue.started[0]
    assert "--WORKFLOW_NAME" not in arguments and "--WORKFLOW_RUN_ID" not in arguments
    assert arguments["--day"] == "2026-11-01"
