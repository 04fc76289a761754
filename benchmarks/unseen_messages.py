"""What misdiagnosis costs on real messages the classifier never saw (issue 8: within 5 points of perfect).

    .venv/bin/python benchmarks/unseen_messages.py [--scenario default] [--messages FILE]
                                                   [--incidents 1000] [--seeds 0 1 2] [--json]

Builds a copy of a shipped scenario in which every mode's ``messages`` are the labelled messages of its
category from MESSAGES (by default the sealed set: sources disjoint from everything the signatures and
the model were built from), then evaluates it as ``selfheal evaluate`` does, twice per seed: with the
classifier and with ``--diagnosis perfect``. Prints the automated resolution of each gated policy both ways
and the gap.
Everything else (jobs, modes, fixes, luck) is the scenario's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean

from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.scenario import Scenario, parse_scenario, shipped_scenarios_dir

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("rules", "learned", "learned_final")
TARGET_POINTS = 5.0
SEALED = ROOT / "tests" / "corpus" / "sealed4" / "sealed.jsonl"  # newest sealed set; run once it is scored


def scenario_with_messages(scenario: dict[str, object], labelled: list[dict[str, str]]) -> dict[str, object]:
    by_category: dict[str, list[str]] = {}
    for line in labelled:
        by_category.setdefault(line["category"], []).append(line["message"])
    modes = []
    for mode in scenario["modes"]:  # type: ignore[attr-defined]
        messages = by_category.get(mode["category"])
        if not messages:
            raise SystemExit(f"no message of category {mode['category']} in the message file")
        modes.append({**mode, "messages": messages})
    return {**scenario, "name": f"{scenario['name']}_unseen_messages", "modes": modes}


def unseen_scenario(name: str, messages: Path) -> dict[str, object]:
    """Shipped scenario ``name`` with every mode's messages replaced by MESSAGES' lines of its category."""
    scenario = json.loads((shipped_scenarios_dir() / f"{name}.json").read_text(encoding="utf-8"))
    lines = messages.read_text(encoding="utf-8").splitlines()
    return scenario_with_messages(scenario, [json.loads(line) for line in lines if line.strip()])


def arguments(description: str, scenario: str) -> argparse.Namespace:
    """The options this benchmark and benchmarks/causes_from_facts.py share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scenario", default=scenario)
    parser.add_argument("--messages", type=Path, default=SEALED)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def automated_percent(scenario: Scenario, incidents: int, seed: int, perfect: bool) -> dict[str, float]:
    evaluation = evaluate(scenario, incidents, seed, perfect_diagnosis=perfect)
    percents: dict[str, float] = {}
    for policy in POLICIES:
        figures = evaluation.metrics(policy.removesuffix("_final"), final=policy.endswith("_final"))
        percents[policy] = 100 * float(figures["automated_resolution"])
    return percents


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "default")
    rows: dict[str, dict[str, list[float]]] = {p: {"classifier": [], "perfect": []} for p in POLICIES}
    unseen = parse_scenario(unseen_scenario(args.scenario, args.messages))
    for seed in args.seeds:
        for label, perfect in (("classifier", False), ("perfect", True)):
            for policy, percent in automated_percent(unseen, args.incidents, seed, perfect).items():
                rows[policy][label].append(percent)
    result = {
        "scenario": args.scenario,
        "messages": str(args.messages),
        "incidents": args.incidents,
        "seeds": args.seeds,
        "automated_resolution_percent": {
            policy: {
                "classifier": round(mean(values["classifier"]), 2),
                "perfect": round(mean(values["perfect"]), 2),
                "gap_points": round(mean(values["perfect"]) - mean(values["classifier"]), 2),
            }
            for policy, values in rows.items()
        },
        "target_gap_points": TARGET_POINTS,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.scenario} with the messages of {args.messages}")
    print(f"{args.incidents} incidents, seeds {args.seeds}")
    print(f"{'policy':15} {'classifier %':>13} {'perfect %':>10} {'gap':>6}")
    for policy, figures in result["automated_resolution_percent"].items():  # type: ignore[union-attr]
        gap = figures["gap_points"]
        print(f"{policy:15} {figures['classifier']:13.2f} {figures['perfect']:10.2f} {gap:6.2f}")
    learned_gap = result["automated_resolution_percent"]["learned"]["gap_points"]  # type: ignore[index]
    verdict = "met" if learned_gap <= TARGET_POINTS else "NOT met"
    print(f"learned within {TARGET_POINTS:g} points of perfect diagnosis: {verdict}")


if __name__ == "__main__":
    main()
