"""Scenario files written elsewhere, made hostile: the shipped scenarios mutated at random.

    .venv/bin/python benchmarks/scenario_fuzz.py [--cases 400] [--seed 7] [--engine inprocess]

Each case takes a shipped scenario, applies one to three mutations (a value replaced by an odd one --
null, a huge or tiny number, an integer beyond any float, NaN, a 100 KB string, a deep list --, a key
deleted, an unknown key added, a number scaled by a million, a list repeated) and sometimes cuts the
file short, then runs ``selfheal evaluate --scenario FILE --json`` in-process. A case passes when the
command either exits 2 with a message and no traceback, or exits 0 with exactly one JSON object whose
numbers are all finite (``Infinity`` and ``NaN`` are not JSON). Prints one JSON object: cases, rejected,
ran, failures (the first few failing files are kept and named).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selfheal.simulator.scenario import shipped_scenarios_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile.corpus import run_cli  # the hostile-input corpus runs the CLI the same way

ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**63, -(2**63), 1e308, -1e308, 1e-308, 0.5, "", "x", "\U0001f642" * 3,
    [], {}, [1], {"a": 1}, "NaN", float("nan"), float("inf"), -0.0, "retry", "code_error", "low", [None],
    [""], "a" * 100_000, [[[[[]]]]], 10**400,
)  # fmt: skip
ADDED_KEYS = ("zzz", "Fix", "weights", "jobs", "from")
KEPT_FAILURES = 5


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def mutate(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _paths(document) if p])
        parent, key = _at(document, path[:-1]), path[-1]
        draw = rng.random()
        if draw < 0.5:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif draw < 0.7:
            del parent[key]
        elif draw < 0.85 and isinstance(parent, dict):
            parent[rng.choice(ADDED_KEYS)] = copy.deepcopy(rng.choice(ODD_VALUES))
        else:
            value = parent[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                parent[key] = rng.choice([value * 1e6, -value, value + 1e-9, 0, 10**9])
            elif isinstance(value, list) and value:
                parent[key] = value * rng.randint(2, 50)
            elif isinstance(value, str):
                parent[key] = value + rng.choice(["", " ", "\x00", "\u202e"])
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def run_case(path: Path, incidents: int, engine: str, out: Path) -> tuple[str, str]:
    """("rejected" | "ran" | "failed", detail)."""
    argv = ["evaluate", "--scenario", str(path), "--incidents", str(incidents), "--json"]
    result = run_cli([*argv, "--out", str(out), "--engine", engine])
    if result.traceback is not None:  # what is looked for: anything escaping the CLI
        return "failed", result.traceback[-1500:]
    code, err, printed = result.code, result.err, result.out
    if code == 2 and err.strip() and "Traceback" not in err:
        return "rejected", err.strip()[:200]
    if code == 0:
        try:
            json.loads(printed, parse_constant=_reject_constant)
        except ValueError as error:
            return "failed", f"exit 0 but not one JSON object: {error}"
        return "ran", ""
    return "failed", f"exit {code}: {(err or printed)[-1500:]}"


def fuzz(cases: int, seed: int, engine: str, keep: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    bases = [json.loads(p.read_text()) for p in sorted(shipped_scenarios_dir().glob("*.json"))]
    counts = {"rejected": 0, "ran": 0, "failed": 0}
    failures: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="selfheal-fuzz-") as tmp:
        for case in range(cases):
            text = json.dumps(mutate(rng.choice(bases), rng))
            if rng.random() < 0.05:
                text = text[: rng.randint(0, 200)]
            path = Path(tmp) / f"case-{seed}-{case}.json"
            path.write_text(text)
            outcome, detail = run_case(path, rng.choice([1, 5, 20]), engine, Path(tmp) / "report")
            counts[outcome] += 1
            if outcome == "failed" and len(failures) < KEPT_FAILURES:
                keep.mkdir(parents=True, exist_ok=True)
                kept = keep / path.name
                kept.write_text(text)
                failures.append({"file": str(kept), "detail": detail})
    return {"cases": cases, "seed": seed, "engine": engine, **counts, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", choices=["inprocess", "stepfunctions"], default="inprocess")
    parser.add_argument("--keep", type=Path, default=Path("scenario-fuzz-failures"))
    args = parser.parse_args()
    result = fuzz(args.cases, args.seed, args.engine, args.keep)
    print(json.dumps(result))
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
