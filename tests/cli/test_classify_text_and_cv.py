"""``selfheal classify``: --text, the output fields, and the --report JSON (as-is and grouped CV)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from selfheal.cli import main

FIELDS = ["category", "confidence", "signature", "evidence", "checks", "source"]


def test_json_lines_give_the_interface_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps({"message": "Rate exceeded (Service: AWSGlue)"}), json.dumps({"message": "hello"})]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["classify"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [list(o) for o in out] == [FIELDS, FIELDS]
    assert out[0]["category"] == "throttling"
    assert out[1] == {
        "category": "unknown",
        "confidence": 0.0,
        "signature": None,
        "evidence": [],
        "checks": [],
        "source": None,
    }


def test_text_reads_the_whole_input_as_one_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "driver.log"
    log.write_text(
        "24/05/01 10:00:00 INFO Main: starting\n"
        "Traceback (most recent call last):\n"
        "py4j.protocol.Py4JJavaError: An error occurred while calling o77.save.\n"
        "Caused by: java.io.IOException: No space left on device\n"
    )
    assert main(["classify", "--text", str(log)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert list(result) == FIELDS
    assert result["category"] == "resource_exhaustion"
    assert result["source"] in {"exception", "signature", "model"}
    assert result["checks"] == ["worker_capacity: not checked (text only)"]


def _labelled(tmp_path: Path) -> Path:
    texts = {
        "throttling": "Rate exceeded (Service: AWSGlue; Status Code: 400; Error Code: ThrottlingException) {i}",
        "permission": "User: arn:aws:iam::1:role/r{i} is not authorized to perform: glue:GetTable",
        "resource_exhaustion": "java.lang.OutOfMemoryError: Java heap space in task {i}",
    }
    rows = [
        {
            "message": text.format(i=i),
            "category": category,
            "source": f"https://github.com/o/r{i}",
            "group": f"github:o/r{i}",
        }
        for category, text in texts.items()
        for i in range(4)
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("cv", ["0", "2"])
def test_report_json_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str], cv: str) -> None:
    assert main(["classify", "--report", "--json", "--cv", cv, str(_labelled(tmp_path))]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = {
        "mode",
        "folds",
        "seed",
        "groups",
        "total",
        "accuracy",
        "macro_f1",
        "unsafe_rate",
        "abstention_rate",
    }
    assert expected <= set(report)
    assert {"per_category", "confusion", "intervals"} <= set(report)
    assert report["mode"] == ("cv" if cv == "2" else "as_is")
    for key in ("accuracy", "macro_f1", "unsafe_rate", "abstention_rate", "permission.recall"):
        low, high = report["intervals"][key]
        assert 0.0 <= low <= high <= 1.0
    assert report["total"] == 12 and report["groups"] == 4


def test_a_negative_seed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["classify", "--report", "--seed", "-1"])
    assert exit_.value.code == 2
    assert "--seed: must be 0 or more, got -1" in capsys.readouterr().err


def test_report_splits_the_figures_by_hardness_when_lines_are_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(line) for line in _labelled(tmp_path).read_text().splitlines()]
    for i, row in enumerate(rows):
        row["note"] = "HARD: reads like something else" if i % 3 == 0 else "plain"
    marked = tmp_path / "marked.jsonl"
    marked.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["classify", "--report", "--json", "--cv", "0", str(marked)]) == 0
    split = json.loads(capsys.readouterr().out)["by_hardness"]
    assert (split["hard"]["total"], split["not hard"]["total"]) == (4, 8)
    assert set(split["hard"]["intervals"]) == {"macro_f1", "unsafe_rate", "abstention_rate"}
    assert main(["classify", "--report", "--cv", "0", str(marked)]) == 0
    assert "by hardness" in capsys.readouterr().out
    assert main(["classify", "--report", "--json", "--cv", "0", str(_labelled(tmp_path))]) == 0
    assert json.loads(capsys.readouterr().out)["by_hardness"] == {}
