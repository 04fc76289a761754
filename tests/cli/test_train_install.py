"""A table trained by ``selfheal train --install`` is the one the local Propose Lambda reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore, SqliteQTableStore
from selfheal_core.domain.events import Proposed

from selfheal.cli import main
from selfheal.local.replay import PROJECT_EVENTS

pytestmark = pytest.mark.slow


def test_propose_reads_the_installed_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SELFHEAL_HOME", str(home))
    assert main(["train", "--scenario", "default", "--incidents", "300", "--install"]) == 0
    rows = SqliteQTableStore(home / "selfheal.sqlite3").all_rows()
    assert rows and json.loads((home / "qtable.json").read_text())["rows"].keys() == rows.keys()
    capsys.readouterr()

    assert main(["replay", str(PROJECT_EVENTS / "glue" / "transient_network.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    proposed = next(
        e.event
        for e in SqliteEventStore(home / "selfheal.sqlite3").load(summary["incident_id"])
        if isinstance(e.event, Proposed)
    )
    trained = rows.get(proposed.state)
    assert trained is not None, "the sample's state was trained"
    assert proposed.q_values["retry"] == pytest.approx(float(trained.to_dict()["values"]["retry"]), abs=1e-3)
