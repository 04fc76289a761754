"""``selfheal train --scenario FILE``: train the learned policy on a stream and save its Q-table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from selfheal.commands import help_options
from selfheal.commands.evaluate import add_stream_options, load
from selfheal.home import selfheal_home

TRAIN_EXAMPLES = """\
examples:
  selfheal train --scenario job_specific && selfheal qtable
  selfheal train --scenario default --incidents 5000 --out /tmp/q.json
  # also load it where the local replay's Propose reads it
  selfheal train --scenario default --install
  # also load it into a deployed stack's Q-table (stack output QTableName)
  selfheal train --scenario default --dynamodb-table selfheal-QTable-ABC123
"""


DESCRIPTION = """\
Train the learned policy (tabular Q-learning behind the safety gate) on a simulated failure stream and
save its Q-table as JSON; optionally load it into the local store or a deployed stack's DynamoDB Q-table
so that Propose starts from it.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the Q-learning policy on a simulated stream",
        **help_options(
            DESCRIPTION,
            TRAIN_EXAMPLES,
        ),
    )
    add_stream_options(parser)
    parser.add_argument("--out", type=Path, help="Q-table JSON (default: $SELFHEAL_HOME/qtable.json)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--install",
        action="store_true",
        help="also load it into the local Q-table that Propose reads ($SELFHEAL_HOME/selfheal.sqlite3)",
    )
    target.add_argument(
        "--dynamodb-table",
        metavar="NAME",
        help="also load it into a deployed stack's Q-table (output QTableName; uses your AWS credentials)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from selfheal.simulator.evaluation import evaluate
    from selfheal.simulator.policies import LearnedPolicy
    from selfheal.simulator.qtable_io import save_qtable

    scenario = load(args)
    seed = scenario.seed if args.seed is None else args.seed
    learned = LearnedPolicy(scenario, seed)
    evaluation = evaluate(scenario, args.incidents, seed, policies=[learned])
    path = save_qtable(args.out or selfheal_home() / "qtable.json", learned.table, learned.settings)
    whole, final = evaluation.metrics("learned"), evaluation.metrics("learned", final=True)
    overall, last = whole["automated_resolution"] * 100, final["automated_resolution"] * 100
    Console().print(
        f"Trained on {evaluation.incidents} incidents of {scenario.name} (seed {seed}): "
        f"{len(learned.table)} rows; automated resolution {overall:.2f}% overall, {last:.2f}% on the "
        f"last 20%; harmful actions {whole['harmful_actions']}.\nSaved {path}"
    )
    if args.install or args.dynamodb_table:
        from selfheal.simulator.qtable_io import install

        store: Any
        if args.install:
            from selfheal_core.adapters.sqlite_store import SqliteQTableStore

            store = SqliteQTableStore(selfheal_home() / "selfheal.sqlite3")
            where = str(selfheal_home() / "selfheal.sqlite3")
        else:
            from selfheal_core.adapters.dynamodb_store import DynamoDbQTableStore

            store = DynamoDbQTableStore(args.dynamodb_table)
            where = f"DynamoDB table {args.dynamodb_table}"
        count = install(learned.table, store, learned.settings)
        Console().print(f"Loaded {count} rows into {where}; Propose reads them from its next incident.")
    return 0
