"""Storm control's pure decisions: correlation keys, settings, windows, the breaker, probe outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selfheal_core.domain import storm
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.drift import DriftReport
from selfheal_core.domain.events import (
    Correlated,
    Escalated,
    Executed,
    Gated,
    IncidentEvent,
    Opened,
    Proposed,
    Validated,
)
from selfheal_core.domain.incident import fold
from selfheal_core.domain.redaction import redact
from selfheal_core.domain.storm import Basis, ProbeOutcome, StormSettings, StormSettingsError, Verdict
from selfheal_core.vocabulary import Action, Category, Criticality

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _diagnosis(
    category: Category,
    evidence: tuple[str, ...],
    signature: str | None = None,
    drift: tuple[DriftReport, ...] = (),
    job: str = "job-a",
) -> Diagnosis:
    return Diagnosis(job, category, 0.9, signature, evidence, Criticality.MEDIUM, "medium", drift)


# -- correlation ------------------------------------------------------------------------------------
def test_jobs_reading_the_same_missing_s3_prefix_share_a_source_key() -> None:
    a = _diagnosis(
        Category.SOURCE_NOT_READY,
        ("AnalysisException: Path does not exist: s3://partner-drop/acme/dt=2026-11-26",),
        "source.path_not_exist",
        job="job-a",
    )
    b = _diagnosis(
        Category.SOURCE_NOT_READY,
        ("java.io.FileNotFoundException: s3://Partner-Drop/acme/dt=2026-11-27/part-0001.parquet",),
        "source.no_such_key",
        job="job-b",
    )
    key_a, key_b = storm.correlation_key(a), storm.correlation_key(b)
    assert key_a == key_b == storm.CorrelationKey(Basis.SOURCE, "s3://partner-drop/acme")


def test_different_prefixes_are_different_sources() -> None:
    a = _diagnosis(Category.SOURCE_NOT_READY, ("Path does not exist: s3://lake/orders/dt=1",), "s")
    b = _diagnosis(Category.SOURCE_NOT_READY, ("Path does not exist: s3://lake/customers/dt=1",), "s")
    assert storm.correlation_key(a) != storm.correlation_key(b)


def test_a_drifted_table_is_the_failing_source() -> None:
    drift = (
        DriftReport("crm.accounts", "1", "1"),
        DriftReport("crm.customers", removed=("email",), baseline_version="1", current_version="2"),
    )
    d = _diagnosis(Category.SCHEMA_DRIFT, ("cannot resolve 'email'",), "drift.unresolved_column", drift)
    assert storm.correlation_key(d) == storm.CorrelationKey(Basis.SOURCE, "crm.customers")


def test_a_table_named_by_the_error_is_the_failing_source() -> None:
    drift = (DriftReport("sales.orders", "1", "1"), DriftReport("sales.items", "1", "1"))
    d = _diagnosis(
        Category.SOURCE_NOT_READY, ("EntityNotFoundException: partition of sales.items",), "x", drift
    )
    assert storm.correlation_key(d) == storm.CorrelationKey(Basis.SOURCE, "sales.items")


def test_jdbc_host_is_a_source_and_its_credentials_are_not_in_the_key() -> None:
    d = _diagnosis(
        Category.TRANSIENT_NETWORK,
        ("Communications link failure jdbc:mysql://admin@db-1.internal:3306/sales",),
        "net.http_request_failed",
    )
    assert storm.correlation_key(d) == storm.CorrelationKey(Basis.SOURCE, "jdbc:mysql://db-1.internal:3306")


def test_account_throttles_share_one_key_and_concurrent_runs_do_not() -> None:
    a = _diagnosis(Category.THROTTLING, ("Rate exceeded",), "throttle.aws_throttling", job="a")
    b = _diagnosis(Category.THROTTLING, ("ThrottlingException",), "throttle.aws_throttling", job="b")
    key = storm.correlation_key(a)
    assert key is not None and key.basis is Basis.THROTTLE and key == storm.correlation_key(b)
    runs = _diagnosis(Category.THROTTLING, ("ConcurrentRunsExceededException",), "throttle.concurrent_runs")
    assert storm.correlation_key(runs) != key


def test_signature_grouping_is_the_fallback_and_can_be_turned_off() -> None:
    d = _diagnosis(Category.TRANSIENT_NETWORK, ("Connection reset by peer",), "net.connection_reset")
    assert storm.correlation_key(d) == storm.CorrelationKey(
        Basis.SIGNATURE, "transient_network/net.connection_reset"
    )
    assert storm.correlation_key(d, by_signature=False) is None
    nameless = _diagnosis(Category.RESOURCE_EXHAUSTION, ("java.lang.OutOfMemoryError: heap",), None)
    assert storm.correlation_key(nameless) == storm.CorrelationKey(
        Basis.SIGNATURE, "resource_exhaustion/OutOfMemoryError"
    )


def test_an_unknown_failure_without_signature_stands_alone() -> None:
    assert storm.correlation_key(_diagnosis(Category.UNKNOWN, ("it broke",), None)) is None
    assert storm.correlation_key(None) is None


@pytest.mark.parametrize(
    "evidence",
    [
        "Communications link failure jdbc:mysql://admin@db-1.internal:3306/sales",
        "Connection refused: jdbc:postgresql://warehouse.example.com:5432/dw",
        "Path does not exist: s3://raw-zone/orders/dt=2026-11-30/",
    ],
)
def test_a_group_id_survives_the_redaction_the_event_log_applies(evidence: str) -> None:
    key = storm.correlation_key(_diagnosis(Category.TRANSIENT_NETWORK, (evidence,)))
    assert key is not None
    group_id = storm.group_id_for(key.key, "2026-12-01T03:00:00Z")
    assert redact(group_id) == group_id
    assert storm.key_of_group(group_id) == key.key


# -- settings ---------------------------------------------------------------------------------------
def test_settings_default_and_round_trip() -> None:
    assert StormSettings.from_data(None) == StormSettings()
    custom = StormSettings.from_data({"max_actions": 20, "breaker_failures": 5, "group_by_signature": False})
    assert custom.max_actions == 20 and custom.breaker_failures == 5 and not custom.group_by_signature
    assert StormSettings.from_data(custom.to_data()) == custom


def test_the_longest_hold_the_settings_accept_is_two_hours_in_120_looks() -> None:
    longest = StormSettings.from_data({"hold_seconds": 60, "max_hold_seconds": 7200})
    assert longest.max_hold_seconds == 7200 and longest.hold_seconds == 60


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"max_actions": 0},
        {"max_actions": "5"},
        {"max_actions": 2.5},
        {"max_actions": float("nan")},
        {"enabled": "yes"},
        {"max_action": 5},
        {"hold_seconds": 10},
        {"hold_seconds": 60, "max_hold_seconds": 30},
        {"hold_seconds": 30, "max_hold_seconds": 30 * 121},
        {"hold_seconds": 300, "max_hold_seconds": 7201},
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(data: object) -> None:
    with pytest.raises(StormSettingsError, match="storm"):
        StormSettings.from_data(data)


# -- windows, budget, breaker, holds ------------------------------------------------------------------
def test_windows_are_aligned_so_every_writer_agrees() -> None:
    s = StormSettings(budget_window_seconds=600, breaker_window_seconds=1800)
    start = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    assert storm.budget_window(start, s) == storm.budget_window(start + timedelta(seconds=599), s)
    assert storm.budget_window(start, s) != storm.budget_window(start + timedelta(seconds=600), s)
    now, before = storm.breaker_windows(start + timedelta(seconds=1800), s)
    assert before == storm.breaker_windows(start, s)[0] and now != before


def test_the_breaker_opens_at_its_threshold_and_stays_open_one_more_window() -> None:
    s = StormSettings(breaker_failures=5)
    assert not storm.breaker_open(4, 0, s)
    assert storm.breaker_open(5, 0, s)
    assert storm.breaker_open(0, 5, s)


def test_a_hold_ends_at_max_hold_seconds() -> None:
    s = StormSettings(hold_seconds=60, max_hold_seconds=600)
    since = storm.iso(T0)
    assert not storm.held_too_long(None, T0, s)
    assert not storm.held_too_long(since, T0 + timedelta(seconds=599), s)
    assert storm.held_too_long(since, T0 + timedelta(seconds=600), s)


def test_a_held_follower_backs_off_only_what_is_left() -> None:
    since = storm.iso(T0)
    assert storm.remaining_backoff(600, since, T0 + timedelta(seconds=200)) == 400
    assert storm.remaining_backoff(600, since, T0 + timedelta(hours=1)) == 0
    assert storm.remaining_backoff(600, None, T0) == 600


# -- the probe's outcome --------------------------------------------------------------------------
def _log(*events: object) -> list[IncidentEvent]:
    opened = Opened("job-a", "jr_1")
    return [IncidentEvent("inc-p", n, storm.iso(T0), e) for n, e in enumerate((opened, *events))]  # type: ignore[arg-type]


def _attempt(fixed: bool) -> list[object]:
    return [
        Proposed(1, Action.RETRY),
        Gated(1, Action.RETRY, Action.RETRY),
        Executed(1, Action.RETRY, "jr_2", awaiting_run=True),
        Validated(1, "jr_2", "SUCCEEDED" if fixed else "FAILED", final=True, fixed=fixed),
    ]


def test_probe_outcomes() -> None:
    assert storm.probe_outcome(None) is ProbeOutcome.UNINFORMATIVE
    assert storm.probe_outcome(fold(_log(Proposed(1, Action.RETRY)))) is ProbeOutcome.PENDING
    assert storm.probe_outcome(fold(_log(*_attempt(True)))) is ProbeOutcome.RESOLVED
    failed = _log(*_attempt(False), Escalated("still failing"))
    assert storm.probe_outcome(fold(failed)) is ProbeOutcome.FAILED
    vetoed = _log(
        Proposed(1, Action.RETRY), Gated(1, Action.RETRY, Action.ESCALATE, ("critical",)), Escalated("x")
    )
    assert storm.probe_outcome(fold(vetoed)) is ProbeOutcome.UNINFORMATIVE


def test_followers_wait_go_or_escalate_with_the_probe() -> None:
    assert storm.follower_decision(ProbeOutcome.PENDING).verdict is Verdict.HOLD
    assert storm.follower_decision(ProbeOutcome.RESOLVED).verdict is Verdict.PROCEED
    escalate = storm.follower_decision(ProbeOutcome.FAILED)
    assert escalate.verdict is Verdict.ESCALATE and escalate.rule == storm.GROUP_ESCALATED


def test_summary_lines_name_the_group_and_the_storm_rule() -> None:
    correlated = Correlated("source:s3://x@T", "source:s3://x", "follower", "inc-p", 7)
    gated = Gated(1, Action.RETRY, Action.ESCALATE, (storm.GROUP_ESCALATED,))
    lines = storm.storm_summary_lines(fold(_log(correlated, Proposed(1, Action.RETRY), gated)))
    assert "source:s3://x" in lines[0] and "follower" in lines[0] and "inc-p" in lines[0]
    assert lines[1] == f"storm control: {storm.GROUP_ESCALATED}"
    assert storm.storm_summary_lines(fold(_log(Proposed(1, Action.RETRY)))) == []
