"""``selfheal storm``: a failure storm through the local engine, with storm control's figures."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from selfheal.commands import help_options, whole_number
from selfheal.errors import UsageError

STORM_EXAMPLES = """\
examples:
  selfheal storm                              # 500 incidents, 100 jobs, 30 min
  selfheal storm --incidents 40 --jobs 8 --json         # one JSON object
  selfheal storm --down-minutes 240 --json    # down longer than a probe tries
  selfheal storm --no-storm-control --json    # every incident on its own
"""

DESCRIPTION = """\
Replay N failure events across J jobs within one simulated minute through the real state machine and
handlers on the local engine, every execution at once (one thread each) on one simulated clock, with the
shared source the jobs read down until --down-minutes. Glue runs, notifications, Q-update records and
throttled calls are counted from the calls made. --json prints exactly one object: incidents, groups,
notifications, glue_runs_started, wasted_runs, duplicate_remediations, lost_q_updates, throttled_calls,
wall_seconds (and a few details). See docs/storms.md.
"""

KEYS = (
    "incidents",
    "groups",
    "notifications",
    "glue_runs_started",
    "wasted_runs",
    "duplicate_remediations",
    "lost_q_updates",
    "throttled_calls",
    "wall_seconds",
)


MAX_STORM_INCIDENTS = 5000
MAX_STORM_JOBS = 5000


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes, got {text!r}") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"expected 0 to 600 minutes, got {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storm",
        help="replay a failure storm locally and count what storm control let happen",
        **help_options(DESCRIPTION, STORM_EXAMPLES),
    )
    parser.add_argument("--incidents", type=whole_number(1), default=500, help="failure events (default 500)")
    parser.add_argument(
        "--jobs", type=whole_number(1), default=100, help="jobs they are spread over (default 100)"
    )
    parser.add_argument(
        "--down-minutes",
        type=_minutes,
        default=30.0,
        help="simulated minutes the shared source stays down (default 30)",
    )
    parser.add_argument(
        "--no-storm-control", action="store_true", help="turn storm control off (the before figure)"
    )
    parser.add_argument("--no-quotas", action="store_true", help="do not emulate the API quotas")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from selfheal.local.storm import Source, StormScenario, run_storm

    if args.incidents > MAX_STORM_INCIDENTS:
        raise UsageError(f"at most {MAX_STORM_INCIDENTS} incidents: each is one execution thread")
    if args.jobs > MAX_STORM_JOBS:
        raise UsageError(f"at most {MAX_STORM_JOBS} jobs: each is created in the local Glue")
    source = Source(
        "s3://shared-lake/orders",
        "AnalysisException: Path does not exist: s3://shared-lake/orders/dt=2026-11-26",
        args.down_minutes,
    )
    scenario = StormScenario(
        incidents=args.incidents,
        jobs=args.jobs,
        sources=(source,),
        storm_control=not args.no_storm_control,
        quotas=not args.no_quotas,
    )
    # Hundreds of handler threads write logs (and Powertools metric blobs) while they run; stdout carries
    # only the figures.
    with contextlib.redirect_stdout(sys.stderr):
        figures = run_storm(scenario)
    if args.json:
        print(json.dumps(figures, sort_keys=False))
        return 0
    rows = {**{k: v for k, v in figures.items() if k != "details"}, **figures["details"]}
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"{key.ljust(width)}  {value}")
    return 0
