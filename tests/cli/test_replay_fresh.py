"""``selfheal replay`` says when an event is a duplicate of an earlier replay, and ``--fresh`` starts over."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.commands.replay import duplicate_notices, move_local_state_aside

EVENT = str(Path(__file__).resolve().parents[2] / "events" / "glue" / "permission.json")


def _args(outcome: str | None = None, human: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(outcome=outcome, human=human)


def test_a_new_incident_needs_no_notice(tmp_path: Path) -> None:
    assert duplicate_notices({"outcome": "escalated", "incident_id": "inc-1"}, tmp_path, _args()) == []


def test_a_duplicate_names_the_home_the_incident_and_the_way_out(tmp_path: Path) -> None:
    (notice,) = duplicate_notices({"outcome": "duplicate", "incident_id": "inc-1"}, tmp_path, _args())
    assert str(tmp_path) in notice and "inc-1" in notice
    assert "--fresh" in notice and "SELFHEAL_HOME" in notice
    assert "\n" not in notice


def test_flags_a_duplicate_cannot_honour_are_reported_as_ignored(tmp_path: Path) -> None:
    notices = duplicate_notices(
        {"outcome": "duplicate", "incident_id": "inc-1"}, tmp_path, _args("failure", "timeout")
    )
    assert len(notices) == 2
    assert "--outcome failure" in notices[1] and "--human timeout" in notices[1]
    assert "ignored" in notices[1]


def test_fresh_moves_only_replays_state_aside(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "audit" / "incidents").mkdir(parents=True)
    (home / "selfheal.sqlite3").write_text("db")
    (home / "qtable.json").write_text("{}")  # train's output, not replay's: it stays
    (home / "reports").mkdir()

    moved = move_local_state_aside(home, now=0)

    assert moved == home / "previous" / "19700101T000000Z"
    assert (moved / "selfheal.sqlite3").read_text() == "db"
    assert (moved / "audit" / "incidents").is_dir()
    assert not (home / "selfheal.sqlite3").exists() and not (home / "audit").exists()
    assert (home / "qtable.json").exists() and (home / "reports").is_dir()
    (home / "selfheal.sqlite3").write_text("db2")
    assert move_local_state_aside(home, now=0) == home / "previous" / "19700101T000000Z-2"


def test_fresh_on_an_empty_home_moves_nothing(tmp_path: Path) -> None:
    assert move_local_state_aside(tmp_path / "nothing-here") is None


@pytest.mark.slow
def test_replaying_twice_explains_the_duplicate_and_fresh_replays_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    assert main(["replay", EVENT, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)

    assert main(["replay", EVENT, "--json", "--human", "timeout"]) == 0
    captured = capsys.readouterr()
    second = json.loads(captured.out)  # stdout is still exactly the documented object
    assert second["outcome"] == "duplicate"
    assert f"as incident {first['incident_id']}" in captured.err
    assert "--human timeout ignored" in captured.err

    assert main(["replay", EVENT, "--json", "--fresh"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["outcome"] == first["outcome"]
    assert "previous local state" in captured.err
