"""Did the fix hold? Checks on a run Glue reports SUCCEEDED, beyond its state (pure).

A SUCCEEDED state is Glue's word that the driver exited cleanly; a job that catches its own exception,
or a ruleset that still fails, can end SUCCEEDED with nothing fixed. Validate records each check by name,
verdict and evidence (``domain.fact_checks.FactCheck``), like the gate's rules:

- ``run_state``: the state Glue reports.
- ``insights_failure``: a job-failure analysis Glue itself wrote for the run: a job-run-insights
  root-cause record (the ``<run id>-job-insights-rca-driver`` stream; in Glue 5.0 the error log group)
  or a ``GlueExceptionAnalysisListener`` event (``[Glue Exception Analysis]``, ``GlueETLJobExceptionEvent``)
  with a ``Failure Reason``. Glue writes these only when the job failed; the job's own prints of the
  words "Failure Reason" do not count without the event marker.
- ``data_quality_result``: a Glue Data Quality result of the run with failed rules. After a quarantine
  the ruleset fails by design (it finds the rows the run routes away), so the check is not made.

Records written (a run that wrote 0 records where it usually writes many) would need the job's CloudWatch
metrics (``glue.driver.aggregate.recordsWritten``, only when job metrics are enabled): not read here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfheal_core.domain.evidence import DataQualityOutcome
from selfheal_core.domain.fact_checks import CONFIRMED, NOT_CHECKED, REFUTED, FactCheck
from selfheal_core.vocabulary import Action

RUN_STATE = "run_state"
INSIGHTS_FAILURE = "insights_failure"
DATA_QUALITY_RESULT = "data_quality_result"

INSIGHTS_STREAM_SUFFIX = "-job-insights-rca-driver"
_ANALYSIS_EVENT = re.compile(
    r"(?:\[Glue Exception Analysis\]|GlueETLJobExceptionEvent|GlueExceptionAnalysisListener)"
)
_FAILURE_REASON = re.compile(r"\"Failure Reason\"\s*:\s*\"(?P<reason>(?:[^\"\\]|\\.){0,300})")
MAX_SCAN_CHARS = 2_000_000  # the analysis is near the end of a short stream; bound the scan


def failure_analysis(text: str, sources: Sequence[str] = ()) -> str | None:
    """The Failure Reason of a job-failure analysis Glue wrote for the run, if any.

    In the insights stream every Failure Reason record is Glue's; elsewhere (the error log) only one on
    a line that carries Glue's exception-analysis event marker counts."""
    scan = text[-MAX_SCAN_CHARS:]
    from_insights = any(source.endswith(INSIGHTS_STREAM_SUFFIX) for source in sources)
    for line in scan.splitlines():
        if '"Failure Reason"' not in line:
            continue
        if not from_insights and not _ANALYSIS_EVENT.search(line):
            continue
        match = _FAILURE_REASON.search(line)
        reason = match.group("reason") if match else ""
        return reason.replace("\\n", " ").replace('\\"', '"').strip() or "(no reason given)"
    return None


def insights_check(text: str | None, sources: Sequence[str] = ()) -> FactCheck:
    if text is None:
        return FactCheck(INSIGHTS_FAILURE, NOT_CHECKED, "the run's logs were not read")
    reason = failure_analysis(text, sources)
    if reason is not None:
        return FactCheck(INSIGHTS_FAILURE, REFUTED, f"Glue's failure analysis of the run: {reason[:300]}")
    return FactCheck(INSIGHTS_FAILURE, CONFIRMED, "no job-failure analysis in the run's logs")


def data_quality_check(outcomes: Sequence[DataQualityOutcome] | None, action: Action | None) -> FactCheck:
    if action is Action.QUARANTINE:
        return FactCheck(
            DATA_QUALITY_RESULT, NOT_CHECKED, "after a quarantine the ruleset fails on the rows routed away"
        )
    if outcomes is None:
        return FactCheck(DATA_QUALITY_RESULT, NOT_CHECKED, "the run's Data Quality results were not read")
    failing = [o for o in outcomes if o.rules_failed > 0]
    if failing:
        ids = ", ".join(f"{o.result_id} ({o.rules_failed} rules failed)" for o in failing)
        return FactCheck(DATA_QUALITY_RESULT, REFUTED, f"the run's Data Quality result still fails: {ids}")
    if not outcomes:
        return FactCheck(DATA_QUALITY_RESULT, NOT_CHECKED, "the run published no Data Quality result")
    return FactCheck(
        DATA_QUALITY_RESULT, CONFIRMED, f"{len(outcomes)} Data Quality result(s), no failed rule"
    )


def false_success(checks: Sequence[FactCheck]) -> FactCheck | None:
    """The first check that shows a SUCCEEDED run did not fix anything."""
    return next((check for check in checks if check.refuted), None)
