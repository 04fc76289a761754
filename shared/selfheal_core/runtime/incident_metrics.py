"""Emits the incident metrics (``domain/incident_metrics.py``) as CloudWatch embedded metric format.

One EMF record per point, written to stdout like the handlers' other metrics (Lambda ships it to
CloudWatch Logs, which extracts the metrics), with the point's catalogued dimension sets: the first is the
record's own set, the others are extra sets of the same record, so one value lands in every series the
dashboard reads. Powertools' ``Metrics`` object carries one dimension set for the whole invocation,
hence a provider per point. ``POWERTOOLS_METRICS_DISABLED`` silences these as it does the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from selfheal_core.domain.events import DomainEvent, IncidentEvent, Opened
from selfheal_core.domain.incident_metrics import CATALOG, MetricPoint
from selfheal_core.ports import EventStore
from selfheal_core.runtime.observability import metrics

NAMESPACE: str = metrics.namespace or "Selfheal"
DEFAULT_SERVICE = "selfheal"


def _provider(point: MetricPoint, service: str | None) -> AmazonCloudWatchEMFProvider:
    spec = CATALOG[point.name]
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=service)
    name = provider.service or DEFAULT_SERVICE
    provider.service = name
    provider.add_metric(name=point.name, unit=spec.unit, value=point.value)
    first, *others = spec.dimension_sets
    for dimension in first:
        provider.add_dimension(name=dimension, value=point.dimensions[dimension])
    for dimensions in others:
        provider.add_dimensions(service=name, **{d: point.dimensions[d] for d in dimensions})
    return provider


def records(points: Iterable[MetricPoint], service: str | None = None) -> list[dict[str, Any]]:
    """The EMF records ``emit`` writes (what CloudWatch will see)."""
    return [dict(_provider(point, service).serialize_metric_set()) for point in points]


def emit(points: Iterable[MetricPoint]) -> None:
    for point in points:
        _provider(point, None).flush_metrics()


class LogCapture:
    """An ``EventStore`` that remembers the last log it loaded per incident: the Sweeper reads every open
    incident's log anyway, and the answers-waiting gauge is counted from those, at no extra read."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.logs: dict[str, list[IncidentEvent]] = {}

    def open(self, incident_id: str, opened: Opened) -> tuple[bool, IncidentEvent]:
        return self.store.open(incident_id, opened)

    def append(self, incident_id: str, event: DomainEvent, expected_seq: int) -> IncidentEvent:
        record = self.store.append(incident_id, event, expected_seq)
        self.logs.setdefault(incident_id, []).append(record)
        return record

    def load(self, incident_id: str) -> list[IncidentEvent]:
        loaded = self.store.load(incident_id)
        self.logs[incident_id] = list(loaded)
        return loaded
