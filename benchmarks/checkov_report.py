"""checkov's verdict on template.yaml as one line for the README: passed, skipped with a reason, failed.

    python benchmarks/checkov_report.py [--checkov .venv/checkov/bin/checkov]    (or: make checkov-report)

`make checkov` runs checkov with .checkov.yaml, whose skip-check list makes the skipped checks disappear
from checkov's output. To count them, this runs checkov once with the same settings but without that
list, then counts each failure of a listed check as skipped (the list gives each a reason on its line),
and each check skipped in a resource's Metadata as skipped (checkov reports those with their comment).
Exit status 1 if anything failed or a skip has no reason.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".checkov.yaml"
DEFAULT_CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"


def skip_reasons(config_text: str) -> dict[str, str]:
    """``- CKV_AWS_115  # reason`` lines of the skip-check list: check id -> reason ("" if none)."""
    listed = yaml.safe_load(config_text).get("skip-check") or []
    reasons = dict(re.findall(r"^\s*-\s*(CKV\w+)\s*(?:#\s*(.*))?$", config_text, re.MULTILINE))
    return {check: reasons.get(check, "").strip() for check in listed}


def run_checkov(checkov: Path, template: Path, config_text: str) -> dict[str, Any]:
    settings = yaml.safe_load(config_text)
    settings.pop("skip-check", None)
    settings.update({"output": "json", "quiet": False, "compact": True})
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "checkov.yaml"
        config.write_text(yaml.safe_dump(settings))
        # From an empty directory, so checkov cannot also pick up the repository's .checkov.yaml.
        result = subprocess.run(
            [str(checkov), "--config-file", str(config), "-f", str(template)],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    if not result.stdout.strip().startswith("{"):
        raise SystemExit(f"checkov printed no JSON report:\n{result.stdout}\n{result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def summarise(report: dict[str, Any], reasons: dict[str, str]) -> dict[str, int]:
    results = report["results"]
    listed = [c for c in results["failed_checks"] if c["check_id"] in reasons]
    failed = [c for c in results["failed_checks"] if c["check_id"] not in reasons]
    in_metadata = results["skipped_checks"]
    unexplained = [c for c in listed if not reasons[c["check_id"]]]
    unexplained += [c for c in in_metadata if not (c["check_result"].get("suppress_comment") or "").strip()]
    return {
        "passed": len(results["passed_checks"]),
        "skipped_with_reason": len(listed) + len(in_metadata) - len(unexplained),
        "failed": len(failed) + len(unexplained),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", type=Path, default=DEFAULT_CHECKOV, help="the checkov executable")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    text = CONFIG.read_text()
    counts = summarise(run_checkov(args.checkov.resolve(), args.template.resolve(), text), skip_reasons(text))
    print(json.dumps(counts))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
