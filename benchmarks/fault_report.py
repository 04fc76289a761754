"""Faults tried and survived: runs the fault matrix (tests/faults) and counts, per injected fault, whether
every invariant held for it. Prints one JSON object; the README's figure.

    python benchmarks/fault_report.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE_ID = re.compile(r"\[(?P<case>.+)\]$")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/faults",
                f"--junitxml={report}",
            ],
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        held: dict[str, list[bool]] = defaultdict(list)
        for case in ET.parse(report).getroot().iter("testcase"):
            match = CASE_ID.search(case.get("name", ""))
            if match is None or not case.get("classname", "").endswith("test_fault_matrix"):
                continue
            ok = not any(child.tag in ("failure", "error") for child in case)
            if any(child.tag == "skipped" for child in case):
                continue
            held[match.group("case")].append(ok)
    survived = sorted(case for case, results in held.items() if all(results))
    print(
        json.dumps(
            {
                "faults_tried": len(held),
                "survived": len(survived),
                "not_survived": sorted(set(held) - set(survived)),
                "invariant_checks": sum(len(r) for r in held.values()),
            }
        )
    )
    return 0 if len(survived) == len(held) else 1


if __name__ == "__main__":
    sys.exit(main())
