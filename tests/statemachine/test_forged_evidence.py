"""End to end on the real ASL: text in a failure message changes no gate input. The bad-record fraction
comes from the run's Glue Data Quality result (the local world serves GetDataQualityResult and
ListDataQualityResults), never from a ``bad_record_fraction=`` line or a fake ``Error Category`` line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.events import Diagnosed, Gated

from selfheal.local.engine import EngineOptions, LocalEngine
from selfheal.local.replay import replay
from selfheal.local.world import JobFixture, World

pytestmark = pytest.mark.slow

JOB = "inventory-snapshot"
CLEAN_RUN, FRACTION_RUN, CATEGORY_RUN = "jr_clean_0001", "jr_fraction_0002", "jr_category_0003"
MESSAGE = (
    "An error occurred while calling o201.pyWriteDynamicFrame. "
    "java.lang.NullPointerException: Null value appeared in non-nullable field: sku"
)
FORGED_FRACTION = (
    "bad_record_fraction=0.001\nWARN [main] selfheal.evidence: 1 of 1000000 records failed validation"
)
FORGED_CATEGORY = "Error Category: THROTTLING_ERROR; Failed Reason: Rate exceeded\nbad_record_fraction=0"


def dq_result(run_id: str) -> dict[str, Any]:
    """42% of the rows failed: far above the gate's 10% quarantine limit."""
    return {
        "ResultId": f"dqresult-{run_id}",
        "JobName": JOB,
        "JobRunId": run_id,
        "RuleResults": [{"Name": 'IsComplete "sku"', "Result": "FAIL"}],
        "AggregatedMetrics": {"TotalRowsProcessed": 50_000, "TotalRowsFailed": 21_000},
    }


def event(run_id: str, message: str) -> dict[str, Any]:
    detail = {"jobName": JOB, "severity": "ERROR", "state": "FAILED", "jobRunId": run_id, "message": message}
    return {
        "version": "0",
        "id": f"evt-{run_id}",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": "2026-11-26T05:40:23Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_forged_text_changes_no_gate_input_on_the_state_machine(tmp_path: Path) -> None:
    messages = {
        CLEAN_RUN: MESSAGE,
        FRACTION_RUN: f"{MESSAGE}\n{FORGED_FRACTION}",
        CATEGORY_RUN: f"{MESSAGE}\n{FORGED_CATEGORY}",
    }
    world = World(
        jobs={
            JOB: JobFixture(
                JOB,
                tags={"criticality": "medium", "selfheal:quarantine": "enabled"},
                fix={"quarantine": 1.0},
            )
        },
        run_logs=messages,
        data_quality=[dq_result(run_id) for run_id in messages],
    )
    options = EngineOptions(home=tmp_path, world=world, outcome="success", learning=False, policy="rules")
    with LocalEngine(options) as engine:
        summaries = {run_id: replay(engine, event(run_id, text)).data for run_id, text in messages.items()}

    store = SqliteEventStore(tmp_path / "selfheal.sqlite3")
    try:
        logs = {run_id: store.load(summary["incident_id"]) for run_id, summary in summaries.items()}
    finally:
        store.close()
    diagnoses = {
        k: next(e.event.diagnosis for e in v if isinstance(e.event, Diagnosed)) for k, v in logs.items()
    }
    gates = {k: next(e.event for e in v if isinstance(e.event, Gated)) for k, v in logs.items()}

    def gate_inputs(run_id: str) -> tuple[object, ...]:
        ctx = diagnoses[run_id].context()
        return (ctx.bad_record_fraction, ctx.drift, ctx.rollback_available, ctx.risk, ctx.criticality)

    assert gate_inputs(CLEAN_RUN) == gate_inputs(FRACTION_RUN) == gate_inputs(CATEGORY_RUN)
    assert diagnoses[FRACTION_RUN].bad_record_fraction == pytest.approx(0.42)
    # 42% bad rows: the gate refuses the quarantine, whatever fraction the text claims.
    for run_id in (CLEAN_RUN, FRACTION_RUN):
        assert diagnoses[run_id].category.value == "data_quality"
        gate = gates[run_id]
        assert (gate.proposed.value, gate.action.value) == ("quarantine", "escalate")
        assert "quarantine_fraction_limit" in gate.rules_fired
    # A fake Error Category line may change what the text reads as (here: conflicting evidence, so
    # unknown), but not the measured inputs, and it opens nothing.
    assert gates[CATEGORY_RUN].action.value == "escalate"
    assert {s["outcome"] for s in summaries.values()} == {"escalated"}
