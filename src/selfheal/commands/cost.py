"""``selfheal cost``: what an incident costs at AWS list prices, before and after runs awaited by event."""

from __future__ import annotations

import argparse
import json
from typing import Any

from selfheal.commands import help_options
from selfheal.errors import UsageError

COST_EXAMPLES = """\
examples:
  selfheal cost                    # per-incident and per-month tables
  selfheal cost --json             # one JSON object
  selfheal cost --job-minutes 60   # the same paths with a one-hour Glue job
"""

DESCRIPTION = """\
Run each incident path (resolved after one retry, escalated after three attempts, escalated at once, a
duplicate event) through the real state machine and handlers on the local engine, count what it used
(state transitions, Lambda invocations and GB-seconds, DynamoDB request units, S3 PUTs, SNS publishes,
CloudWatch Logs calls) and price it with the list prices in selfheal/data/prices.json (us-east-1, with
their date and sources). "before" is the polling state machine this project shipped until runs were
awaited by event (kept in selfheal/data/baseline/, functions at 512 MB); "after" is the current one
(functions at 256 MB). Per month: the per-incident figure times 1,000 and 100,000 failures.
"""

MONTHLY_FAILURES = (1_000, 100_000)
# Issue 11's targets, per incident.
TARGETS = {"resolved_after_one_retry": 0.0005, "escalated_after_three_attempts": 0.0015}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="price each incident path at AWS list prices, before and after runs awaited by event",
        **help_options(DESCRIPTION, COST_EXAMPLES),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--job-minutes", type=float, default=18.0, help="how long each Glue run takes (default 18)"
    )
    parser.set_defaults(run=run)


def report(job_minutes: float) -> dict[str, Any]:
    from selfheal.costmodel import Prices, monthly, price
    from selfheal.local.usage import EVENT, FOREIGN_RUN_END, PATHS, POLLING, measure

    if not 0 <= job_minutes <= 120:
        raise UsageError(f"--job-minutes must be between 0 and 120, got {job_minutes:g}")
    prices = Prices.load()
    measured = {design.name: measure(design, job_minutes) for design in (POLLING, EVENT)}
    paths: dict[str, Any] = {}
    for path in PATHS:
        paths[path.name] = {"description": path.description}
        for label, design in (("before", POLLING), ("after", EVENT)):
            usage = measured[design.name][path.name]
            costs = price(usage, prices)
            paths[path.name][label] = {
                "memory_mb": design.memory_mb,
                "usage": usage.to_json(),
                "cost": {k: round(v, 8) for k, v in costs.items()},
            }
    foreign = measured[EVENT.name][FOREIGN_RUN_END]
    per_month = {
        str(n): {
            name: {
                "before": round(monthly(row["before"]["cost"]["total"], n), 4),
                "after": round(monthly(row["after"]["cost"]["total"], n), 4),
            }
            for name, row in paths.items()
        }
        for n in MONTHLY_FAILURES
    }
    targets = {
        name: {
            "target": target,
            "after": paths[name]["after"]["cost"]["total"],
            "met": paths[name]["after"]["cost"]["total"] <= target,
        }
        for name, target in TARGETS.items()
    }
    return {
        "prices": {"as_of": prices["as_of"], "region": prices["region"], "checked": prices["checked"]},
        "job_minutes": job_minutes,
        "paths": paths,
        "per_month": per_month,
        "other_glue_run_ended": {
            "usage": foreign.to_json(),
            "cost": round(price(foreign, prices)["total"], 10),
            "note": "paid once per Glue run of a job in GlueJobNamePattern that selfheal did not start",
        },
        "targets": targets,
    }


def run(args: argparse.Namespace) -> int:
    result = report(args.job_minutes)
    if args.json:
        print(json.dumps(result))
        return 0
    _print(result)
    return 0


def _dollars(value: float) -> str:
    if value >= 0.01:
        return f"${value:,.2f}"
    return f"${value:.6f}" if value >= 0.000001 else f"${value:.2e}"


def _print(result: dict[str, Any]) -> None:
    prices = result["prices"]
    print(
        f"list prices {prices['region']} as of {prices['as_of']}; "
        f"Glue runs of {result['job_minutes']:g} minutes"
    )
    print()
    header = f"{'path':<32}{'transitions':>12}{'invocations':>12}{'S3 PUTs':>9}{'per incident':>14}"
    for label in ("before", "after"):
        print(f"{label} ({'polling' if label == 'before' else 'awaited by event'}):")
        print(header)
        for name, row in result["paths"].items():
            usage = row[label]["usage"]
            puts = usage["calls"].get("s3:PutObject", 0)
            print(
                f"{name:<32}{usage['transitions']:>12}{usage['lambda_invocations']:>12}{puts:>9}"
                f"{_dollars(row[label]['cost']['total']):>14}"
            )
        print()
    print("per month (every failure on that path):")
    for failures, rows in result["per_month"].items():
        for name, row in rows.items():
            before, after = _dollars(row["before"]), _dollars(row["after"])
            print(f"  {int(failures):>7,} x {name:<32} before {before:>12}  after {after:>12}")
    foreign = result["other_glue_run_ended"]
    print()
    print(f"each other Glue run that ends (RunFinished looks and ignores it): {_dollars(foreign['cost'])}")
    for name, target in result["targets"].items():
        verdict = "met" if target["met"] else "MISSED"
        print(
            f"target {name}: <= ${target['target']} per incident, "
            f"after {_dollars(target['after'])}: {verdict}"
        )
