"""What the ``cause_from_facts`` lead is worth, and what it costs when the facts mislead (issue 8).

    .venv/bin/python benchmarks/causes_from_facts.py [--scenario approvals] [--messages FILE]
                                                     [--incidents 1000] [--seeds 0 1 2] [--json]

When the log names no cause, Diagnose takes the category from trusted facts (a breaking catalog change
since the last success, a Data Quality result with bad rows) and the gate never lets that lead act alone
(rule ``cause_from_facts``). With the settings parameter's ``approve_causes_from_facts``, it is put to a
human for approval instead. This runs the scenario, with every mode's messages replaced by real unseen
ones (MESSAGES, as benchmarks/unseen_messages.py does), with that setting off and on, on two worlds:

- ``as written``: the scenario as shipped, where drift and bad records come only with the failures they
  cause;
- ``misleading facts``: the same, but every human-only mode (permission, code_error, unknown) also carries
  a breaking catalog change and bad rows, and a rollback or a quarantine on it is harmful. The simulator's
  approver approves blindly (``approve_probability``), so this prices a lead that is wrong.

Prints, per world and setting, the gated policies' automated and assisted resolution, harmful actions and
mean time to resolve, averaged over the seeds.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from statistics import mean
from typing import Any

from selfheal.simulator.engine import InProcessEngine, safety_settings
from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.scenario import Scenario, parse_scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unseen_messages import arguments, unseen_scenario

POLICIES = ("rules", "learned")
HUMAN_ONLY = frozenset({"permission", "code_error", "unknown"})
FIGURES = ("automated_resolution", "assisted_resolution", "harmful_actions", "mttr_minutes")


def misleading(scenario: dict[str, Any]) -> dict[str, Any]:
    modes = []
    for mode in scenario["modes"]:
        if mode["category"] in HUMAN_ONLY:
            harm = sorted({*mode.get("harm", []), "rollback", "quarantine"})
            mode = {**mode, "drift": "column_renamed", "bad_record_fraction": 0.03, "harm": harm}
        modes.append(mode)
    return {**scenario, "name": f"{scenario['name']}_misleading_facts", "modes": modes}


def figures(scenario: Scenario, incidents: int, seed: int, allowed: bool) -> dict[str, dict[str, float]]:
    settings = replace(safety_settings(scenario), approve_causes_from_facts=allowed)
    engine = InProcessEngine(scenario, settings)
    evaluation = evaluate(scenario, incidents, seed, engine=engine, compare_approvals=False)
    return {p: {f: float(evaluation.metrics(p)[f]) for f in FIGURES} for p in POLICIES}


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "approvals")
    unseen = unseen_scenario(args.scenario, args.messages)
    worlds = {"as written": unseen, "misleading facts": misleading(unseen)}
    result: dict[str, Any] = {"scenario": args.scenario, "incidents": args.incidents, "seeds": args.seeds}
    for world, raw in worlds.items():
        scenario = parse_scenario(raw)
        for allowed in (False, True):
            runs = [figures(scenario, args.incidents, seed, allowed) for seed in args.seeds]
            key = f"{world}, approve_causes_from_facts={str(allowed).lower()}"
            result[key] = {
                p: {f: round(mean(run[p][f] for run in runs), 4) for f in FIGURES} for p in POLICIES
            }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.scenario} with the messages of {args.messages}")
    print(f"{args.incidents} incidents, seeds {args.seeds}")
    header = f"{'auto %':>7} {'assisted %':>10} {'harmful':>8} {'MTTR min':>9}"
    print(f"{'world, setting':52} {'policy':8} {header}")
    for key, by_policy in result.items():
        if not isinstance(by_policy, dict):
            continue
        for policy, f in by_policy.items():
            print(
                f"{key:52} {policy:8} {100 * f['automated_resolution']:7.1f} "
                f"{100 * f['assisted_resolution']:10.1f} {f['harmful_actions']:8.1f} {f['mttr_minutes']:9.0f}"
            )


if __name__ == "__main__":
    main()
