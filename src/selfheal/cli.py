"""The ``selfheal`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

from selfheal.errors import UsageError

__all__ = ["UsageError", "build_parser", "main"]

# Each module exposes register(subparsers) and sets a ``run(args) -> int`` default on its parser.
COMMAND_MODULES: tuple[str, ...] = (
    "selfheal.commands.demo",
    "selfheal.commands.replay",
    "selfheal.commands.classify",
    "selfheal.commands.evaluate",
    "selfheal.commands.train",
    "selfheal.commands.qtable",
    "selfheal.commands.incidents",
    "selfheal.commands.report",
    "selfheal.commands.autonomy",
    "selfheal.commands.cost",
    "selfheal.commands.storm",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfheal",
        description="Diagnose, remediate or escalate failed AWS Glue jobs, locally or in AWS.",
    )
    parser.add_argument("--version", action="version", version=f"selfheal {version('selfheal')}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as error:
        from selfheal.untrusted import one_line  # the message may quote the input: one inert line

        print(f"selfheal {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
