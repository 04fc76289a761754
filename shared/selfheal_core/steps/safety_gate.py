"""SafetyGate: fixed rules outside the policy; they can only replace a proposal by a safer one."""

from __future__ import annotations

from typing import Any

from selfheal_core.domain.incident import EventType
from selfheal_core.domain.rules import rule_action
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.errors import InvalidInputError
from selfheal_core.ports import EventStore
from selfheal_core.steps.common import current_context, gate_for, load_incident
from selfheal_core.vocabulary import Action


def run(
    incident_id: str, store: EventStore, safety: SafetySettings, backoff_seconds: float
) -> dict[str, Any]:
    incident = load_incident(store, incident_id)
    attempt = incident.current_attempt
    if attempt is None or attempt.proposed is None:
        raise InvalidInputError(f"incident {incident_id} has no proposal to review")
    gate = gate_for(safety)
    ctx = current_context(incident)
    decision = gate.review(attempt.proposed, ctx)
    masked = {a.value: list(rules) for a, rules in gate.mask_reasons(ctx).items()}
    constraints = gate.constraints(ctx, rule_action(ctx))
    # Exponential backoff across attempts: 1x, 2x, 4x the configured wait.
    wait = backoff_seconds * 2 ** (attempt.number - 1) if decision.action is Action.BACKOFF_RETRY else 0
    store.append(
        incident_id,
        EventType.GATED,
        {
            "attempt": attempt.number,
            "proposed": decision.proposed.value,
            "action": decision.action.value,
            "rules_fired": list(decision.rules_fired),
            "masked": masked,
            "constraints": list(constraints),
            "shadow": decision.shadow,
            "kill_switch": safety.kill_switch,
            "mode": safety.mode,
            "wait_seconds": int(wait),
        },
    )
    return {
        "action": decision.action.value,
        "proposed": decision.proposed.value,
        "rules_fired": list(decision.rules_fired),
        "shadow": decision.shadow,
        "wait_seconds": int(wait),
    }
