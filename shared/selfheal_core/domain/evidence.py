"""What a log *claims* about data quality: the fraction of input records that are bad.

Never a gate input: log text is written by the job and by whatever data it echoes, so anyone can put
``bad_record_fraction=0`` in it. Diagnose only shows the claim to the human next to the measured value,
which comes from Glue Data Quality results (``steps.diagnose.trusted_bad_record_fraction``).

Jobs and Glue Data Quality report it in a few recognisable shapes; the first one found wins:
``214 of 50211 records failed`` (any of failed/rejected/invalid/bad), ``bad_record_fraction=0.0042``,
or row-level DQ counters ``rowsFailed: 214 ... rowsPassed: 49997``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A count starts only where no word character or comma precedes it, or right after a comma that itself
# follows a non-digit ("load,214 of ..."): each digit run is tried once, instead of restarting after every
# comma inside it (quadratic on "1,1,1,...": 32 KB took seconds).
_OF_TOTAL = re.compile(
    r"(?:(?<![\w,])|(?<=[^\d,],))(\d[\d,]*)\s+(?:of|out of)\s+(\d[\d,]*)\s+(?:input\s+)?(?:records|rows)\s+"
    r"(?:failed|were rejected|rejected|are invalid|invalid|were bad|bad)",
    re.IGNORECASE,
)
_FRACTION = re.compile(r"\bbad_record_fraction\s*[=:]\s*(0(?:\.\d+)?|1(?:\.0+)?)(?![\d.])", re.IGNORECASE)
_DQ_FAILED = re.compile(r"\browsFailed\"?\s*[=:]\s*(\d+)", re.IGNORECASE)
_DQ_PASSED = re.compile(r"\browsPassed\"?\s*[=:]\s*(\d+)", re.IGNORECASE)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def bad_record_fraction(text: str) -> float | None:
    """The measured fraction of bad records in ``text``, or None when nothing measures it."""
    match = _FRACTION.search(text)
    if match:
        return float(match.group(1))
    match = _OF_TOTAL.search(text)
    if match:
        bad, total = _int(match.group(1)), _int(match.group(2))
        return bad / total if total > 0 and bad <= total else None
    failed, passed = _DQ_FAILED.search(text), _DQ_PASSED.search(text)
    if failed and passed:
        bad, good = int(failed.group(1)), int(passed.group(1))
        return bad / (bad + good) if bad + good > 0 else None
    return None


@dataclass(frozen=True)
class DataQualityOutcome:
    """One Glue Data Quality result (``GetDataQualityResult``): a trusted source, unlike log text."""

    result_id: str
    rules_failed: int  # rules whose result is FAIL or ERROR
    rows_failed: int | None = None  # AggregatedMetrics, when the ruleset has row-level rules
    rows_processed: int | None = None

    @property
    def bad_record_fraction(self) -> float | None:
        if self.rows_failed is None or not self.rows_processed:
            return None
        return min(1.0, max(0.0, self.rows_failed / self.rows_processed))
