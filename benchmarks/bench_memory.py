"""Peak memory of each Lambda function, to set MemorySize from a measurement (issue 11: 256 MB if it holds).

    .venv/bin/python benchmarks/bench_memory.py [--json]

Two figures per function, both on this machine (x86-64 CPython 3.11; the functions run on arm64):

- ``init_mib``: the peak RSS (``VmHWM``) of a fresh interpreter after ``import app`` with the
  function's directory and the layer (``shared``) on the path, as Lambda's init does;
- ``invoke_peak_mib``: the largest ``tracemalloc`` peak, above the memory already held, of one invocation
  of the handler while every sample event in ``events/glue/`` is replayed through the real state machine
  on the local engine (runs forced to fail, so the attempt loop and Escalate run too); tracemalloc sees
  Python's and numpy's allocations.

``estimate_mib`` = init + invocation peak, the figure to compare with the MemorySize (256 MB). The engine
process itself (moto, the interpreter, all functions at once) is printed as an upper bound.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEMORY_MB = 256

# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec from the forking parent.
PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"rss_kib": int(hwm.split()[1])}))
"""


def init_mib(function: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / function), str(ROOT / "shared")],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rss_kib"]) / 1024


def invocation_peaks() -> tuple[dict[str, float], float]:
    from selfheal.local.engine import FUNCTIONS, EngineOptions, LocalEngine
    from selfheal.local.replay import DEFAULT_WORLD, PROJECT_EVENTS, load_event, replay
    from selfheal.local.world import World

    peaks = dict.fromkeys(FUNCTIONS, 0.0)
    with tempfile.TemporaryDirectory() as home:
        options = EngineOptions(home=Path(home), world=World.load(DEFAULT_WORLD), outcome="failure")
        with LocalEngine(options) as engine:
            dispatch = engine._dispatch

            def measured(name: str, payload: dict[str, Any], from_task: bool = True) -> Any:
                logical = next(k for k in FUNCTIONS if name.endswith(f"-{k}"))
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                try:
                    return dispatch(name, payload, from_task)
                finally:
                    peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20
                    peaks[logical] = max(peaks[logical], peak)

            engine._dispatch = measured  # type: ignore[method-assign]
            from selfheal.local import patches

            patches.state["dispatch"] = measured
            tracemalloc.start()
            for path in sorted((PROJECT_EVENTS / "glue").glob("*.json")):
                replay(engine, load_event(path))
            tracemalloc.stop()
    return peaks, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from selfheal.local.engine import FUNCTIONS

    inits = {directory: init_mib(directory) for directory in FUNCTIONS.values()}  # before the engine grows
    peaks, engine_rss = invocation_peaks()
    rows = {}
    for logical, directory in FUNCTIONS.items():
        init = inits[directory]
        rows[directory] = {
            "init_mib": round(init, 1),
            "invoke_peak_mib": round(peaks[logical], 1),
            "estimate_mib": round(init + peaks[logical], 1),
        }
    worst = max(r["estimate_mib"] for r in rows.values())
    result = {"functions": rows, "worst_estimate_mib": worst, "engine_process_rss_mib": round(engine_rss, 1)}
    result["fits_mb"] = {str(MEMORY_MB): worst * 2**20 <= MEMORY_MB * 10**6 * 0.8}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'function':<14}{'init MiB':>10}{'invoke peak MiB':>17}{'estimate MiB':>14}")
    for name, row in rows.items():
        print(f"{name:<14}{row['init_mib']:>10}{row['invoke_peak_mib']:>17}{row['estimate_mib']:>14}")
    print(f"worst estimate {worst} MiB; engine process (moto + all functions) peak RSS {engine_rss:.1f} MiB")
    print(f"fits {MEMORY_MB} MB with 20% headroom: {result['fits_mb'][str(MEMORY_MB)]}")


if __name__ == "__main__":
    main()
