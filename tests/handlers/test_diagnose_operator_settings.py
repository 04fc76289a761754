"""What an operator configures without touching code reaches the Diagnose handler."""

from __future__ import annotations

from typing import Any

import fakes
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed

RUN = "jr_operator_1"
EVENT = {
    "event": {
        "source": "aws.glue",
        "detail-type": "Glue Job State Change",
        "detail": {
            "jobName": "orders",
            "jobRunId": RUN,
            "state": "FAILED",
            "message": "ERR-4711 vendor gateway busy",
        },
    },
    "execution_id": "arn:aws:states:us-east-1:123456789012:execution:sm:e1",
}
SIGNATURE = {
    "id": "ops.vendor_gateway_busy",
    "category": "throttling",
    "pattern": r"ERR-4711 vendor gateway busy",
    "rationale": "our vendor's gateway rate-limits bulk exports; it clears within minutes",
    "example": "ERR-4711 vendor gateway busy",
}


def _deps(env: dict[str, str] | None = None, signatures: list[dict[str, Any]] | None = None) -> Any:
    glue = fakes.FakeGlue()
    glue.add_job("orders", tags={"criticality": "low"})
    glue.add_run("orders", RUN, error_message="ERR-4711 vendor gateway busy")
    return fakes.make_deps(
        env=env, glue=glue, signatures=fakes.StaticSettings({"signatures": signatures or []})
    )


def _diagnosed(deps: Any, result: dict[str, Any]) -> Diagnosis:
    return deps.store.last(result["incident_id"], Diagnosed).diagnosis


def test_an_operator_signature_classifies_a_message_the_shipped_ones_do_not_know(
    load_handler, lambda_context
):
    handler = load_handler("diagnose")
    without = handler(EVENT, lambda_context, deps=_deps())
    with_signature = handler(EVENT, lambda_context, deps=_deps(signatures=[SIGNATURE]))
    assert without["category"] == "unknown"
    assert with_signature["category"] == "throttling"
    assert with_signature["signature"] == "ops.vendor_gateway_busy"


def test_a_malformed_operator_signature_is_ignored_not_fatal(load_handler, lambda_context):
    broken = {**SIGNATURE, "pattern": "(unclosed"}
    result = load_handler("diagnose")(EVENT, lambda_context, deps=_deps(signatures=[broken]))
    assert result["category"] == "unknown"


def test_a_freeze_window_makes_the_incident_high_risk(load_handler, lambda_context):
    handler = load_handler("diagnose")
    normal = _deps()
    frozen = _deps(env={"FREEZE_WINDOWS": "2000-01-01T00:00Z/2100-01-01T00:00Z"})
    assert handler(EVENT, lambda_context, deps=normal)["risk"] == "low"
    result = handler(EVENT, lambda_context, deps=frozen)
    assert result["risk"] == "high"
    assert _diagnosed(frozen, result).risk == "high"
