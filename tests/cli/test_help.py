"""Every sub-command explains itself: a description and examples, readable at 80 columns."""

from __future__ import annotations

import pytest

from selfheal.cli import COMMAND_MODULES, main

COMMANDS = [module.rsplit(".", 1)[-1] for module in COMMAND_MODULES]


def test_every_registered_command_is_covered() -> None:
    assert set(COMMANDS) == {
        "demo",
        "replay",
        "classify",
        "evaluate",
        "train",
        "qtable",
        "incidents",
        "report",
        "autonomy",
        "cost",
        "storm",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_a_description_and_examples_that_fit_80_columns(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    # The description is the paragraph between the usage lines and the argument sections.
    description = out.split("\n\n")[1]
    assert not description.startswith(("usage:", "positional arguments:", "options:"))
    assert len(description.split()) >= 12, description
    examples = out.split("examples:\n", 1)[1]
    assert f"selfheal {command}" in examples
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert too_wide == []
