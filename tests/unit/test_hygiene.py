"""Redaction and bounds wired in: the redacting store and notifier, the input validation, operator
signatures, and the CLI's terminal escaping."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fakes import InMemoryEventStore, RecordingNotifier, make_config
from rich.console import Console
from selfheal_core.adapters.audit import AuditedEventStore
from selfheal_core.adapters.redacting import (
    MAX_EVENT_DATA_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_STORED_CHARS,
    RedactingEventStore,
    RedactingNotifier,
)
from selfheal_core.classification.classifier import SignatureError, classifier_with, load_signatures
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed, Opened, Validated
from selfheal_core.domain.redaction import MARKER
from selfheal_core.errors import InvalidInputError
from selfheal_core.runtime import wiring
from selfheal_core.runtime.validation import MAX_PAYLOAD_DEPTH, TOO_DEEP, validate
from selfheal_core.vocabulary import Category, Criticality

from selfheal.untrusted import for_terminal, one_line

TEN_MB = "x" * (10 * 1024 * 1024)


def _glue_event(**detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.glue",
        "detail-type": "Glue Job State Change",
        "detail": {"jobName": "etl", "jobRunId": "jr_1", "state": "FAILED", "message": "boom", **detail},
    }


def _stored(store: InMemoryEventStore, incident: str = "inc-1") -> str:
    return json.dumps([record.to_record() for record in store.load(incident)])


# --------------------------------------------------------------------------- the redacting store


def test_a_ten_megabyte_message_is_stored_capped_with_a_visible_marker() -> None:
    inner = InMemoryEventStore()
    store = RedactingEventStore(inner)
    store.open("inc-1", Opened("etl", "jr_1", None, _glue_event(message="head " + TEN_MB + " tail")))
    store.append("inc-1", Validated(1, "jr_2", "FAILED", True, False, "failed", TEN_MB), 1)
    opened, validated = (record.event for record in inner.load("inc-1"))
    assert isinstance(opened, Opened) and isinstance(validated, Validated)
    message = opened.trigger["detail"]["message"]
    assert len(message) <= MAX_STORED_CHARS
    assert message.startswith("head ") and message.endswith(" tail")
    assert "[selfheal: truncated" in message
    assert validated.error_message is not None and len(validated.error_message) <= MAX_STORED_CHARS
    assert len(_stored(inner)) < 2 * MAX_EVENT_DATA_BYTES


def test_evidence_lines_are_kept_whole_and_redacted() -> None:
    inner = InMemoryEventStore()
    store = RedactingEventStore(inner)
    line = "Caused by: java.sql.SQLException: login failed password=hunter2 " + "y" * 220
    diagnosis = Diagnosis("etl", Category.PERMISSION, 0.9, "sig", (line,), Criticality.HIGH, "high")
    store.open("inc-1", Opened("etl", "jr_1"))
    record = store.append("inc-1", Diagnosed(diagnosis), 1)
    assert isinstance(record.event, Diagnosed)
    assert record.event.diagnosis.evidence == (line.replace("hunter2", MARKER),)
    assert "hunter2" not in _stored(inner)


def test_the_audit_sink_receives_the_redacted_event() -> None:
    written: list[str] = []

    class Sink:
        def write(self, event: Any) -> None:
            written.append(json.dumps(event.to_record()))

    store = wiring.guarded_store(InMemoryEventStore(), Sink())
    store.open("inc-1", Opened("etl", "jr_1", None, _glue_event(message="pwd=S3cr3t! AKIAIOSFODNN7EXAMPLE")))
    assert len(written) == 1
    assert "S3cr3t!" not in written[0] and "IOSFODNN7EXAMPLE" not in written[0]


def test_nul_and_lone_surrogates_are_cleaned_and_a_huge_untrusted_trigger_is_cut() -> None:
    inner = InMemoryEventStore()
    store = RedactingEventStore(inner)
    trigger = {
        "detail": {"jobName": "a\x00b\ud800c", "list": list(range(100_000))},
        **{f"k{i}": "z" * 60_000 for i in range(40)},
    }
    store.open("inc-1", Opened("a\x00b\ud800c", "jr_1", None, trigger))
    stored = _stored(inner)
    opened = inner.load("inc-1")[0].event
    assert isinstance(opened, Opened)
    assert opened.job_name == "a\ufffdb\ufffdc"
    assert len(stored) <= MAX_EVENT_DATA_BYTES + 1000
    stored.encode("utf-8")  # encodable: no surrogate survived


@pytest.mark.usefixtures("aws_env")
def test_a_store_wrapped_for_handlers_is_redacting_outside_the_audit() -> None:
    deps = wiring.build(make_config(AUDIT_DIR="/tmp/selfheal-test-audit-unused"))
    assert isinstance(deps.store, RedactingEventStore)
    assert isinstance(deps.store.store, AuditedEventStore)
    assert isinstance(deps.notifier, RedactingNotifier)


# --------------------------------------------------------------------------- the redacting notifier


def test_the_subject_is_one_redacted_line_of_printable_ascii() -> None:
    sent = RecordingNotifier()
    RedactingNotifier(sent).publish(
        "selfheal: job\n\x1b[31mé password=hunter2 " + "w" * 300, {"evidence": ["token=abcdef123"]}
    )
    subject, message = sent.messages[0]
    assert len(subject) <= 100 and all(" " <= char <= "~" for char in subject)
    assert "hunter2" not in subject and "\n" not in subject
    assert message == {"evidence": [f"token={MARKER}"]}


def test_a_huge_message_is_capped_to_fit_sns() -> None:
    sent = RecordingNotifier()
    RedactingNotifier(sent).publish("s", {"evidence": [TEN_MB, TEN_MB], "reason": TEN_MB})
    assert len(json.dumps(sent.messages[0][1])) <= MAX_MESSAGE_BYTES


# --------------------------------------------------------------------------- input validation


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_glue_event(extra=_deep(100_000)), "nesting deeper"),
        (_glue_event(message=TEN_MB), "bytes of JSON"),
        (_glue_event(message=12), "event.detail.message: expected a string"),
        (_glue_event(jobName="etl\x1b[2J"), "event.detail.jobName"),
        (_glue_event(jobRunId="jr\ud800"), "event.detail.jobRunId"),
        (_glue_event(score=float("nan")), "detail/score"),
        (_glue_event(numRulesFailed=10**5000), "numRulesFailed"),
        (_glue_event(rulesFailed=True), "rulesFailed"),
        (_glue_event(score=1.5), "score"),
        (_glue_event(rulesetNames=["a", 3]), "rulesetNames"),
    ],
)
def test_a_hostile_event_is_invalid_input_naming_what_is_wrong(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(field)) as error:
        validate({"event": event, "execution_id": "ex"}, "diagnose")
    assert len(str(error.value)) < 400 and "\n" not in str(error.value)


def test_a_schema_message_quoting_a_huge_value_is_short_and_redacted() -> None:
    event = _glue_event(state="password=hunter2 " + TEN_MB[:100_000])
    with pytest.raises(InvalidInputError) as error:
        validate({"event": event, "execution_id": "ex"}, "diagnose")
    assert len(str(error.value)) < 400 and "hunter2" not in str(error.value)


def test_escalate_accepts_what_diagnose_refused_cleaned_and_bounded() -> None:
    payload = {**_glue_event(jobName="etl\ud800", extra=_deep(10_000), score=float("inf")), "error": {}}
    cleaned = validate(payload, "escalate")
    assert cleaned["detail"]["jobName"] == "etl\ufffd"
    assert cleaned["detail"]["score"] is None
    node: Any = cleaned["detail"]["extra"]
    for _ in range(MAX_PAYLOAD_DEPTH - 3):
        node = node["a"]
    assert TOO_DEEP in json.dumps(node)


# --------------------------------------------------------------------------- operator signatures

EVIL = {
    "id": "evil-one",
    "category": "transient_network",
    "pattern": "(a+)+$",
    "rationale": "r",
    "example": "aaaa",
}


def test_a_catastrophic_operator_signature_is_refused_naming_it() -> None:
    with pytest.raises(SignatureError, match=r"evil-one.*unsafe pattern"):
        load_signatures([EVIL])
    with pytest.raises(SignatureError, match="evil-one"):
        classifier_with([EVIL])


def test_operator_signatures_that_are_not_a_list_are_a_signature_error() -> None:
    with pytest.raises(SignatureError):
        classifier_with(5)  # type: ignore[arg-type]


def test_a_signature_file_that_is_not_utf8_or_too_deep_is_a_signature_error(tmp_path: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[{"id": "\xff"}]')
    with pytest.raises(SignatureError, match="not UTF-8"):
        load_signatures(bad)
    bad.write_text("[" * 100_000)
    with pytest.raises(SignatureError, match="nested"):
        load_signatures(bad)


# --------------------------------------------------------------------------- terminal output


def test_markup_and_escape_sequences_print_as_text() -> None:
    console = Console(record=True, width=200, force_terminal=True)
    hostile = "[link=https://evil]click[/link] \x1b[2J\x07 [bold]x"
    console.print(f"job {for_terminal(hostile)}")
    text = console.export_text()
    assert "[link=https://evil]click[/link]" in text
    assert "\\x1b[2J\\x07" in text and "\x1b[2J" not in text
    assert "https://evil" not in "".join(s.style.link or "" for s in console._record_buffer if s.style)


def test_one_line_escapes_newlines_and_surrogates() -> None:
    assert one_line("a\nb\ud800") == "a\\x0ab\\ud800"
