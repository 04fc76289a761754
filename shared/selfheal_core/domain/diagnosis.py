"""Diagnose: turn what a failed run left behind (error log, tags, catalog versions, data-quality
evidence) into a diagnosis. Pure: the handler or the simulator gathers the evidence, this decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from selfheal_core.domain.context import DecisionContext, Risk
from selfheal_core.domain.drift import DriftReport, TableVersion, detect_drift
from selfheal_core.domain.fact_checks import (
    CAUSE_FROM_FACTS,
    CONFIRMED,
    NOT_CHECKED,
    FactCheck,
    JobPaths,
    cause_from_facts,
    check_claims,
)
from selfheal_core.job_contract import QUARANTINE_TAG
from selfheal_core.vocabulary import Action, Category, Criticality

DRIFT_CATEGORIES = frozenset({Category.SCHEMA_DRIFT, Category.TYPE_MISMATCH})
# A diagnosis the facts alone made: above the gate's confidence floor, so that the rule that holds it for
# a human (``cause_from_facts``) is the one the human reads, not a confidence figure.
FACTS_CONFIDENCE = 0.6
FACTS_SIGNATURE = f"facts:{CAUSE_FROM_FACTS}"


class ClassificationLike(Protocol):
    @property
    def category(self) -> Category: ...
    @property
    def confidence(self) -> float: ...
    @property
    def signature(self) -> str | None: ...
    @property
    def evidence(self) -> tuple[str, ...]: ...


Classify = Callable[[str], ClassificationLike]


@dataclass(frozen=True)
class Evidence:
    job_name: str
    error_log: str
    tags: Mapping[str, str] = field(default_factory=dict)
    table_versions: Mapping[str, Sequence[TableVersion]] = field(default_factory=dict)
    last_success: datetime | None = None
    # Only ever from a trusted source (a Glue Data Quality result), never from the log text.
    bad_record_fraction: float | None = None
    bad_record_source: str | None = None  # where the fraction came from (the result's id)
    in_freeze_window: bool = False
    in_business_hours: bool = False
    # A service that already judged the failure (Glue Data Quality) reports the category itself.
    reported_category: Category | None = None
    reported_evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # The locations the job touches (None: the job was not read, the path check is text only).
    job_paths: JobPaths | None = None


@dataclass(frozen=True)
class Diagnosis:
    job_name: str
    category: Category
    confidence: float
    signature: str | None
    evidence: tuple[str, ...]
    criticality: Criticality
    risk: str
    drift: tuple[DriftReport, ...] = ()
    bad_record_fraction: float | None = None
    quarantine_capable: bool = False
    notes: tuple[str, ...] = ()
    checks: tuple[FactCheck, ...] = ()  # the claims checked against facts (domain.fact_checks)
    # The text named no cause and trusted facts named this one: no action it leads to runs unattended.
    cause_from_facts: bool = False

    @classmethod
    def unknown(cls, job_name: str) -> Diagnosis:
        """What is known of an incident Diagnose never finished: nothing, so nothing is automated."""
        return cls(job_name, Category.UNKNOWN, 0.0, None, (), Criticality.MEDIUM, Risk.MEDIUM)

    @property
    def drifted(self) -> bool:
        return any(report.breaking for report in self.drift)

    @property
    def rollback_targets(self) -> tuple[DriftReport, ...]:
        """The drifted tables a rollback may restore."""
        return tuple(r for r in self.drift if r.rollback_safe)

    def context(self, attempt: int = 1, previous_actions: Sequence[Action] = ()) -> DecisionContext:
        return DecisionContext(
            job_name=self.job_name,
            category=self.category,
            confidence=self.confidence,
            criticality=self.criticality,
            risk=self.risk,
            attempt=attempt,
            drift=self.drifted,
            rollback_available=bool(self.rollback_targets),
            bad_record_fraction=self.bad_record_fraction,
            quarantine_capable=self.quarantine_capable,
            previous_action=previous_actions[-1] if previous_actions else None,
            previous_actions=tuple(previous_actions),
            cause_from_facts=self.cause_from_facts,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "category": self.category.value,
            "confidence": round(self.confidence, 4),
            "signature": self.signature,
            "evidence": list(self.evidence),
            "criticality": self.criticality.value,
            "risk": self.risk,
            "drift": [r.to_dict() for r in self.drift],
            "drifted": self.drifted,
            "bad_record_fraction": self.bad_record_fraction,
            "quarantine_capable": self.quarantine_capable,
            "notes": list(self.notes),
            "checks": [check.to_dict() for check in self.checks],
            "cause_from_facts": self.cause_from_facts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        """The inverse of ``to_dict``; derived keys (``drifted``) are recomputed, not read."""
        fraction = data.get("bad_record_fraction")
        return cls(
            job_name=str(data.get("job_name", "")),
            category=Category(data.get("category", Category.UNKNOWN.value)),
            confidence=float(data.get("confidence", 0.0)),
            signature=None if data.get("signature") is None else str(data["signature"]),
            evidence=tuple(str(line) for line in data.get("evidence", ())),
            criticality=Criticality(data.get("criticality", Criticality.MEDIUM.value)),
            risk=str(data.get("risk", "medium")),
            drift=tuple(DriftReport.from_dict(r) for r in data.get("drift") or ()),
            bad_record_fraction=None if fraction is None else float(fraction),
            quarantine_capable=bool(data.get("quarantine_capable", False)),
            notes=tuple(str(n) for n in data.get("notes", ())),
            checks=tuple(FactCheck.from_dict(c) for c in data.get("checks") or () if isinstance(c, Mapping)),
            cause_from_facts=data.get("cause_from_facts") is True,
        )


def criticality_from_tags(tags: Mapping[str, str]) -> Criticality:
    value = str(tags.get("criticality", "")).strip().lower()
    try:
        return Criticality(value)
    except ValueError:
        return Criticality.MEDIUM


def quarantine_capable(tags: Mapping[str, str]) -> bool:
    return str(tags.get(QUARANTINE_TAG, "")).strip().lower() in ("enabled", "true", "yes")


def risk_level(
    criticality: Criticality,
    downstream_consumers: int,
    in_freeze_window: bool,
    in_business_hours: bool = False,
) -> str:
    """Rule: critical jobs, jobs with many consumers and changes inside a freeze window are high risk;
    during business hours, when people read the data, nothing is low risk."""
    if in_freeze_window or criticality is Criticality.CRITICAL:
        return Risk.HIGH
    if criticality is Criticality.HIGH or downstream_consumers >= 5:
        return Risk.HIGH
    if criticality is Criticality.LOW and downstream_consumers == 0 and not in_business_hours:
        return Risk.LOW
    return Risk.MEDIUM


def downstream_consumers(tags: Mapping[str, str]) -> int:
    try:
        return max(0, int(str(tags.get("downstream_consumers", "0")).strip() or 0))
    except ValueError:
        return 0


REPORTED_SIGNATURE = "glue.data_quality_result"
BAD_RECORD_FRACTION = "bad_record_fraction"


def bad_record_check(evidence: Evidence) -> FactCheck:
    """Where the gate's bad-record fraction comes from: a Data Quality result, or nowhere."""
    if evidence.bad_record_fraction is None:
        return FactCheck(
            BAD_RECORD_FRACTION, NOT_CHECKED, "no Glue Data Quality result with row counts: unmeasured"
        )
    source = evidence.bad_record_source or "the Glue Data Quality result"
    return FactCheck(BAD_RECORD_FRACTION, CONFIRMED, f"{evidence.bad_record_fraction:.6g} from {source}")


