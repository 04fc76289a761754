"""Every AWS call on the incident path x {throttled, 5xx, access denied, timeout after success}, every
Lambda Task's lost response, and the stores down for good: the real ASL and handlers on the local engine
(``selfheal replay --inject``), each case from a fresh home, every run Execute starts forced to succeed and
learning off, so a case differs from its baseline only by its fault.

The invariants, one named test each:
- every incident ends with a checked resolution or a human notified;
- never two Glue runs, never two catalog updates of a table, for one attempt;
- one notification per escalation;
- a lost response never burns an attempt;
- a run whose StartJobRun timed out after success is found and validated, not abandoned;
- the audit trail never blocks a remediation and ends up complete;
- with the event log down for good, the state machine still notifies, without the log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from selfheal_core.domain.events import ActionStarted, Escalated, Executed, Proposed, Validated
from selfheal_core.domain.incident import Outcome, fold
from selfheal_core.vocabulary import Action

from selfheal.local.faults import LAMBDA_STATES

from .conftest import CaseResult

pytestmark = pytest.mark.slow

Case = Callable[[str, tuple[str, ...]], CaseResult]

# Which sample event takes the incident through each call: the schema drift is rolled back (every Glue
# read and write, the logs, the settings, the log and the audit trail); the permission error escalates.
DRIFT, ESCALATION = "schema_drift", "permission"
OPERATIONS: dict[tuple[str, str], str] = {
    ("glue", "GetJob"): DRIFT,
    ("glue", "GetJobRun"): DRIFT,
    ("glue", "GetJobRuns"): DRIFT,
    ("glue", "GetTags"): DRIFT,
    ("glue", "GetTableVersions"): DRIFT,
    ("glue", "StartJobRun"): DRIFT,
    ("glue", "UpdateTable"): DRIFT,
    ("logs", "DescribeLogStreams"): DRIFT,
    ("logs", "GetLogEvents"): DRIFT,
    ("ssm", "GetParameter"): DRIFT,
    ("sns", "Publish"): ESCALATION,
    ("dynamodb", "PutItem"): DRIFT,  # locally: the SQLite store's open/append
    ("dynamodb", "Query"): DRIFT,  # locally: the SQLite store's load
    ("dynamodb", "GetItem"): DRIFT,  # locally: RunFinished's look-up of the run's watch
    ("stepfunctions", "SendTaskSuccess"): DRIFT,  # RunFinished releasing the wait for the run's end
    ("s3", "PutObject"): DRIFT,  # locally: the audit directory writer
}
# The error code each service really returns for each kind of failure.
CODES: dict[str, dict[str, str]] = {
    "throttled": {
        "glue": "ThrottlingException",
        "logs": "ThrottlingException",
        "ssm": "ThrottlingException",
        "sns": "Throttled",
        "dynamodb": "ProvisionedThroughputExceededException",
        "s3": "SlowDown",
        "stepfunctions": "ThrottlingException",
    },
    "5xx": {
        "glue": "InternalServiceException",
        "logs": "ServiceUnavailableException",
        "ssm": "InternalServerError",
        "sns": "InternalError",
        "dynamodb": "InternalServerError",
        "s3": "InternalError",
        "stepfunctions": "ServiceUnavailable",
    },
    "denied": {
        "glue": "AccessDeniedException",
        "logs": "AccessDeniedException",
        "ssm": "AccessDeniedException",
        "sns": "AuthorizationError",
        "dynamodb": "AccessDeniedException",
        "s3": "AccessDenied",
        "stepfunctions": "AccessDeniedException",
    },
}
DOWN_FOR_GOOD = (
    "dynamodb:PutItem=ProvisionedThroughputExceededException always",
    "dynamodb:Query=InternalServerError always",
    "s3:PutObject=SlowDown always",
)


def _cases() -> list[tuple[str, str]]:
    cases = []
    for (service, operation), event in OPERATIONS.items():
        for kind in ("throttled", "5xx", "denied"):
            cases.append((event, f"{service}:{operation}={CODES[kind][service]}"))
        cases.append((event, f"timeout:{service}:{operation}"))
    for state in LAMBDA_STATES:
        cases.append((ESCALATION if state == "Escalate" else DRIFT, f"lost:{state}"))
    cases.extend((DRIFT, spec) for spec in DOWN_FOR_GOOD)
    return cases


CASES = _cases()
IDS = [spec for _, spec in CASES]
LOST = [(event, spec) for event, spec in CASES if spec.startswith("lost:")]


def test_the_matrix_covers_every_call_and_task() -> None:
    assert len(CASES) == len(OPERATIONS) * 4 + len(LAMBDA_STATES) + len(DOWN_FOR_GOOD) == 75


@pytest.mark.parametrize(("event", "spec"), CASES, ids=IDS)
def test_every_fault_was_injected(fault_case: Case, event: str, spec: str) -> None:
    """A fault that never fired would prove nothing: each one meets the call it names."""
    result = fault_case(event, (spec,))
    assert result.calls.fired.get(spec, 0) >= 1, result.summary["path"]


@pytest.mark.parametrize(("event", "spec"), CASES, ids=IDS)
def test_every_incident_ends_resolved_or_with_a_human_notified(
    fault_case: Case, event: str, spec: str
) -> None:
    result = fault_case(event, (spec,))
    resolved = bool(result.log) and fold(result.log).outcome is Outcome.RESOLVED
    if resolved:  # a checked resolution: the run selfheal started was validated as fixed
        assert any(isinstance(e.event, Validated) and e.event.fixed for e in result.log)
    else:
        assert result.notifications, (result.summary["path"], result.summary["status"])


@pytest.mark.parametrize(("event", "spec"), CASES, ids=IDS)
def test_never_two_glue_runs_for_one_attempt(fault_case: Case, event: str, spec: str) -> None:
    result = fault_case(event, (spec,))
    assert all(n == 1 for n in Counter(result.run_markers).values()), result.run_markers
    started = [e.event.marker for e in result.log if isinstance(e.event, ActionStarted)]
    assert set(result.run_markers) <= set(started)


@pytest.mark.parametrize(("event", "spec"), CASES, ids=IDS)
def test_never_two_catalog_updates_for_one_attempt(fault_case: Case, event: str, spec: str) -> None:
    result = fault_case(event, (spec,))
    rollbacks = [
        e.event
        for e in result.log
        if isinstance(e.event, ActionStarted) and e.event.action is Action.ROLLBACK
    ]
    for table, updates in Counter(result.calls.catalog_updates).items():
        assert updates <= len(rollbacks), (table, updates, len(rollbacks))


@pytest.mark.parametrize(("event", "spec"), CASES, ids=IDS)
def test_one_notification_per_escalation(fault_case: Case, event: str, spec: str) -> None:
    """Each escalation is announced by one message: its own, under the dedupe key recorded with it, or,
    when the log could not record or send it, the state machine's fallback. A publish whose response was
    lost cannot be told from a failed one: it is sent again under the same key (SNS is at least once)."""
    result = fault_case(event, (spec,))
    escalations = [e.event for e in result.log if isinstance(e.event, Escalated)]
    assert all(e.notification_id for e in escalations)
    keys = Counter(str(n.get("dedupe_key", "")) for n in result.notifications)
    allowed = 2 if spec == "timeout:sns:Publish" else 1
    assert all(count <= allowed for count in keys.values()), keys
    assert len(keys) == (len(escalations) or (1 if result.notifications else 0)), (keys, escalations)
    recorded = {e.notification_id for e in escalations}
    own = {k for k in keys if k in recorded}
    fallback = set(keys) - recorded
    assert len(fallback) <= 1 and (own or fallback or not escalations)


@pytest.mark.parametrize(("event", "spec"), LOST, ids=[s for _, s in LOST])
def test_a_lost_response_never_burns_an_attempt(fault_case: Case, event: str, spec: str) -> None:
    result = fault_case(event, (spec,))
    baseline = fault_case(event, ())
    proposals = [e.event.attempt for e in result.log if isinstance(e.event, Proposed)]
    assert proposals == [e.event.attempt for e in baseline.log if isinstance(e.event, Proposed)]
    assert result.summary["outcome"] == baseline.summary["outcome"]
    assert result.summary["path"] == baseline.summary["path"]
    assert result.summary["glue_runs_started"] == baseline.summary["glue_runs_started"]
    assert len(result.notifications) == len(baseline.notifications)


def test_a_run_whose_start_timed_out_is_found_and_validated(fault_case: Case) -> None:
    result = fault_case(DRIFT, ("timeout:glue:StartJobRun",))
    assert result.calls.fired == {"timeout:glue:StartJobRun": 1}
    executed = [e.event for e in result.log if isinstance(e.event, Executed)]
    assert len(executed) == 1 and executed[0].reattached, executed
    assert result.run_markers == [f"{result.summary['incident_id']}#1"]
    validated = [e.event for e in result.log if isinstance(e.event, Validated) and e.event.final]
    assert validated and validated[-1].job_run_id == executed[0].job_run_id and validated[-1].fixed
    assert result.summary["outcome"] == "resolved"


@pytest.mark.parametrize("spec", [s for _, s in CASES if s.startswith(("s3:", "timeout:s3:"))])
def test_the_audit_trail_never_blocks_a_remediation(fault_case: Case, spec: str) -> None:
    result = fault_case(DRIFT, (spec,))
    baseline = fault_case(DRIFT, ())
    assert result.summary["path"] == baseline.summary["path"]
    assert result.summary["outcome"] == baseline.summary["outcome"] == "resolved"
    # Whatever failed is written by the next pass: the trail ends up complete.
    assert result.audit_seqs_later == [e.seq for e in result.log]
    assert result.audit_seqs == result.audit_seqs_later[: len(result.audit_seqs)]  # always a prefix


@pytest.mark.parametrize("spec", [s for s in DOWN_FOR_GOOD if s.startswith("dynamodb:")])
def test_the_state_machine_notifies_when_the_event_log_is_down(fault_case: Case, spec: str) -> None:
    result = fault_case(DRIFT, (spec,))
    assert result.summary["path"][-2:] == ["Notify Without Log", "Escalated Without Log"]
    assert result.summary["status"] == "FAILED"  # and the ExecutionsFailed alarm reports it
    (message,) = result.notifications
    assert message["error"]["Error"] == "TransientDependencyError"
    assert message["input"]["detail"]["jobRunId"] == result.summary["job_run_id"]
