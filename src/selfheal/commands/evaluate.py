"""``selfheal evaluate --scenario FILE``: replay a stream of simulated failures against every policy."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from selfheal.commands import help_options, whole_number
from selfheal.errors import UsageError
from selfheal.home import selfheal_home
from selfheal.simulator.scenario import MAX_INCIDENTS

ENGINES = ("inprocess", "stepfunctions")
DIAGNOSES = ("classifier", "perfect")


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        required=True,
        help="scenario file, or the name of a shipped one "
        "(default, job_specific, changing_remedy, traps, approvals)",
    )
    parser.add_argument(
        "--incidents", type=whole_number(1, MAX_INCIDENTS), help="length of the stream (default: the file's)"
    )
    parser.add_argument("--seed", type=int, help="seed (default: the file's)")


EVALUATE_EXAMPLES = """\
examples:
  # tables, and $SELFHEAL_HOME/reports/default/index.html
  selfheal evaluate --scenario default
  selfheal evaluate --scenario traps --incidents 500 --seed 3
  # approve-then-execute against escalate-and-fix-by-hand on the same stream
  selfheal evaluate --scenario approvals --incidents 500
  # exactly the spec's JSON object on stdout
  selfheal evaluate --scenario my_jobs.json --json
  # rules and learned through the real state machine (slower)
  selfheal evaluate --scenario default --engine stepfunctions --incidents 50
"""


DESCRIPTION = """\
Replay one stream of simulated Glue failures against every policy (manual, Glue retries, backed-off
retries, the rulebook, the learned policy, the oracle) on the same incidents, and print their automated
resolution, safety and time-to-resolve figures, with charts and an HTML report.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare remediation policies on a simulated failure stream",
        **help_options(
            DESCRIPTION,
            EVALUATE_EXAMPLES,
        ),
    )
    add_stream_options(parser)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object (the spec's)")
    parser.add_argument(
        "--out", type=Path, help="report directory (default: $SELFHEAL_HOME/reports/<scenario>)"
    )
    parser.add_argument("--engine", choices=ENGINES, default="inprocess", help="how incidents are run")
    parser.add_argument(
        "--diagnosis",
        choices=DIAGNOSES,
        default="classifier",
        help="'perfect' replaces the classifier by each incident's true category, to price misdiagnosis",
    )
    parser.set_defaults(run=run)


def load(args: argparse.Namespace) -> Any:
    """The validated scenario, or a one-line UsageError (naming the shipped scenarios if none matched)."""
    from selfheal.simulator.scenario import ScenarioError, load_scenario, resolve_scenario_path

    path = resolve_scenario_path(args.scenario)
    if not path.exists():
        raise UsageError(
            f"no scenario {args.scenario!r}: not a file, and the shipped scenarios are "
            f"{', '.join(shipped_scenario_names())}"
        )
    try:
        return load_scenario(path)
    except ScenarioError as error:
        raise UsageError(str(error)) from None


def shipped_scenario_names() -> list[str]:
    from selfheal.simulator.scenario import shipped_scenarios_dir

    return sorted(path.stem for path in shipped_scenarios_dir().glob("*.json"))


def make_engine(name: str, scenario: Any, seed: int = 0) -> Any:
    """``inprocess``; or ``stepfunctions``: ``rules`` and ``learned`` through the real state machine and
    handlers on the local engine, the other policies (not state-machine policies) in-process."""
    from selfheal.simulator.engine import InProcessEngine

    if name == "stepfunctions":
        from selfheal.simulator.sfn_engine import StepFunctionsEngine

        return StepFunctionsEngine(scenario, seed=seed)
    return InProcessEngine(scenario)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from selfheal.simulator.evaluation import evaluate

    scenario = load(args)
    engine = make_engine(args.engine, scenario, scenario.seed if args.seed is None else args.seed)
    err = Console(stderr=True)
    with contextlib.ExitStack() as stack:
        if hasattr(engine, "close"):
            stack.callback(engine.close)
        evaluation = _evaluate(args, scenario, engine, err, evaluate)

    if args.json:
        sys.stdout.write(json.dumps(evaluation.spec_json()) + "\n")
        return 0

    out = Console()
    ran_on: dict[str, str] = getattr(engine, "ran_on", {})
    if ran_on:
        where: dict[str, list[str]] = {}
        for policy, engine_name in ran_on.items():
            where.setdefault(engine_name, []).append(policy)
        out.print(
            "Engines: "
            + "; ".join(f"{name}: {', '.join(policies)}" for name, policies in where.items())
            + " (only rules and learned are state-machine policies; the others ran in-process)"
        )
    return _print_report(args, scenario, evaluation, out)


def _evaluate(args: argparse.Namespace, scenario: Any, engine: Any, err: Any, evaluate: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(policy: str, done: int, total: int) -> None:
            if policy not in tasks:
                tasks[policy] = progress.add_task(policy, total=total)
            progress.update(tasks[policy], completed=done)

        evaluation = evaluate(
            scenario,
            args.incidents,
            args.seed,
            engine=engine,
            with_gated_oracle=not args.json,
            progress=report,
            perfect_diagnosis=args.diagnosis == "perfect",
        )
    return evaluation


def _print_report(args: argparse.Namespace, scenario: Any, evaluation: Any, out: Any) -> int:
    from selfheal.simulator.presentation import approval_table, metric_tables
    from selfheal.simulator.report import write_report

    for table in metric_tables(evaluation, out.width):
        out.print(table)
    out.print(
        "*_final: the last 20% of the stream. oracle_gated: the oracle restricted to what the safety "
        "gate allows.",
        highlight=False,
    )
    approvals = approval_table(evaluation)
    if approvals is not None:
        out.print(approvals)
        out.print(
            "Each gated policy ran twice on the same stream: with approvals (a held action waits for a "
            "human's answer, then runs) and without (it goes to a human who fixes it by hand). "
            "no hand fix = automated + assisted; MTTR includes the wait for answers.",
            highlight=False,
        )
    forbidden, total = evaluation.gate_forbidden("oracle")
    oracle, gated = evaluation.metrics("oracle"), evaluation.metrics("oracle_gated")
    out.print(
        f"The oracle's fix was one the safety gate forbids in {forbidden} of {total} incidents; "
        f"restricted to the gate it resolves {gated['automated_resolution'] * 100:.1f}% automatically "
        f"instead of {oracle['automated_resolution'] * 100:.1f}%."
    )
    directory = args.out or selfheal_home() / "reports" / scenario.name
    index = write_report(evaluation, Path(directory))
    out.print(f"Report: {index}")
    return 0
