"""What a log holds is shown as text: markup and control characters in a job name are escaped in the
list and the timeline, never obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.events import Gated, Opened, Proposed
from selfheal_core.vocabulary import Action

from selfheal.cli import main

HOSTILE = "[link=https://evil.example]etl[/link]\x1b[31m\u202e"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    store = SqliteEventStore(tmp_path / "selfheal.sqlite3")
    store.open("inc-hostile", Opened(HOSTILE, "jr_[bold]1[/bold]", None))
    store.append("inc-hostile", Proposed(1, Action.RETRY), 1)
    store.append("inc-hostile", Gated(1, Action.RETRY, Action.RETRY), 2)
    store.close()
    return tmp_path


def test_the_list_escapes_the_job_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b" in out and "[link=" in out.replace("\n", "").replace(" ", "")
    assert all(len(line) <= 80 for line in out.splitlines())


def test_the_timeline_escapes_it_too(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "show", "inc-hostile"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[bold]1[/bold]" in out.replace("\n", "")
    assert "open" in out


def test_the_json_keeps_the_name_as_it_is(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["job_name"] == HOSTILE and row["status"] == "open" and row["final_action"] is None
