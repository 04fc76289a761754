"""Escalate: tell a human what happened, why selfheal stopped, and where to look.

Exactly one escalation message per escalation, as far as the sender can know:
- ``escalated`` is recorded first, with the message's dedupe key (``<incident>:escalation:<seq>``); the
  message carries the key;
- ``notified`` is recorded after the publish; a retried Escalate that finds it publishes nothing, and one
  that finds the escalation still pending publishes it again under the same key;
- once the publish has succeeded, failing to record ``notified`` does not fail the step (a retry would
  publish a second time): the incident keeps a pending notification, which the Sweeper re-sends, under the
  same key, only if the execution then ends without closing the incident.
A publish whose response is lost (a read timeout) cannot be told from one that failed: it is retried under
the same key, so a repeat is recognisable (SNS standard topics deliver at least once anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from selfheal_core.concurrency import retry_on_conflict
from selfheal_core.contracts import EscalateResult
from selfheal_core.domain.events import Escalated, Notified, Opened
from selfheal_core.domain.incident import IncidentState, evolve, incident_id_for
from selfheal_core.domain.redaction import redact
from selfheal_core.domain.storm import storm_summary_lines
from selfheal_core.domain.trigger import Trigger
from selfheal_core.errors import ConcurrentUpdateError, RetryableError
from selfheal_core.ports import AnswerLinks, EventStore, Notifier
from selfheal_core.steps.answers import expiry
from selfheal_core.steps.common import load_state
from selfheal_core.steps.storm_control import StormControl, joins_group_notification
from selfheal_core.vocabulary import Action

UNKNOWN_JOB = "unknown-job"
STORM_GROUP_SOURCE = "storm_group"  # an escalation that joined its storm group's notification
# Tries at recording ``notified`` after a successful publish, and the pause between them (seconds).
RECORD_TRIES = 3
RECORD_PAUSE = 0.2


def dedupe_key(incident_id: str, seq: int) -> str:
    """The key of the escalation recorded at ``seq``: in the log before the message is sent."""
    return f"{incident_id}:escalation:{seq}"


def ensure_incident(workflow_state: Mapping[str, Any], trigger: Trigger | None, store: EventStore) -> str:
    """An error before the incident was opened must still leave an incident behind: open it here."""
    if workflow_state.get("incident_id"):
        return str(workflow_state["incident_id"])
    if trigger is not None:
        job_name, run_id = trigger.job_name, trigger.job_run_id
    else:
        # Too malformed to name its run: key the incident by the event id so it is still recorded once.
        job_name, run_id = UNKNOWN_JOB, str(workflow_state.get("id") or "unknown-event")
    incident_id = incident_id_for(job_name, run_id)
    store.open(incident_id, Opened(job_name, run_id, None, dict(workflow_state)))
    return incident_id


# What each rule means, in the words of the message a human reads.
RULE_WORDS: dict[str, str] = {
    "kill_switch": "the kill switch is on: nothing is automated",
    "attempt_budget": "the automated attempts allowed per incident are spent",
    "human_only_category": "permission, code and unknown failures are always for a human",
    "low_confidence": "the diagnosis is not confident enough to act on",
    "rollback_requires_drift": "a rollback needs drift evidence and a baseline version",
    "quarantine_fraction_limit": "quarantine needs a measured, small fraction of bad records",
    "quarantine_needs_capable_job": "the job does not declare that it sets bad records aside",
    "no_rerun_on_bad_records": "re-running would load known bad records again",
    "cause_from_facts": "the log named no cause, only the catalog or Data Quality did: a person decides",
    "critical_job_low_risk_only": "on a high/critical job only low-risk actions run unattended",
    "shadow_mode": "the stack is in shadow mode: it proposes and records, and executes nothing",
    "autonomy:shadow": "the autonomy level for this category/action is shadow",
    "autonomy:approve": "the autonomy level for this category/action is approve",
    "awaiting_approval": "the action was held for an approval that was not given",
}


def explain(rules: tuple[str, ...] | list[str]) -> str:
    return "; ".join(f"{rule} ({RULE_WORDS[rule]})" if rule in RULE_WORDS else rule for rule in rules)


def asks_approval(state: IncidentState, error: Mapping[str, Any] | None = None) -> bool:
    """The current proposal is held for a human's approval that has not been asked for yet."""
    attempt = state.current_attempt
    return (
        error is None
        and attempt is not None
        and attempt.needs_approval
        and attempt.approval_answer is None
        and attempt.executed is None
    )


