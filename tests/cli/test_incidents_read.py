"""``selfheal incidents list|show`` and ``selfheal report shadow`` on incidents that ``selfheal replay``
ran through the local state machine: the JSON contracts, the timeline, and the page with the graph."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.local.replay import PROJECT_EVENTS
from selfheal.readmodel.sources import bundled_definition

LIST_KEYS = {
    "incident_id",
    "job_name",
    "job_run_id",
    "category",
    "status",
    "opened_at",
    "final_action",
    "outcome",
    "assisted",
    "deadline",
    "overdue",
}
SAMPLES = ("schema_drift", "permission", "throttling")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SELFHEAL_HOME", str(folder))
        for name in SAMPLES:
            assert main(["replay", str(PROJECT_EVENTS / "glue" / f"{name}.json"), "--json"]) == 0
        yield folder


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def replayed(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    monkeypatch.setenv("SELFHEAL_HOME", str(home))
    summaries = {}
    for name in SAMPLES:
        detail = json.loads((PROJECT_EVENTS / "glue" / f"{name}.json").read_text())["detail"]
        summaries[detail["jobName"]] = detail
    return summaries


def test_list_json_is_one_array_with_the_contract_keys(
    replayed: dict[str, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, ["incidents", "list", "--json"])
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        assert set(row) >= LIST_KEYS
        assert row["job_run_id"] == replayed[row["job_name"]]["jobRunId"]
        assert row["status"] == "closed" and row["overdue"] is False and row["assisted"] is False
    by_category = {r["category"]: r for r in rows}
    assert by_category["schema_drift"]["outcome"] == "resolved"
    assert by_category["schema_drift"]["final_action"] == "rollback"
    assert by_category["permission"]["outcome"] == "escalated"
    assert by_category["permission"]["final_action"] == "escalate"
    assert [r["opened_at"] for r in rows] == sorted((r["opened_at"] for r in rows), reverse=True)


def test_list_filters(replayed: dict[str, dict], capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, ["incidents", "list", "--open", "--json"]) == []
    (row,) = _json(capsys, ["incidents", "list", "--job", "finance-*", "--json"])  # type: ignore[misc]
    assert row["category"] == "permission"
    assert len(_json(capsys, ["incidents", "list", "--since", "1h", "--json"])) == 3  # type: ignore[arg-type]
    assert _json(capsys, ["incidents", "list", "--since", "2999-01-01", "--json"]) == []


def test_a_bad_since_is_one_line_and_exit_2(replayed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "list", "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since 'last tuesday'" in err and len(err.strip().splitlines()) == 1


def test_show_json_has_the_row_and_the_events(replayed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, ["incidents", "list", "--json"])
    drift = next(r for r in rows if r["category"] == "schema_drift")  # type: ignore[union-attr]
    shown = _json(capsys, ["incidents", "show", drift["incident_id"], "--json"])
    assert isinstance(shown, dict)
    assert {k: shown[k] for k in LIST_KEYS} == {k: drift[k] for k in LIST_KEYS}
    types = [e["type"] for e in shown["events"]]
    assert types[0] == "opened" and types[-1] == "learned" and "validated" in types
    assert all({"type", "at", "seq", "step"} <= set(e) for e in shown["events"])
    # The execution's own history is kept locally: the path is every state it entered.
    assert shown["path_source"] == "execution history"
    assert shown["path"][:3] == ["Diagnose", "Already Handled?", "Run Still Going?"]
    assert shown["path"][-2:] == ["Learn", "Incident Closed"]
    # The run is awaited by its end event; polling ("Wait For Job Run") is only the fallback.
    assert [w["step"] for w in shown["waits"]] == ["Await Run End"]
    assert "Await Run End" in shown["path"] and "Wait For Job Run" not in shown["path"]


def test_show_text_is_a_timeline_at_80_columns(
    replayed: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _json(capsys, ["incidents", "list", "--json"])
    permission = next(r for r in rows if r["category"] == "permission")  # type: ignore[union-attr]
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["incidents", "show", permission["incident_id"]]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    for step in ("Diagnose", "Propose", "SafetyGate", "Escalate", "Learn"):
        assert step in out
    assert "Await Human Decision" in out and "waits:" in out and "answer: resolved by local-oncall" in out
    # The answer is to the question asked (fix), so its row is Await Human Decision's, not Await Approval's.
    assert "Await Approval" not in out


def test_show_html_draws_every_state_and_the_path(
    replayed: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = _json(capsys, ["incidents", "list", "--json"])
    drift = next(r for r in rows if r["category"] == "schema_drift")  # type: ignore[union-attr]
    page = tmp_path / "incident.html"
    shown = _json(capsys, ["incidents", "show", drift["incident_id"], "--html", str(page), "--json"])
    html = page.read_text()
    states = dict(
        (name, bool(visited))
        for visited, name in re.findall(r'<g class="state type-\w+( visited)?" data-state="([^"]+)"', html)
    )
    assert set(states) == set(bundled_definition()["States"])
    assert {name for name, visited in states.items() if visited} == set(shown["path"])  # type: ignore[index]
    assert 'data-from="Execute" data-to="Run Started?"' in html
    assert re.search(r'class="edge kind-next taken" data-from="Learn" data-to="Incident Closed"', html)
    # Each visited state shows its input and output, from the execution's history.
    assert html.count("<h4>input</h4>") == len(shown["path"])  # type: ignore[arg-type]
    assert "<link" not in html and "<script" not in html and "src=" not in html


def test_show_an_unknown_incident_is_one_line(replayed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "show", "inc-nothere"]) == 2
    assert "no incident 'inc-nothere'" in capsys.readouterr().err


def test_list_text_fits_80_columns(
    replayed: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["incidents", "list"]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    for word in ("schema_drift", "permission", "throttling", "backoff_retry", "escalated", "resolved"):
        assert word in out


def test_report_shadow_json_is_the_contract(replayed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, ["report", "shadow", "--json"])
    assert isinstance(report, dict) and list(report) == ["categories"]
    categories = report["categories"]
    assert set(categories) == {"schema_drift", "permission", "throttling"}
    for category in categories.values():
        assert set(category) == {"proposals", "agreed", "precision", "ci_low", "recommendation", "actions"}
        assert category["proposals"] == 1 and category["recommendation"] == "shadow"
    assert categories["schema_drift"]["agreed"] == 1 and categories["schema_drift"]["precision"] == 1.0
    # The human fixed it without saying how: the fix is unknown, there is no precision yet.
    assert categories["permission"]["precision"] is None and categories["permission"]["ci_low"] is None


def test_report_shadow_text(
    replayed: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["report", "shadow"]) == 0
    out = capsys.readouterr().out
    assert "schema_drift" in out and "rollback" in out and "shadow" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_an_empty_home_lists_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path))
    assert _json(capsys, ["incidents", "list", "--json"]) == []
    assert _json(capsys, ["report", "shadow", "--json"]) == {"categories": {}}
    assert main(["incidents", "list"]) == 0 and "no incidents" in capsys.readouterr().out
    assert not (tmp_path / "selfheal.sqlite3").exists()  # reading never creates the log
