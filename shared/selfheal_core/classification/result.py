"""What the classifier answers: the category, how sure, why, and which facts text alone cannot check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from selfheal_core.domain.fact_checks import FactCheck, apply_checks
from selfheal_core.vocabulary import Category

# Which layer decided: the structured evidence kinds (diagnosis/structured.py), a signature, or the
# learned model. None: abstained with no evidence at all.
SOURCES = (
    "glue_category",
    "spark_error_class",
    "sqlstate",
    "exception",
    "aws_error_code",
    "signature",
    "model",
)

# Facts that would confirm (or refute) a category but need more than the log text. The Diagnose step
# can fill them (catalog history, S3 listing, IAM simulation, ...); the names are its keys.
FACT_CHECKS: dict[Category, tuple[str, ...]] = {
    Category.SCHEMA_DRIFT: ("catalog_drift", "column_exists"),
    Category.TYPE_MISMATCH: ("catalog_drift", "column_type"),
    Category.SOURCE_NOT_READY: ("path_scheme", "input_exists"),
    Category.DATA_QUALITY: ("bad_record_fraction",),
    Category.RESOURCE_EXHAUSTION: ("worker_capacity",),
    Category.THROTTLING: ("recent_retries",),
    Category.TRANSIENT_NETWORK: ("recent_retries",),
    Category.PERMISSION: ("iam_policy",),
    Category.CODE_ERROR: ("script_changed",),
    Category.UNKNOWN: (),
}
NOT_CHECKED = "not checked (text only)"


def checks_for(category: Category, made: Sequence[FactCheck] = ()) -> tuple[str, ...]:
    """The checks ``made`` on the text (``"<check>: <verdict> (<evidence>)"``), then
    ``"<check>: not checked (text only)"`` for each other fact check of the category."""
    names = {check.name for check in made}
    return tuple(check.line() for check in made) + tuple(
        f"{name}: {NOT_CHECKED}" for name in FACT_CHECKS[category] if name not in names
    )


@dataclass(frozen=True)
class Classification:
    category: Category
    confidence: float
    signature: str | None
    evidence: tuple[str, ...]
    source: str | None = None
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "confidence": self.confidence,
            "signature": self.signature,
            "evidence": list(self.evidence),
            "checks": list(self.checks),
            "source": self.source,
        }


def with_text_checks(answer: Classification, checks: Sequence[FactCheck]) -> Classification:
    """The answer after the fact checks the text alone supports (``domain.fact_checks``): a refuted claim
    moves it to the category the facts point to (only ever one a human handles)."""
    category, made = apply_checks(answer.category, checks)
    if category is answer.category and not made:
        return answer
    return replace(answer, category=category, checks=checks_for(category, made))
