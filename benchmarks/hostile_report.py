"""Run the hostile-input corpus (tests/hostile/corpus.py) and print the figure for the README.

Run: .venv/bin/python benchmarks/hostile_report.py [--fast]
Prints one JSON object: {"inputs": N, "handled_cleanly": M, "tracebacks": K, ...}; with --fast the
inputs that run the local engine or a subprocess are skipped. No timing: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"
for name, value in {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "SelfhealHostile",
    "POWERTOOLS_SERVICE_NAME": "selfheal-hostile",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
}.items():
    os.environ.setdefault(name, value)
sys.path.insert(0, str(TESTS))

import moto  # noqa: E402, F401  (before any boto3 client, as in tests/conftest.py)
from hostile.corpus import Case, all_cases, problems  # noqa: E402


def report(cases: list[Case]) -> dict[str, Any]:
    clean, tracebacks = 0, 0
    gaps: list[dict[str, Any]] = []
    unclean: list[dict[str, Any]] = []
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            found = problems(case.run(Path(tmp)))
        if not found:
            clean += 1
            continue
        tracebacks += any(problem.startswith("traceback") for problem in found)
        (gaps if case.known_gap else unclean).append({"input": case.name, "problems": found})
    return {
        "inputs": len(cases),
        "handled_cleanly": clean,
        "tracebacks": tracebacks,
        "known_gaps": gaps,
        "not_handled_cleanly": unclean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="skip the local-engine and subprocess inputs")
    args = parser.parse_args()
    cases = [case for case in all_cases() if not (args.fast and case.slow)]
    print(json.dumps(report(cases), indent=2))


if __name__ == "__main__":
    main()
