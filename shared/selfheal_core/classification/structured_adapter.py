"""The one place that calls diagnosis/structured.py (``extract(text)`` then ``decide(hits)``) and turns
its deciding hit into a layers.StructuredDecision (None when it does not decide)."""

from __future__ import annotations

from selfheal_core.classification import structured
from selfheal_core.classification.layers import StructuredDecision

# The structured layer names no confidence; these say how specific each kind of name is (the order
# is structured.py's source rank). A bare HTTP status is the weakest.
SOURCE_CONFIDENCE = {
    "glue_category": 0.95,
    "spark_error_class": 0.95,
    "sqlstate": 0.8,
    "exception": 0.85,
    "aws_error_code": 0.9,
}
STATUS_CONFIDENCE = 0.7


def _trim(line: str) -> str:
    from selfheal_core.classification.classifier import EVIDENCE_CHARS  # lazy: classifier imports this module

    return line if len(line) <= EVIDENCE_CHARS else line[: EVIDENCE_CHARS - 3] + "..."


def decision(text: str) -> StructuredDecision | None:
    hit = structured.decide(structured.extract(text))
    if hit is None:
        return None
    bare_status = hit.source == "aws_error_code" and hit.key.isdigit()
    return StructuredDecision(
        category=hit.category,
        confidence=STATUS_CONFIDENCE if bare_status else SOURCE_CONFIDENCE.get(hit.source, 0.7),
        source=hit.source,
        name=hit.key,
        evidence=(_trim(hit.line),),
    )
