"""Escalate: tell a human what happened, why selfheal stopped, and where to look."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from selfheal_core.domain.incident import EventType, Incident, incident_id_for
from selfheal_core.ports import EventStore, Notifier
from selfheal_core.steps.common import load_incident
from selfheal_core.steps.diagnose import trigger_from_event
from selfheal_core.vocabulary import Action


def _ensure_incident(state: Mapping[str, Any], store: EventStore) -> str:
    """An error before the incident was opened must still leave an incident behind: open it here."""
    if state.get("incident_id"):
        return str(state["incident_id"])
    try:
        trigger = trigger_from_event(state)
        job_name, run_id = trigger.job_name, trigger.job_run_id
    except (KeyError, TypeError, ValueError):
        # Too malformed to name its run: key the incident by the event id so it is still recorded once.
        job_name, run_id = "unknown-job", str(state.get("id") or "unknown-event")
    incident_id = incident_id_for(job_name, run_id)
    store.open(incident_id, {"job_name": job_name, "job_run_id": run_id, "trigger": dict(state)})
    return incident_id


def reason_for(state: Mapping[str, Any], incident: Incident) -> str:
    error = state.get("error")
    if isinstance(error, Mapping):
        cause = str(error.get("Cause") or "")[:500]
        return f"selfheal could not complete a step: {error.get('Error', 'error')}: {cause}".strip()
    attempt = incident.current_attempt
    if attempt is not None and attempt.action is Action.LOG_AND_WAIT:
        return "selfheal chose to wait for the next scheduled run; nothing was executed"
    if attempt is not None and attempt.shadow:
        return f"shadow mode: selfheal would have run {attempt.proposed}, and executed nothing"
    if attempt is not None and attempt.rules_fired:
        return f"the safety gate stopped {attempt.proposed}: {', '.join(attempt.rules_fired)}"
    if attempt is not None and attempt.fixed is False:
        return f"the job still fails after {len(incident.attempts)} automated attempt(s)"
    if attempt is not None and attempt.action is Action.ESCALATE:
        return "the policy judged a human fix the best option"
    return "selfheal could not act on this incident"


def links(incident: Incident, region: str, execution_id: str | None) -> dict[str, str]:
    base = f"https://{region}.console.aws.amazon.com"
    result = {
        "glue_run": f"{base}/gluestudio/home?region={region}#/job/{quote(incident.job_name)}/run/"
        f"{quote(incident.job_run_id)}",
        "error_log": f"{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"$252Faws-glue$252Fjobs$252Ferror/log-events/{quote(incident.job_run_id)}",
    }
    if execution_id:
        result["execution"] = f"{base}/states/home?region={region}#/v2/executions/details/{execution_id}"
    return result


def run(
    state: Mapping[str, Any],
    store: EventStore,
    notifier: Notifier,
    await_human: bool,
    human_timeout_seconds: int,
    region: str,
) -> dict[str, Any]:
    incident_id = _ensure_incident(state, store)
    incident = load_incident(store, incident_id)
    reason = reason_for(state, incident)
    attempt = incident.current_attempt
    # Waiting for the next scheduled run is a notice, not a request for a decision.
    await_human = await_human and not (attempt is not None and attempt.action is Action.LOG_AND_WAIT)
    diagnosis = incident.diagnosis or {}
    message = {
        "incident_id": incident_id,
        "job_name": incident.job_name,
        "job_run_id": incident.job_run_id,
        "category": diagnosis.get("category", "unknown"),
        "confidence": diagnosis.get("confidence"),
        "signature": diagnosis.get("signature"),
        "evidence": diagnosis.get("evidence", []),
        "drift": diagnosis.get("drift", []),
        "attempts": [
            {"attempt": a.number, "proposed": a.proposed, "action": a.action, "fixed": a.fixed}
            for a in incident.attempts
        ],
        "proposal": attempt.proposed.value if attempt and attempt.proposed else None,
        "safety_rules": list(attempt.rules_fired) if attempt else [],
        "reason": reason,
        "links": links(incident, region, incident.execution_id),
        "awaiting_decision": await_human,
    }
    subject = f"selfheal: {incident.job_name} needs a human ({diagnosis.get('category', 'unknown')})"
    message_id = notifier.publish(subject, message)
    store.append(
        incident_id,
        EventType.ESCALATED,
        {"reason": reason, "notification_id": message_id, "await_human": await_human},
    )
    return {
        "incident_id": incident_id,
        "reason": reason,
        "await_human": await_human,
        "timeout_seconds": human_timeout_seconds,
    }
