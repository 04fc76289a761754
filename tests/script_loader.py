"""Load a file of the repository that is not in a package (a Lambda's app.py, a benchmark, a script) as a
module, to test its functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_module(name: str, path: Path) -> ModuleType:
    """``path`` as module ``name``, loaded once. Registered in ``sys.modules``: a dataclass in the module
    resolves its annotations through it, and a script that imports a sibling by name gets this one."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_script(relative: str) -> ModuleType:
    """A script by its path from the repository root, as the module named after its file."""
    return load_module(Path(relative).stem, ROOT / relative)
