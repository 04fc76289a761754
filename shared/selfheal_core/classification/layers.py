"""How the classifier's layers combine (pure; classifier.py gathers the inputs).

Order: structured evidence -> signatures -> learned model -> ``unknown``.

1. Structured evidence (diagnosis/structured.py: Glue Error Category, Spark error class, SQLSTATE,
   exception family, AWS error code) answers when its ``decide`` does, except that an
   auto-remediated answer never beats a strong human-only signature hit (an AccessDenied anywhere
   wins). Otherwise the signature layer answers.
2. A human-only structured answer, or a strong (>= 0.8) human-only signature hit, is final: the
   model cannot overrule it.
3. The model is asked when the signatures give no decision (no hit, conflicting or weak hits) and
   answers only above ``policy.answer``. It may also overrule a signature, but only above the
   situation's own threshold (``switch``/``veto``/``unlock``, see model.Policy). All thresholds are
   fitted by minimising the cost matrix on out-of-fold predictions (training.choose_policy), so a
   threshold that never pays stays at NEVER and that path is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from selfheal_core.classification.model import Policy
from selfheal_core.classification.result import Classification, checks_for, with_text_checks
from selfheal_core.domain.fact_checks import FactCheck
from selfheal_core.vocabulary import CATEGORIES, HUMAN_ONLY_CATEGORIES, Category


class SignatureState(StrEnum):
    NONE = "none"  # no hit, conflicting hits, or a winner too light to count
    AUTO = "auto"  # an auto-remediated category
    HUMAN_WEAK = "human_weak"  # permission/code_error/unknown below STRONG
    HUMAN_STRONG = "human_strong"  # permission/code_error/unknown at or above STRONG: decides


class Situation(StrEnum):
    """Where a model answer would come in; one threshold each (model.Policy)."""

    ANSWER = "answer"
    SWITCH = "switch"
    VETO = "veto"
    UNLOCK = "unlock"


@dataclass(frozen=True)
class StructuredDecision:
    category: Category
    confidence: float
    source: str  # glue_category, spark_error_class, sqlstate, exception, aws_error_code
    name: str  # the deciding evidence, e.g. "CAST_INVALID_INPUT"
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Inspection:
    """Everything the layers saw in one log, before the model is asked."""

    upstream: Classification  # the structured layer's answer, else the signature layer's
    state: SignatureState  # how final that answer is
    tokens: tuple[str, ...]  # the model's input
    model_evidence: tuple[str, ...]  # lines to show when the model answers
    text_checks: tuple[FactCheck, ...] = ()  # the fact checks the text alone supports


def upstream(
    structured: StructuredDecision | None, signature: Classification, state: SignatureState
) -> tuple[Classification, SignatureState]:
    """Structured evidence first, unless it names an auto-remediated category while a strong
    human-only signature hit exists (human-only evidence wins, whichever layer found it)."""
    if structured is None:
        return signature, state
    human = structured.category in HUMAN_ONLY_CATEGORIES
    if not human and state is SignatureState.HUMAN_STRONG:
        return signature, state
    decided = Classification(
        category=structured.category,
        confidence=round(structured.confidence, 3),
        signature=f"{structured.source}:{structured.name}",
        evidence=structured.evidence,
        source=structured.source,
        checks=checks_for(structured.category),
    )
    return decided, SignatureState.HUMAN_STRONG if human else SignatureState.AUTO


def situation(inspection: Inspection, top: Category) -> Situation | None:
    """Which threshold applies if the model's top category is ``top``; None: the model is not asked
    (the answer is final, or the model agrees with it)."""
    state = inspection.state
    if state is SignatureState.NONE:
        return Situation.ANSWER
    if state is SignatureState.AUTO and top is not inspection.upstream.category:
        return Situation.VETO if top in HUMAN_ONLY_CATEGORIES else Situation.SWITCH
    if state is SignatureState.HUMAN_WEAK and top not in HUMAN_ONLY_CATEGORIES:
        return Situation.UNLOCK
    return None


def threshold(policy: Policy, where: Situation) -> float:
    value: float = getattr(policy, where.value)
    return value


def combine(inspection: Inspection, probabilities: Sequence[float] | None, policy: Policy) -> Classification:
    """The final answer from the layers' outputs and the model's calibrated probabilities (None:
    no model), after the fact checks the text supports."""
    return with_text_checks(_combine(inspection, probabilities, policy), inspection.text_checks)


def _combine(inspection: Inspection, probabilities: Sequence[float] | None, policy: Policy) -> Classification:
    if probabilities is not None:
        best = max(range(len(CATEGORIES)), key=lambda i: probabilities[i])
        top, confidence = CATEGORIES[best], float(probabilities[best])
        where = situation(inspection, top)
        if where is not None and confidence >= threshold(policy, where):
            return Classification(
                category=top,
                confidence=round(confidence, 3),
                signature=None,
                evidence=inspection.model_evidence,
                source="model",
                checks=checks_for(top),
            )
    return inspection.upstream