def reason_for(error: Mapping[str, Any] | None, state: IncidentState) -> str:
    if error is not None:
        cause = str(error.get("Cause") or "")[:500]
        return f"selfheal could not complete a step: {error.get('Error', 'error')}: {cause}".strip()
    attempt = state.current_attempt
    if asks_approval(state) and attempt is not None:
        held = explain(attempt.approval)
        return f"selfheal proposes {attempt.proposed} and holds it for your approval: {held}"
    if attempt is not None and attempt.action is Action.LOG_AND_WAIT:
        return "selfheal chose to wait for the next scheduled run; nothing was executed"
    if attempt is not None and attempt.shadow:
        stopped = explain(attempt.rules_fired)
        return f"selfheal would have run {attempt.proposed}, and executed nothing: {stopped}"
    if attempt is not None and attempt.rules_fired:
        return f"the safety gate stopped {attempt.proposed}: {explain(attempt.rules_fired)}"
    if attempt is not None and attempt.fixed is False:
        return f"the job still fails after {len(state.attempts)} automated attempt(s)"
    if attempt is not None and attempt.action is Action.ESCALATE and attempt.masking_rules:
        return f"no automated action was allowed: {explain(attempt.masking_rules)}"
    if attempt is not None and attempt.action is Action.ESCALATE:
        return "the policy judged a human fix the best option (every automated action was allowed)"
    return "selfheal could not act on this incident"


def links(state: IncidentState, region: str) -> dict[str, str]:
    base = f"https://{region}.console.aws.amazon.com"
    result = {
        "glue_run": f"{base}/gluestudio/home?region={region}#/job/{quote(state.job_name)}/run/"
        f"{quote(state.job_run_id)}",
        "error_log": f"{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"$252Faws-glue$252Fjobs$252Ferror/log-events/{quote(state.job_run_id)}",
    }
    if state.execution_id:
        result["execution"] = (
            f"{base}/states/home?region={region}#/v2/executions/details/{state.execution_id}"
        )
    return result


