"""Score the redaction pass on the shape corpus the tests use (tests/data/secret_shapes.json).

Run: .venv/bin/python benchmarks/redaction_report.py
Prints one JSON object: how many secret shapes were redacted, how many non-secrets were kept, and
which entries failed (so a regression names itself). No assertions: figures only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfheal_core.domain.redaction import MARKER, redact

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "secret_shapes.json"


def _secret_redacted(entry: dict[str, str]) -> bool:
    redacted = redact(entry["text"])
    return entry["secret"] not in redacted and MARKER in redacted


def report(corpus: dict[str, Any]) -> dict[str, Any]:
    secrets: list[dict[str, str]] = corpus["secrets"]
    keep: list[str] = corpus["keep"]
    leaked = [entry["shape"] for entry in secrets if not _secret_redacted(entry)]
    altered = [text for text in keep if redact(text) != text]
    redacted_count, kept_count = len(secrets) - len(leaked), len(keep) - len(altered)
    return {
        "summary": (
            f"secrets redacted: {redacted_count}/{len(secrets)}, non-secrets kept: {kept_count}/{len(keep)}"
        ),
        "secrets_redacted": redacted_count,
        "secrets_total": len(secrets),
        "non_secrets_kept": kept_count,
        "non_secrets_total": len(keep),
        "leaked_shapes": leaked,
        "altered_non_secrets": altered,
    }


def main() -> None:
    print(json.dumps(report(json.loads(CORPUS.read_text())), indent=2))


if __name__ == "__main__":
    main()
