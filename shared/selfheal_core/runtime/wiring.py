"""Builds the adapters a handler needs from its configuration, once per Lambda container."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from selfheal_core.domain.diagnosis import Classify
from selfheal_core.domain.safety import SafetySettings
from selfheal_core.ports import (
    AnswerLinks,
    AuditSink,
    EventStore,
    GlueActions,
    LabelSink,
    LogReader,
    Notifier,
    QTableStore,
    SettingsSource,
    StormStore,
)
from selfheal_core.runtime.config import Config

# How long a container keeps the link signing key: rotating it is rare and deliberate (docs/operations.md).
KEY_MAX_AGE_SECONDS = 300
if TYPE_CHECKING:
    from selfheal_core.steps.storm_control import StormControl


class ClassifierSource(Protocol):
    def current(self) -> Classify:
        """The classifier to use now (operator signatures can change without a deployment)."""
        ...


class OperatorClassifier:
    """The shipped signatures plus the operator's from a settings source; a malformed operator set is
    logged and ignored, so the shipped signatures keep working."""

    def __init__(self, signatures: SettingsSource) -> None:
        self.signatures = signatures

    def current(self) -> Classify:
        from selfheal_core.classification.classifier import SignatureError, classifier_with
        from selfheal_core.runtime.observability import logger

        try:
            return classifier_with(self.signatures.load().get("signatures")).classify
        except SignatureError as error:
            logger.error("operator signatures ignored", extra={"reason": str(error)})
            return classifier_with(None).classify


@dataclass
class Dependencies:
    config: Config
    store: EventStore
    qtable: QTableStore
    glue: GlueActions
    logs: LogReader
    notifier: Notifier
    settings: SettingsSource
    # Operator signatures for the classifier (``{"signatures": [...]}``), read by Diagnose.
    signatures: SettingsSource = field(default_factory=lambda: _NoSettings())
    classifier: ClassifierSource | None = None
    # Humans' true categories, kept as labelled examples; one-click answer links (none by default).
    labels: LabelSink | None = None
    answer_links: AnswerLinks | None = None
    # Storm control's shared state; None: storm control is off.
    storm_store: StormStore | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.classifier is None:
            self.classifier = OperatorClassifier(self.signatures)

    def classify(self) -> Classify:
        assert self.classifier is not None
        return self.classifier.current()

    def live_storm(self) -> StormControl | None:
        """Storm control with the settings parameter's ``storm`` object as it is right now. A malformed
        object is logged and the defaults apply: a typo must not stop every incident."""
        if self.storm_store is None:
            return None
        from selfheal_core.domain.storm import StormSettings, StormSettingsError
        from selfheal_core.steps.storm_control import StormControl

        try:
            settings = self.config.storm_with(self.settings.load())
        except StormSettingsError as error:
            from selfheal_core.runtime.observability import logger

            logger.error("storm settings ignored, defaults apply", extra={"reason": str(error)})
            settings = StormSettings()
        return StormControl(self.storm_store, settings, self.clock)

    def storm_grouping(self) -> StormControl | None:
        """Storm control for Escalate, which groups notifications only and reads no settings."""
        if self.storm_store is None:
            return None
        from selfheal_core.domain.storm import StormSettings
        from selfheal_core.steps.storm_control import StormControl

        return StormControl(self.storm_store, StormSettings(), self.clock)

    def live_safety(self) -> SafetySettings:
        """The deployed safety settings with the kill switch and mode as they are right now."""
        return self.config.safety_with(self.settings.load())


class _NoSettings:
    def load(self) -> dict[str, Any]:
        return {}


class _NoNotifier:
    def publish(self, subject: str, message: Any) -> str:
        return ""


def build(config: Config, account_id: str = "", partition: str = "") -> Dependencies:
    # Imported here so that a handler test passing fakes never imports boto3-backed modules it does not use.
    from selfheal_core.adapters.audit import DirectoryAuditSink
    from selfheal_core.adapters.cloudwatch_logs import CloudWatchLogReader
    from selfheal_core.adapters.glue import GlueAdapter
    from selfheal_core.adapters.notify import SnsNotifier

    store: Any
    qtable: Any
    storm: StormStore | None = None
    if config.store_backend == "sqlite":
        from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
        from selfheal_core.adapters.storm_store import SqliteStormStore

        store = SqliteEventStore(config.sqlite_path)
        qtable = SqliteQTableStore(config.sqlite_path)
        if config.storm_table:  # locally the name only switches it on: the state shares the file
            storm = SqliteStormStore(config.sqlite_path)
    else:
        from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore, DynamoDbQTableStore

        store = DynamoDbEventStore(config.events_table)
        qtable = DynamoDbQTableStore(config.q_table)
        if config.storm_table:
            from selfheal_core.adapters.storm_store import DynamoDbStormStore

            storm = DynamoDbStormStore(config.storm_table)
    from selfheal_core.adapters.labels import FileLabelSink, S3LabelSink

    labels: LabelSink | None = None
    if config.answers_file:
        labels = FileLabelSink(config.answers_file)
    elif config.labels_bucket:
        labels = S3LabelSink(config.labels_bucket)
    # In AWS the AuditWriter copies the log to S3 from the table's stream (functions/audit_writer): a
    # step never waits on, or fails with, the audit bucket. AUDIT_DIR is for running a handler by hand.
    sink: AuditSink | None = DirectoryAuditSink(Path(config.audit_dir)) if config.audit_dir else None
    return Dependencies(
        config=config,
        store=guarded_store(store, sink),
        qtable=qtable,
        glue=GlueAdapter(account_id=account_id, partition=partition),
        logs=CloudWatchLogReader(max_bytes=config.log_max_bytes, max_seconds=config.log_max_seconds),
        notifier=guarded_notifier(SnsNotifier(config.topic_arn) if config.topic_arn else _NoNotifier()),
        settings=_parameter(config.settings_parameter, config.settings_max_age_seconds),
        signatures=_parameter(config.signatures_parameter, config.settings_max_age_seconds),
        labels=labels,
        answer_links=_answer_links(config),
        storm_store=storm,
    )


def _answer_links(config: Config) -> AnswerLinks | None:
    if not (config.answer_link_url and config.link_secret):
        return None
    from selfheal_core.adapters.links import SecretKey
    from selfheal_core.domain.signed_links import UrlLinkSigner

    return UrlLinkSigner(config.answer_link_url, SecretKey(config.link_secret, max_age=KEY_MAX_AGE_SECONDS))


def guarded_store(store: EventStore, sink: AuditSink | None = None) -> EventStore:
    """The event store every handler uses: ``RedactingEventStore(AuditedEventStore(store, sink))``.

    Redaction is outermost so the log *and* the audit copy receive the same redacted, capped event
    (see ``adapters/redacting.py`` for why there and not in the record serialisation).
    """
    from selfheal_core.adapters.audit import AuditedEventStore
    from selfheal_core.adapters.redacting import RedactingEventStore

    return RedactingEventStore(AuditedEventStore(store, sink) if sink is not None else store)


def guarded_notifier(notifier: Notifier) -> Notifier:
    """The notifier every handler uses: subject and message redacted and bounded before sending."""
    from selfheal_core.adapters.redacting import RedactingNotifier

    return RedactingNotifier(notifier)


def _parameter(name: str, max_age: int) -> SettingsSource:
    from selfheal_core.adapters.notify import SsmSettingsSource

    return SsmSettingsSource(name, max_age=max_age) if name else _NoSettings()


@functools.lru_cache(maxsize=8)
def _cached(config: Config, account_id: str, partition: str) -> Dependencies:
    return build(config, account_id, partition)


def default_dependencies(context: Any) -> Dependencies:
    """The real adapters for this Lambda container; the partition (aws, aws-cn, aws-us-gov) and the
    account id come from the invoked ARN, ``arn:<partition>:lambda:<region>:<account>:function:<name>``."""
    arn = str(getattr(context, "invoked_function_arn", "") or "")
    parts = arn.split(":")
    partition = parts[1] if len(parts) > 4 else ""
    account_id = parts[4] if len(parts) > 4 else ""
    return _cached(Config.from_env(), account_id, partition)
