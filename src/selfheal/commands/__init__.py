"""One module per CLI sub-command; each exposes ``register(subparsers)``."""

from __future__ import annotations

import argparse
import shutil
import textwrap
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
