"""How long a full in-process evaluation takes: 3,000 incidents x every policy, one core.

    .venv/bin/python benchmarks/bench_evaluate.py [--incidents 3000] [--scenario default] [--repeat 3]

Prints the figures; it is not a timed test. Stream generation (diagnosis of every incident, with the real
classifier, cached per distinct message) is included in the total.
"""

from __future__ import annotations

import argparse
import time

from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.scenario import load_scenario, resolve_scenario_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenario = load_scenario(resolve_scenario_path(args.scenario))
    timings = []
    for seed in range(args.repeat):
        start = time.perf_counter()
        evaluation = evaluate(scenario, args.incidents, seed)
        timings.append(time.perf_counter() - start)
    runs = args.incidents * len(evaluation.results)
    best, worst = min(timings), max(timings)
    print(
        f"scenario {scenario.name}: {args.incidents} incidents x {len(evaluation.results)} policies "
        f"({', '.join(evaluation.results)})"
    )
    print(f"wall time per full evaluation: best {best:.2f} s, worst {worst:.2f} s over {args.repeat} seeds")
    print(f"throughput: {runs / best:,.0f} incident-runs per second (target: the whole evaluation < 60 s)")


if __name__ == "__main__":
    main()
