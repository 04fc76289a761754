"""Cold import time of each Lambda function, and whether it loaded numpy (issue 11: <= 0.5 s each).

    .venv/bin/python benchmarks/bench_cold_import.py [--runs 5]

Each run is a fresh interpreter that puts ``functions/<state>`` and the layer (``shared``) on the path, as
Lambda does, and times ``import app`` (the handler module and everything it imports at init); the figure is
the median of the runs. Interpreter start-up itself (the same for every function) is shown separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5

PROBE = """
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
started = time.perf_counter()
import app
print(json.dumps({"seconds": time.perf_counter() - started, "numpy": "numpy" in sys.modules}))
"""


def probe(function: str) -> tuple[float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / function), str(ROOT / "shared")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), bool(result["numpy"])


def startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    print(f"# Cold import of each function: median of {args.runs} fresh interpreters\n")
    print("| function | import app (s) | min..max (s) | numpy loaded | <= 0.5 s |")
    print("|---|---|---|---|---|")
    for function in functions:
        runs = [probe(function) for _ in range(args.runs)]
        seconds = [s for s, _ in runs]
        numpy = any(n for _, n in runs)
        median = statistics.median(seconds)
        ok = "yes" if median <= TARGET_SECONDS else "no"
        print(
            f"| {function} | {median:.3f} | {min(seconds):.3f}..{max(seconds):.3f} | "
            f"{'yes' if numpy else 'no'} | {ok} |"
        )
    base = statistics.median(startup() for _ in range(args.runs))
    print(f"\nInterpreter start-up (python -c pass), not included above: {base:.3f} s (median)")


if __name__ == "__main__":
    main()
