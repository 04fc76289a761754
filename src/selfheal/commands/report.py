"""``selfheal report shadow``: the evidence for promoting a category from shadow to approve or auto."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from selfheal.commands import help_options

EXAMPLES = """\
examples:
  # per category and proposed action: proposals, agreed, precision, advice
  selfheal report shadow
  # the same as one JSON object
  selfheal report shadow --json
  # a deployed stack's incidents
  selfheal report shadow --stack selfheal
"""

DESCRIPTION = """\
For every incident: the policy's proposal and, when known, what fixed it (a run that held after an
action, or a human's resolved answer naming the action); a rejected proposal, or one that ran and did
not hold, counts as wrong. Per category and action: proposals, how many agreed with the fix that
worked, precision among the incidents whose outcome is known with a 95% Wilson interval, and a
recommendation: auto when the interval's lower bound is at least 0.90 over at least 20 known
incidents, approve when the precision is at least 0.70 over at least 10, else shadow. Promote with
`selfheal autonomy set CATEGORY[/ACTION] LEVEL`.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="reports over the incident log: the shadow evidence for promotion",
        **help_options(DESCRIPTION, EXAMPLES),
    )
    kinds = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    shadow = kinds.add_parser("shadow", help="precision of the proposals per category and action")
    shadow.add_argument("--json", action="store_true", help="print exactly one JSON object")
    shadow.add_argument(
        "--stack", metavar="NAME", help="read the deployed stack NAME's incident log (DynamoDB)"
    )
    shadow.set_defaults(run=run_shadow)


def run_shadow(args: argparse.Namespace) -> int:
    from rich.console import Console

    from selfheal.commands.incidents import source_for
    from selfheal.readmodel.evidence import observations
    from selfheal.readmodel.precision import report_json, tally
    from selfheal.readmodel.report_view import shadow_table

    groups = tally(observations(source_for(args.stack).logs()))
    if args.json:
        sys.stdout.write(json.dumps(report_json(groups)) + "\n")
        return 0
    console = Console()
    if not groups:
        console.print("no proposals recorded yet: nothing to report", highlight=False)
        return 0
    console.print(shadow_table(groups), highlight=False)
    promotable = [
        (f"{name}/{action}", counts.recommendation)
        for name, group in groups.items()
        for action, counts in group.by_proposal.items()
        if counts.recommendation != "shadow"
    ]
    for target, level in promotable:
        console.print(f"selfheal autonomy set {target} {level}", highlight=False)
    return 0
