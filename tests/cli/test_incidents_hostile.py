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


def test_an_overdue_wait_is_flagged_whole_at_80_columns(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    database = sqlite3.connect(home / "selfheal.sqlite3")
    request = {
        "question": "approval",
        "proposed": "retry",
        "reasons": ["autonomy:approve"],
        "task_token": "t",
        "expires_at": "2020-01-01T00:00:00.000Z",
    }
    database.execute(
        "INSERT INTO incident_events (incident_id, seq, type, at, data, v) VALUES (?, 3, ?, ?, ?, 2)",
        ("inc-hostile", "answer_requested", "2020-01-01T00:00:00.000Z", json.dumps(request)),
    )
    database.commit()
    database.close()
    assert main(["incidents", "list"]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "OVERDUE" in out and "approval" in out and "1 open incident(s) past their deadline" in out
    assert main(["incidents", "list", "--open", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "waiting" and row["overdue"] is True
