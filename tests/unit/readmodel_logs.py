"""Hand-built incident logs (stored records, as the stores return them) for the read-model tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from selfheal.readmodel.records import IncidentLog, iso

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class Log:
    """``Log("inc-1").add("opened", 0, job_name=...)``: records at T0 + seconds, numbered in order."""

    def __init__(self, incident_id: str = "inc-1", start: datetime = T0) -> None:
        self.incident_id = incident_id
        self.start = start
        self.records: list[dict[str, Any]] = []

    def add(self, kind: str, seconds: float, v: int = 2, **data: Any) -> Log:
        at = iso(self.start + timedelta(seconds=seconds))
        self.records.append({"seq": len(self.records), "type": kind, "at": at, "data": data, "v": v})
        return self

    def opened(self, job: str = "etl-orders", category: str = "schema_drift") -> Log:
        self.add(
            "opened", 0, job_name=job, job_run_id="jr_1", execution_id="arn:aws:states:x:1:execution:m:e1"
        )
        return self.add("diagnosed", 2, job_name=job, category=category, confidence=1.0)

    def proposed(self, action: str, seconds: float = 3, gated: str | None = None, attempt: int = 1) -> Log:
        self.add("proposed", seconds, attempt=attempt, action=action)
        return self.add("gated", seconds + 1, attempt=attempt, proposed=action, action=gated or action)

    def ran(self, action: str, seconds: float, fixed: bool, attempt: int = 1, waited: float = 60) -> Log:
        self.add("action_started", seconds, attempt=attempt, action=action, marker=f"m#{attempt}")
        self.add(
            "executed",
            seconds + 1,
            attempt=attempt,
            action=action,
            job_run_id=f"jr_{attempt + 1}",
            awaiting_run=True,
        )
        return self.add(
            "validated",
            seconds + 1 + waited,
            attempt=attempt,
            job_run_id=f"jr_{attempt + 1}",
            run_state="SUCCEEDED" if fixed else "FAILED",
            final=True,
            fixed=fixed,
        )

    def asked(self, seconds: float, question: str = "approval", expires: float = 3600) -> Log:
        return self.add(
            "answer_requested",
            seconds,
            question=question,
            proposed="rollback",
            reasons=["autonomy:approve"],
            task_token="token-1",
            expires_at=iso(self.start + timedelta(seconds=seconds + expires)),
        )

    def answered(self, seconds: float, decision: str, **data: Any) -> Log:
        return self.add("answered", seconds, decision=decision, by="alice", **data)

    def escalated(self, seconds: float, await_human: bool = False, source: str = "") -> Log:
        data: dict[str, Any] = {"reason": "r", "notification_id": "n", "await_human": await_human}
        if source:
            data["source"] = source
        self.add("escalated", seconds, **data)
        return self.add("notified", seconds + 1, notification_id="n")

    def learned(self, seconds: float, outcome: str = "resolved") -> Log:
        return self.add("learned", seconds, outcome=outcome)

    def log(self) -> IncidentLog:
        return IncidentLog.of(self.incident_id, self.records)


# A small ASL with the contract's approval wait, to check that the reader follows the definition it gets.
APPROVAL_ASL: dict[str, Any] = {
    "StartAt": "Diagnose",
    "States": {
        "Diagnose": {"Type": "Task", "Resource": "arn:fn:Diagnose", "Next": "Propose"},
        "Propose": {"Type": "Task", "Resource": "arn:fn:Propose", "Next": "SafetyGate"},
        "SafetyGate": {"Type": "Task", "Resource": "arn:fn:Gate", "Next": "Needs Approval?"},
        "Needs Approval?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.gate.needs_approval", "BooleanEquals": True, "Next": "Await Approval"}
            ],
            "Default": "Execute",
        },
        "Await Approval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Next": "Approved?",
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Learn"}],
        },
        "Approved?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.answer.decision", "StringEquals": "approve", "Next": "Execute"}],
            "Default": "Learn",
        },
        "Execute": {
            "Type": "Task",
            "Resource": "arn:fn:Execute",
            "Next": "Wait For Job Run",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Escalate"}],
        },
        "Wait For Job Run": {"Type": "Wait", "Seconds": 60, "Next": "Validate"},
        "Validate": {"Type": "Task", "Resource": "arn:fn:Validate", "Next": "Fix Held?"},
        "Fix Held?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.validation.fixed", "BooleanEquals": True, "Next": "Learn"},
                {"Variable": "$.validation.status", "StringEquals": "RUNNING", "Next": "Wait For Job Run"},
            ],
            "Default": "Escalate",
        },
        "Escalate": {"Type": "Task", "Resource": "arn:fn:Escalate", "Next": "Learn"},
        "Learn": {"Type": "Task", "Resource": "arn:fn:Learn", "Next": "Incident Closed"},
        "Incident Closed": {"Type": "Succeed"},
    },
}
