"""Incidents per second through the real state machine on the local engine (issue 11: >= 10/s).

    .venv/bin/python benchmarks/bench_sfn_engine.py [--scenario default] [--incidents 200] [--policy rules]

Generates the scenario's incident stream, runs it through ``StepFunctionsEngine`` (the project's ASL and
handlers on moto's Step Functions interpreter, one engine for the whole stream, as ``selfheal evaluate
--engine stepfunctions`` does) and prints the wall time and incidents per second, after a short warm-up
stream (imports and the first parse of the ASL) that is not counted. The machine's load average is
printed with it: on a shared machine the figure is only comparable at the same load.

Where the time goes, per incident (not a profile, so not slowed by one): the wall time of each Lambda
handler (``LocalEngine.invocations``; it includes the AWS calls the handler makes) and the number of AWS
calls the executions made through boto3 (the fault controller's call log).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

from selfheal.simulator.policies import LearnedPolicy, RulesPolicy
from selfheal.simulator.scenario import load_scenario, shipped_scenarios_dir
from selfheal.simulator.sfn_engine import StepFunctionsEngine
from selfheal.simulator.world import CachedClassifier, default_classifier, generate_incidents

TARGET = 10.0
WARM_UP = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--policy", choices=["rules", "learned"], default="rules")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scenario = load_scenario(shipped_scenarios_dir() / f"{args.scenario}.json")
    classifier = CachedClassifier(default_classifier())
    stream = generate_incidents(scenario, args.incidents + WARM_UP, args.seed, classifier)
    policy = (RulesPolicy if args.policy == "rules" else LearnedPolicy)(scenario, args.seed)
    handler_seconds: Counter[str] = Counter()
    aws_calls = 0
    with StepFunctionsEngine(scenario, seed=args.seed) as engine:
        for incident in stream[:WARM_UP]:
            engine.run_incident(incident, policy)
        local = engine.local_engine
        assert local is not None
        invoked_before = len(local.invocations)
        started = time.perf_counter()
        for incident in stream[WARM_UP:]:
            engine.run_incident(incident, policy)
            aws_calls += sum(local.last_calls.calls.values())
        seconds = time.perf_counter() - started
        for invocation in local.invocations[invoked_before:]:
            handler_seconds[invocation.function] += invocation.seconds
        anomalies = len(engine.anomalies)
    rate = args.incidents / seconds
    per_incident_ms = {
        name: round(1000 * spent / args.incidents, 1) for name, spent in handler_seconds.most_common()
    }
    result = {
        "scenario": args.scenario,
        "policy": args.policy,
        "incidents": args.incidents,
        "seconds": round(seconds, 2),
        "incidents_per_second": round(rate, 2),
        "target": TARGET,
        "met": rate >= TARGET,
        "anomalies": anomalies,
        "load_average_1min": round(os.getloadavg()[0], 1),
        "ms_per_incident": round(1000 * seconds / args.incidents, 1),
        "handler_ms_per_incident": per_incident_ms,
        "aws_calls_per_incident": round(aws_calls / args.incidents, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.incidents} incidents ({args.scenario}, {args.policy}) in {seconds:.1f} s: "
        f"{rate:.2f} incidents/s (target >= {TARGET:g}: {'met' if result['met'] else 'MISSED'}); "
        f"{anomalies} anomalies; load average {result['load_average_1min']}"
    )
    handlers = ", ".join(f"{name} {ms:g}" for name, ms in per_incident_ms.items())
    print(
        f"per incident: {result['ms_per_incident']:g} ms, of which handlers "
        f"{sum(per_incident_ms.values()):.0f} ms ({handlers}); "
        f"{result['aws_calls_per_incident']:g} AWS calls through boto3"
    )


if __name__ == "__main__":
    main()
