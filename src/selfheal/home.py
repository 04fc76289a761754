"""Where local state lives: ``$SELFHEAL_HOME`` (default ``.selfheal/`` in the working directory)."""

from __future__ import annotations

import os
from pathlib import Path


def selfheal_home() -> Path:
    """The local home, as an absolute path (the local engine hands it to functions and threads)."""
    return Path(os.environ.get("SELFHEAL_HOME", ".selfheal")).resolve()