def message_for(
    state: IncidentState,
    reason: str,
    region: str,
    await_human: bool,
    key: str = "",
    question: str | None = None,
    expires_at: str | None = None,
    answer_links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The message's machine-readable part; ``text`` is the plain-text body a human reads."""
    diagnosis = state.diagnosis
    attempt = state.current_attempt
    message: dict[str, Any] = {
        "incident_id": state.incident_id,
        "dedupe_key": key,
        "job_name": state.job_name,
        "job_run_id": state.job_run_id,
        "category": diagnosis.category.value if diagnosis else "unknown",
        "confidence": diagnosis.confidence if diagnosis else None,
        "signature": diagnosis.signature if diagnosis else None,
        "evidence": list(diagnosis.evidence) if diagnosis else [],
        "drift": [r.to_dict() for r in diagnosis.drift] if diagnosis else [],
        "bad_record_fraction": diagnosis.bad_record_fraction if diagnosis else None,
        "attempts": [
            {
                "attempt": a.number,
                "proposed": a.proposed,
                "action": a.action,
                "fixed": a.fixed,
                "held_for_approval": a.needs_approval and a.approval_answer is None,
            }
            for a in state.attempts
        ],
        "proposal": attempt.proposed.value if attempt and attempt.proposed else None,
        "safety_rules": list(stopping_rules(state)),
        "approval_rules": list(attempt.approval) if attempt and question == "approval" else [],
        "reason": reason,
        "links": links(state, region),
        "awaiting_decision": await_human,
        "question": question,
        "expires_at": expires_at,
        "answer_links": dict(answer_links or {}),
        "answer_commands": answer_commands(state.incident_id, question),
        "storm": storm_summary_lines(state),
    }
    from selfheal_core.domain.message import render_text

    message["text"] = render_text(message)
    return message


def stopping_rules(state: IncidentState) -> tuple[str, ...]:
    """The rules that stopped the current proposal, or that kept every automated action off the table."""
    attempt = state.current_attempt
    if attempt is None:
        return ()
    if attempt.rules_fired:
        return attempt.rules_fired
    if attempt.action is Action.ESCALATE:
        return attempt.masking_rules
    return ()


def answer_commands(incident_id: str, question: str | None) -> list[str]:
    if question is None:
        return []
    commands = []
    if question == "approval":
        commands.append(f"selfheal incidents approve {incident_id}")
    commands += [
        f'selfheal incidents reject {incident_id} --note "why"',
        f'selfheal incidents resolve {incident_id} --category CATEGORY --action ACTION --note "what you did"',
    ]
    return commands


def subject_for(state: IncidentState, question: str | None) -> str:
    category = state.diagnosis.category.value if state.diagnosis else "unknown"
    attempt = state.current_attempt
    if question == "approval" and attempt is not None and attempt.proposed is not None:
        return f"selfheal: approve {attempt.proposed.value} on {state.job_name}? ({category})"[:100]
    return f"selfheal: {state.job_name} needs a human ({category})"[:100]


def run(
    workflow_state: Mapping[str, Any],
    trigger: Trigger | None,
    store: EventStore,
    notifier: Notifier,
    await_human: bool,
    human_timeout_seconds: int,
    region: str,
    reason: str | None = None,
    source: str = "",
    sleep: Callable[[float], None] = time.sleep,
    approval_timeout_seconds: int = 3600,
    answer_links: AnswerLinks | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    storm: StormControl | None = None,
) -> EscalateResult:
    """``reason`` overrides the reason derived from the log and the error (the Sweeper gives its own).
    A proposal held for approval is always awaited (``question`` approval); otherwise ``await_human``
    decides whether the workflow waits for a human's answer (``question`` fix). ``storm``: an incident
    whose storm group has already been notified joins that notification."""
    incident_id = ensure_incident(workflow_state, trigger, store)
    raw_error = workflow_state.get("error")
    error = raw_error if isinstance(raw_error, Mapping) else None

    def record_once() -> tuple[IncidentState, Escalated | None, str | None]:
        """The escalation, recorded before anything is sent; None when it was already delivered."""
        state = load_state(store, incident_id)
        if state.last_kind == Notified.kind and reason is None:
            # A retried Escalate whose response was lost: nothing new to say.
            return state, None, _question(state, _last_escalation(store, incident_id), error)
        if state.notification_pending:
            pending = _last_escalation(store, incident_id)  # recorded, not yet sent
            if pending.source == STORM_GROUP_SOURCE:  # joined its group's message: nothing to send
                notified = store.append(incident_id, Notified(pending.notification_id), state.next_seq)
                return evolve(state, notified), None, None
            return state, pending, _question(state, pending, error)
        # The reason may quote an error message: redacted here too, since it also leaves as the step's output.
        why = redact(reason or reason_for(error, state))
        attempt = state.current_attempt
        approval = reason is None and asks_approval(state, error)
        # Waiting for the next scheduled run is a notice, not a request for a decision.
        wait = approval or (
            await_human and not (attempt is not None and attempt.action is Action.LOG_AND_WAIT)
        )
        if not approval:  # an approval is the incident's own question: never folded into a group's
            error_name = str(error.get("Error") or "") if error is not None else None
            state, joined = joins_group_notification(state, storm, store, error_name)
            if joined is not None:  # one message per storm group: this escalation is recorded, not sent
                escalated = Escalated(why, joined, False, STORM_GROUP_SOURCE)
                state = evolve(state, store.append(incident_id, escalated, state.next_seq))
                return evolve(state, store.append(incident_id, Notified(joined), state.next_seq)), None, None
        escalated = Escalated(why, dedupe_key(incident_id, state.next_seq), wait, source)
        state = evolve(state, store.append(incident_id, escalated, state.next_seq))
        return state, escalated, _question(state, escalated, error)

    state, escalated, question = retry_on_conflict(record_once)
    timeout = approval_timeout_seconds if question == "approval" else human_timeout_seconds
    if escalated is None:
        escalated = _last_escalation(store, incident_id)
    else:
        key = escalated.notification_id or dedupe_key(incident_id, state.last_seq)
        expires_at = expiry(now(), timeout) if question else None
        offered = (
            answer_links.links(incident_id, question, expires_at)
            if answer_links is not None and question is not None and expires_at is not None
            else {}
        )
        message = message_for(
            state, escalated.reason, region, escalated.await_human, key, question, expires_at, offered
        )
        message_id = notifier.publish(subject_for(state, question), message)
        _record_notified(store, incident_id, message_id, sleep)
    return EscalateResult(incident_id, escalated.reason, escalated.await_human, timeout, question)


def _question(state: IncidentState, escalated: Escalated, error: Mapping[str, Any] | None) -> str | None:
    if not escalated.await_human:
        return None
    return "approval" if asks_approval(state, error) else "fix"


def _record_notified(
    store: EventStore, incident_id: str, message_id: str, sleep: Callable[[float], None]
) -> bool:
    """Record a publish that succeeded. Failing here must not fail the step: its retry would publish the
    same escalation again. What is not recorded stays a pending notification (see the module docstring)."""
    from selfheal_core.runtime.observability import logger

    for attempt in range(RECORD_TRIES):
        try:
            retry_on_conflict(
                lambda: store.append(
                    incident_id, Notified(message_id), load_state(store, incident_id).next_seq
                )
            )
            return True
        except (RetryableError, ConcurrentUpdateError, OSError) as error:
            if attempt == RECORD_TRIES - 1:
                logger.error(
                    "escalation published but not recorded as notified",
                    extra={"incident_id": incident_id, "message_id": message_id, "error": str(error)},
                )
                return False
            sleep(RECORD_PAUSE * (attempt + 1))
        except (ClientError, BotoCoreError) as error:  # e.g. AccessDenied: the human was told all the same
            logger.error(
                "escalation published but not recorded as notified",
                extra={"incident_id": incident_id, "message_id": message_id, "error": type(error).__name__},
            )
            return False
    return False  # pragma: no cover - the loop always returns


def _last_escalation(store: EventStore, incident_id: str) -> Escalated:
    return next(r.event for r in reversed(store.load(incident_id)) if isinstance(r.event, Escalated))
