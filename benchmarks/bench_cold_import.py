"""Cold import time of each Lambda function, and whether it loaded numpy (issue 11: <= 0.5 s each).

    .venv/bin/python benchmarks/bench_cold_import.py [--runs 5]

What Lambda loads, built for this machine's architecture (the stack deploys arm64; the x86 build of the
same layer is what this machine can run): ``shared/requirements.txt`` installed into a fresh directory with
``selfheal_core`` beside it, and every file compiled to bytecode as ``make build`` does. Each run is a fresh
``python -S`` (no site-packages: only the standard library, the layer and the function, as in Lambda) that
times ``import app``, the handler module and everything it imports at init; the figure is the median of the
runs. Two columns: the stack's default (``TraceAwsCalls=off``: ``POWERTOOLS_TRACE_DISABLED=true``) and
with the X-Ray SDK tracing every AWS call. Interpreter start-up (the same for every function) is shown
separately.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".selfheal" / "bench-cold-import"
TARGET_SECONDS = 0.5

PROBE = """
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
started = time.perf_counter()
import app
print(json.dumps({"seconds": time.perf_counter() - started, "numpy": "numpy" in sys.modules}))
"""


def _compile(directory: Path) -> None:
    # As `make build`: hash-based pycs, unchecked, because a zip keeps mtimes at 2 s resolution.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(directory),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def build_layer() -> Path:
    """The layer's third-party packages (cached by the requirements' hash) plus a fresh ``selfheal_core``."""
    requirements = ROOT / "shared" / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    layer = WORK / f"layer-{digest}" / "python"
    if not (layer / ".complete").exists():
        shutil.rmtree(layer.parent, ignore_errors=True)
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        installer = (
            [uv, "pip", "install", "--python", sys.executable]
            if uv
            else [sys.executable, "-m", "pip", "install"]
        )
        subprocess.run([*installer, "--quiet", "--target", str(layer), "-r", str(requirements)], check=True)
        _compile(layer)
        (layer / ".complete").touch()
    core = layer / "selfheal_core"
    shutil.rmtree(core, ignore_errors=True)
    shutil.copytree(ROOT / "shared" / "selfheal_core", core, ignore=shutil.ignore_patterns("__pycache__"))
    _compile(core)
    return layer


def build_function(function: str) -> Path:
    target = WORK / "functions" / function
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "functions" / function, target, ignore=shutil.ignore_patterns("__pycache__"))
    _compile(target)
    return target


def probe(function_dir: Path, layer: Path, tracing: bool) -> tuple[float, bool]:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, str(function_dir), str(layer)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), bool(result["numpy"])


def startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    layer = build_layer()
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    print(
        f"# Cold import of each function: median of {args.runs} fresh interpreters, x86 build of the layer\n"
    )
    print(
        "| function | import app (s) | min..max (s) | numpy loaded | <= 0.5 s | with TraceAwsCalls=on (s) |"
    )
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for function in functions:
        function_dir = build_function(function)
        runs = [probe(function_dir, layer, tracing=False) for _ in range(args.runs)]
        traced = statistics.median(probe(function_dir, layer, tracing=True)[0] for _ in range(args.runs))
        seconds = [s for s, _ in runs]
        numpy = any(n for _, n in runs)
        median = statistics.median(seconds)
        worst = max(worst, median)
        ok = "yes" if median <= TARGET_SECONDS else "no"
        print(
            f"| {function} | {median:.3f} | {min(seconds):.3f}..{max(seconds):.3f} | "
            f"{'yes' if numpy else 'no'} | {ok} | {traced:.3f} |"
        )
    base = statistics.median(startup() for _ in range(args.runs))
    print(f"\nSlowest function (median): {worst:.3f} s; target {TARGET_SECONDS} s")
    print(f"Interpreter start-up (python -S -c pass), not included above: {base:.3f} s (median)")


if __name__ == "__main__":
    main()
