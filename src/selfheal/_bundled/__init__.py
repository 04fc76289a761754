"""The repository's own files that the local engine runs: the sample events and the simulated world
(events/), the state machine (statemachine/) and the seven Lambda handlers (functions/).

They are not copied into src/: setup.py maps the packages ``selfheal._bundled.events``, ``.statemachine``
and ``.functions`` onto those folders (setuptools ``package_dir``), so an editable install of the checkout
and a wheel installed anywhere both find them here, through importlib.resources.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(name: str) -> Path:
    folder = resources.files(f"{__name__}.{name}")
    # The handlers are imported from their file, and the events listed with glob: that needs real folders,
    # which every install but a zipped one has.
    if not isinstance(folder, Path):
        raise RuntimeError(f"selfheal must be installed as files, not zipped ({folder})")
    return folder


EVENTS = _folder("events")
SAMPLE_EVENTS = EVENTS / "glue"
WORLD = EVENTS / "local" / "world.json"
STATE_MACHINE = _folder("statemachine") / "incident.asl.json"


def handler_file(directory: str) -> Path:
    """``functions/<directory>/app.py``."""
    return _folder("functions") / directory / "app.py"
