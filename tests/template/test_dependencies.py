"""One dependency list per deployable (the CLI's, the layer's), and what the installed CLI reads.

The CLI's list is pyproject's [project] dependencies; the layer's (shared/requirements.txt) is written from it
by scripts/sync_layer_requirements.py; what the deployed code imports must come from the layer alone.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from script_loader import load_script

from selfheal import _bundled

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = (ROOT / "shared", ROOT / "functions")
# Distributions of the local engine and its output, and what they are imported as: never deployed.
LOCAL_ONLY = {"moto": "moto", "matplotlib": "matplotlib", "rich": "rich", "jinja2": "jinja2"}
LOCAL_ONLY_DISTRIBUTIONS = {*LOCAL_ONLY, "jsonata-python"}


sync = load_script("scripts/sync_layer_requirements.py")


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _imports(folder: Path) -> dict[str, set[Path]]:
    """Top-level names imported (absolutely) by the Python files under ``folder``, with where."""
    found: dict[str, set[Path]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(path.relative_to(ROOT))
    return found


def test_the_layer_requirements_are_generated_from_pyproject() -> None:
    expected = sync.render(sync.layer_requirements())
    actual = (ROOT / "shared/requirements.txt").read_text()
    assert actual == expected, (
        "shared/requirements.txt is out of date: run scripts/sync_layer_requirements.py"
    )


def test_the_layer_pins_every_requirement_exactly() -> None:
    # The layer is built on every deployment: it must get the same versions every time.
    for requirement in sync.layer_requirements():
        assert "==" in requirement, requirement


def test_the_layer_has_nothing_only_the_local_engine_needs() -> None:
    layer = {sync.name_of(r) for r in sync.layer_requirements()}
    assert layer.isdisjoint(LOCAL_ONLY_DISTRIBUTIONS)


def test_the_cli_depends_on_the_local_engine_and_the_runtime(pyproject: dict[str, Any]) -> None:
    """`pip install .` is a working CLI: the runtime (its engine runs the handlers) and the local packages."""
    names = {sync.name_of(r) for r in pyproject["project"]["dependencies"]}
    assert names >= LOCAL_ONLY_DISTRIBUTIONS
    assert {sync.name_of(r) for r in sync.layer_requirements()} <= names


@pytest.mark.parametrize("folder", DEPLOYED, ids=lambda p: p.name)
def test_deployed_code_never_imports_the_local_engine_or_the_cli(folder: Path) -> None:
    imports = _imports(folder)
    for name in (*LOCAL_ONLY.values(), "jsonata", "selfheal"):
        assert name not in imports, f"{name} is imported by {sorted(map(str, imports[name]))}"


def test_deployed_code_imports_only_what_the_layer_installs() -> None:
    """Every third-party import under shared/ and functions/ comes from a layer requirement (or from what one
    of them requires, such as boto3's botocore): nothing the layer lacks works on Lambda by chance."""
    layer = {sync.name_of(r) for r in sync.layer_requirements()}
    provided = set(layer)
    for distribution in layer:
        provided |= {sync.name_of(r) for r in metadata.requires(distribution) or []}
    distributions = metadata.packages_distributions()
    imported: dict[str, set[Path]] = {}
    for folder in DEPLOYED:
        for name, paths in _imports(folder).items():
            imported.setdefault(name, set()).update(paths)
    for name, paths in sorted(imported.items()):
        if name in sys.stdlib_module_names or name == "selfheal_core":
            continue
        owners = {sync.name_of(d) for d in distributions.get(name, [])}
        assert owners & provided, f"{name} (imported by {sorted(map(str, paths))}) is not in the layer"


def test_the_bundled_files_are_the_repository_folders() -> None:
    """In a checkout (editable install) the CLI runs the repository's own files, not copies."""
    assert _bundled.EVENTS == ROOT / "events"
    assert _bundled.STATE_MACHINE == ROOT / "statemachine/incident.asl.json"
    assert _bundled.handler_file("diagnose") == ROOT / "functions/diagnose/app.py"
    assert _bundled.WORLD.is_file()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from selfheal.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"selfheal {metadata.version('selfheal')}\n"
