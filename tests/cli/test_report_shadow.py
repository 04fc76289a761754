"""``selfheal report shadow`` on a hand-built local log: the recommendation, and the promotion command it
prints for what the evidence allows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selfheal_core.adapters.sqlite_store import SqliteEventStore
from selfheal_core.domain.diagnosis import Diagnosis
from selfheal_core.domain.events import Diagnosed, Executed, Gated, Opened, Proposed, Validated
from selfheal_core.vocabulary import Action

from selfheal.cli import main


def _incident(store: SqliteEventStore, number: int, category: str, proposed: Action, held: bool) -> None:
    incident_id = f"inc-{category}-{number}"
    store.open(incident_id, Opened("etl", f"jr_{category}_{number}"))
    events = [
        Diagnosed(Diagnosis.from_dict({"job_name": "etl", "category": category})),
        Proposed(1, proposed),
        Gated(1, proposed, proposed),
        Executed(1, proposed, job_run_id=f"jr_{number}b", awaiting_run=True),
        Validated(1, f"jr_{number}b", "SUCCEEDED" if held else "FAILED", final=True, fixed=held),
    ]
    for seq, event in enumerate(events, start=1):
        store.append(incident_id, event, seq)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    store = SqliteEventStore(tmp_path / "selfheal.sqlite3")
    for number in range(12):  # 11 of 12 retries held: precision 0.92, too few for auto
        _incident(store, number, "throttling", Action.RETRY, held=number != 0)
    for number in range(3):
        _incident(store, number, "schema_drift", Action.ROLLBACK, held=True)
    store.close()
    return tmp_path


def test_the_json_counts_and_recommends(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "shadow", "--json"]) == 0
    categories = json.loads(capsys.readouterr().out)["categories"]
    throttling = categories["throttling"]
    assert (throttling["proposals"], throttling["agreed"]) == (12, 11)
    assert throttling["precision"] == pytest.approx(11 / 12, abs=1e-4)
    assert throttling["recommendation"] == "approve"  # 12 known: enough to ask, not to act alone
    assert categories["schema_drift"]["recommendation"] == "shadow"  # 3 known: too few


def test_the_text_prints_the_promotions_the_evidence_allows(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "shadow"]) == 0
    out = capsys.readouterr().out
    assert "selfheal autonomy set throttling/retry approve" in out
    assert "schema_drift/rollback" not in out
    assert all(len(line) <= 80 for line in out.splitlines())
