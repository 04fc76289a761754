"""``selfheal classify`` through selfheal.cli.main."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from selfheal.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "glue_errors.jsonl"


def _write(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_classify_writes_one_json_line_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        [
            json.dumps({"message": "java.lang.OutOfMemoryError: Java heap space"}),
            "",
            json.dumps({"message": "nothing to see here", "id": 7}),
        ],
    )
    assert main(["classify", path]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["category"] for o in out] == ["resource_exhaustion", "unknown"]
    assert out[0]["source"] == "exception" and "OutOfMemoryError" in out[0]["signature"]
    assert isinstance(out[0]["evidence"], list) and out[0]["evidence"]
    assert set(out[1]) == {"category", "confidence", "signature", "evidence", "checks", "source"}


def test_classify_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    message = "An error occurred (ThrottlingException) when calling the GetJob operation: Rate exceeded"
    line = json.dumps({"message": message})
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    assert main(["classify", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "throttling"


def test_report_on_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--report", str(CORPUS)]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "unsafe automation" in out and "confusion matrix" in out
    # Scored as it is (no cross-validation): the trained model has seen these lines, so this only checks
    # the report's shape and that its figures are consistent, not the targets (see docs/diagnosis.md).
    assert main(["classify", "--report", "--json", "--cv", "0", str(CORPUS)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "as_is" and report["total"] == sum(1 for line in CORPUS.open() if line.strip())
    assert 0.0 <= report["macro_f1"] <= 1.0 and 0.0 <= report["unsafe_rate"] <= 1.0
    low, high = report["intervals"]["macro_f1"]
    assert low <= report["macro_f1"] <= high
    assert set(report["per_category"]) == {
        "transient_network",
        "throttling",
        "source_not_ready",
        "schema_drift",
        "type_mismatch",
        "data_quality",
        "resource_exhaustion",
        "permission",
        "code_error",
        "unknown",
    }


def test_user_signatures_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps(
            [
                {
                    "id": "user.vendor_blip",
                    "category": "transient_network",
                    "pattern": r"VENDOR-E42",
                    "rationale": "Vendor API blip.",
                    "example": "VENDOR-E42 try later",
                }
            ]
        ),
        encoding="utf-8",
    )
    path = _write(tmp_path, [json.dumps({"message": "VENDOR-E42 try later"})])
    assert main(["classify", "--signatures", str(extra), path]) == 0
    assert json.loads(capsys.readouterr().out)["signature"] == "user.vendor_blip"


@pytest.mark.parametrize(
    ("lines", "args", "fragment"),
    [
        ([json.dumps({"message": "ok"}), "{not json"], [], "line 2: not valid JSON"),
        ([json.dumps({"text": "no message"})], [], "line 1: missing 'message'"),
        (["[1, 2]"], [], "line 1: expected a JSON object"),
        (
            [json.dumps({"message": "x", "category": "flaky"})],
            ["--report"],
            "line 1: unknown category 'flaky'",
        ),
        ([json.dumps({"message": "x"})], ["--report"], "line 1: unknown category None"),
    ],
)
def test_malformed_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], args: list[str], fragment: str
) -> None:
    path = _write(tmp_path, lines)
    assert main(["classify", *args, path]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_signature_file_and_missing_input_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    entry = {"id": "a", "category": "nope", "pattern": "a", "rationale": "r", "example": "a"}
    bad.write_text(json.dumps([entry]), encoding="utf-8")
    path = _write(tmp_path, [json.dumps({"message": "a"})])
    assert main(["classify", "--signatures", str(bad), path]) == 2
    assert "unknown category 'nope'" in capsys.readouterr().err
    assert main(["classify", str(tmp_path / "absent.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
