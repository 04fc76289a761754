"""One module per CLI sub-command; each exposes ``register(subparsers)``."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Callable
from typing import Any

# Help paragraphs wrap to the terminal, but never wider than this (long lines are hard to read).
MAX_HELP_WIDTH = 100


def help_options(description: str, examples: str) -> dict[str, Any]:
    """``add_parser`` keywords for a sub-command: its description and an ``examples:`` epilog.

    RawDescriptionHelpFormatter keeps the examples' layout (one command per line, aligned comments); it
    also stops argparse from wrapping the description, so the description is wrapped here instead.
    """
    width = min(shutil.get_terminal_size().columns, MAX_HELP_WIDTH) - 2
    return {
        "description": textwrap.fill(" ".join(description.split()), width=width),
        "epilog": examples,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number in [low, high]: a value outside is a usage error (exit 2)
    naming the flag, never a traceback or a run that cannot end."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be {high:,} or less, got {value}")
        return value

    return parse
