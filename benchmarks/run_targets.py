"""The target table of the issue "Learning that beats the rulebook": every shipped scenario x 5 seeds.

    .venv/bin/python benchmarks/run_targets.py [--seeds 5] [--incidents N]

Each cell is mean ± spread (half the range, min..max) over the seeds. Same code path as
``selfheal evaluate`` (in-process engine, the real classifier, the deployed gate), plus the oracle
restricted to the gate (``oracle_gated``) to price what the gate forbids.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from selfheal.simulator.evaluation import Evaluation, evaluate
from selfheal.simulator.scenario import load_scenario, shipped_scenarios_dir

REFERENCE = "reference (Benzon, 30 synthetic runs): 74.63% automated, 88.63% non-escalation, MTTR 5.24 min"
SCENARIOS = ("default", "job_specific", "changing_remedy", "traps")


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    mean = statistics.fmean(values)
    half = (max(values) - min(values)) / 2
    return f"{fmt.format(mean)} ± {fmt.format(half)}"


def pct(e: Evaluation, name: str, final: bool = False, key: str = "automated_resolution") -> float:
    return float(e.metrics(name, final)[key]) * 100


def minutes(e: Evaluation, name: str, final: bool = False) -> float:
    return float(e.metrics(name, final)["mttr_minutes"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--incidents", type=int, default=None)
    args = parser.parse_args()
    seeds = range(args.seeds)

    print(f"# Targets: {args.seeds} seeds (0..{args.seeds - 1}), mean ± half-range\n")
    for name in SCENARIOS:
        scenario = load_scenario(shipped_scenarios_dir() / f"{name}.json")
        runs = [evaluate(scenario, args.incidents, seed, with_gated_oracle=True) for seed in seeds]

        def col(f: Callable[[Evaluation], float], fmt: str = "{:.2f}", r: Any = runs) -> str:
            return spread([f(e) for e in r], fmt)

        print(f"## {name} ({runs[0].incidents} incidents)\n")
        print("| policy | automated % | non-escalation % | MTTR min | wasted runs | harmful | blocked |")
        print("|---|---|---|---|---|---|---|")
        for policy, final in [
            ("manual", False),
            ("glue_retries", False),
            ("backoff_retries", False),
            ("rules", False),
            ("learned", False),
            ("oracle", False),
            ("oracle_gated", False),
            ("rules", True),
            ("learned", True),
            ("oracle", True),
            ("oracle_gated", True),
        ]:
            label = policy + ("_final" if final else "")
            ms = [e.metrics(policy, final) for e in runs]
            cells = [
                spread([m["automated_resolution"] * 100 for m in ms]),
                spread([m["non_escalation"] * 100 for m in ms]),
                spread([m["mttr_minutes"] for m in ms], "{:.1f}"),
                *(
                    spread([m[k] for m in ms], "{:.0f}")
                    for k in ("wasted_runs", "harmful_actions", "blocked_by_safety")
                ),
            ]
            print(f"| {label} | " + " | ".join(cells) + " |")
        forbidden = [e.gate_forbidden("oracle", final=True) for e in runs]
        harmful_learned = sum(e.metrics("learned")["harmful_actions"] for e in runs)
        print()
        print(f"- learned harmful actions, all seeds, whole stream: {harmful_learned}")

        def gap(e: Evaluation, a: str, b: str) -> float:
            return pct(e, a, True) - pct(e, b, True)

        def ratio(e: Evaluation, a: str, b: str) -> float:
            return 100 * pct(e, a, True) / pct(e, b, True)

        shares = spread([100 * a / b for a, b in forbidden])
        cost = col(lambda e: gap(e, "oracle", "oracle_gated"))
        print(f"- oracle's fix gate-forbidden on the final 20%: {shares} % of incidents; cost: {cost} points")
        print(
            f"- learned_final / oracle_final: {col(lambda e: ratio(e, 'learned', 'oracle'))} %; "
            f"learned_final / oracle_gated_final: {col(lambda e: ratio(e, 'learned', 'oracle_gated'))} %"
        )
        worst = min(gap(e, "learned", "rules") for e in runs)
        mttr = col(lambda e: minutes(e, "learned", True) / minutes(e, "rules", True), "{:.3f}")
        print(
            f"- learned_final - rules_final: {col(lambda e: gap(e, 'learned', 'rules'))} points "
            f"(worst seed {worst:+.2f}); MTTR learned_final / rules_final: {mttr}"
        )
        if name == "default":
            print(
                f"- {REFERENCE}; MTTR of manual here: {col(lambda e: minutes(e, 'manual') / 60, '{:.1f}')} h"
            )
        print()


if __name__ == "__main__":
    main()
