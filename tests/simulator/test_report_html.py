"""The HTML report: every row the terminal shows, units in the headers, readable numbers, escaped text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from selfheal.simulator.evaluation import evaluate
from selfheal.simulator.presentation import COLUMNS, policy_rows
from selfheal.simulator.report import write_report
from selfheal.simulator.scenario import load_scenario

SCENARIO = {
    "name": "tiny",
    "description": "<script>alert('x')</script> & friends",
    # Slow humans: totals over 10,000 hours, which a %g format would print as 1.2e+04.
    "human": {"median_hours": 900, "p90_hours": 2000},
    "jobs": [{"name": "a", "tables": ["db.t"]}, {"name": "b", "criticality": "critical"}],
    "modes": [
        {"category": "throttling", "weight": 2, "fix": {"backoff_retry": 0.9}},
        {"category": "permission", "weight": 1},
    ],
}


class _Cells(HTMLParser):
    """The text of every table row: [[header cell, data cells...], ...]."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][-1] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    directory = tmp_path_factory.mktemp("report")
    path = directory / "tiny.json"
    path.write_text(json.dumps(SCENARIO))
    evaluation = evaluate(load_scenario(path), 200, 3, with_gated_oracle=True)
    return write_report(evaluation, directory / "out"), evaluation


def test_the_report_shows_every_row_and_column_of_the_terminal_table(report: tuple[Path, object]) -> None:
    index, evaluation = report
    parser = _Cells()
    parser.feed(index.read_text(encoding="utf-8"))
    header, *body = parser.rows
    assert header == ["policy", *(c.one_line_label for c in COLUMNS)]
    expected = policy_rows(evaluation)  # type: ignore[arg-type]
    assert [row[0] for row in body] == [row.name for row in expected]
    assert "oracle_gated_final" in [row[0] for row in body]
    for cells, row in zip(body, expected, strict=True):
        assert cells[1:] == row.cells(COLUMNS)


def test_numbers_are_readable_and_units_explicit(report: tuple[Path, object]) -> None:
    page = report[0].read_text(encoding="utf-8")
    assert "e+0" not in page and "None" not in page
    for label in ("MTTR (h)", "MTTR auto (min)", "human (h)", "auto (%)"):
        assert label in page


def test_user_text_is_escaped(report: tuple[Path, object]) -> None:
    page = report[0].read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_charts_are_written_and_linked(report: tuple[Path, object]) -> None:
    index = report[0]
    page = index.read_text(encoding="utf-8")
    for chart in ("learning_curve.png", "comparison.png"):
        assert (index.parent / chart).stat().st_size > 10_000
        assert f'src="{chart}"' in page