def diagnose(evidence: Evidence, classify: Classify) -> Diagnosis:
    classification = classify(evidence.error_log)
    category = classification.category
    confidence = float(classification.confidence)
    signature = classification.signature
    lines = tuple(classification.evidence)
    if evidence.reported_category is not None:
        category, confidence, signature = evidence.reported_category, 1.0, REPORTED_SIGNATURE
        lines = evidence.reported_evidence or lines
    drift = tuple(
        detect_drift(table, versions, evidence.last_success)
        for table, versions in sorted(evidence.table_versions.items())
    )
    checks: tuple[FactCheck, ...] = ()
    if evidence.reported_category is None:  # a Data Quality result is the service's own verdict
        catalog = drift if drift or evidence.job_paths is not None else None
        category, checks = check_claims(category, evidence.error_log, evidence.job_paths, catalog)
    from_facts = False
    if (
        _text_named_nothing(classification)
        and category is Category.UNKNOWN
        and evidence.reported_category is None
    ):
        found = cause_from_facts(drift, evidence.bad_record_fraction, evidence.bad_record_source)
        if found is not None:
            (category, check), from_facts = found, True
            confidence, signature, checks = FACTS_CONFIDENCE, FACTS_SIGNATURE, (*checks, check)
            lines = (check.evidence, *lines)  # what the human reads first: the fact, then the log
    if category is Category.DATA_QUALITY:
        checks = (*checks, bad_record_check(evidence))
    criticality = criticality_from_tags(evidence.tags)
    notes = list(evidence.notes)
    if category in DRIFT_CATEGORIES and not any(r.breaking for r in drift) and evidence.table_versions:
        notes.append("the error reads like drift, but the catalog shows no breaking change")
    return Diagnosis(
        job_name=evidence.job_name,
        category=category,
        confidence=confidence,
        signature=signature,
        evidence=lines,
        criticality=criticality,
        risk=risk_level(
            criticality,
            downstream_consumers(evidence.tags),
            evidence.in_freeze_window,
            evidence.in_business_hours,
        ),
        drift=drift,
        bad_record_fraction=evidence.bad_record_fraction,
        quarantine_capable=quarantine_capable(evidence.tags),
        notes=tuple(notes),
        checks=checks,
        cause_from_facts=from_facts,
    )


def _text_named_nothing(classification: ClassificationLike) -> bool:
    """The classifier decided nothing: no layer matched, the matches conflicted or were too weak, or the
    model answered ``unknown``. An ``unknown`` that a signature or an exception name decided (a connect
    timeout, say) is a cause a human handles, not an abstention: it has a signature."""
    return classification.category is Category.UNKNOWN and classification.signature is None
