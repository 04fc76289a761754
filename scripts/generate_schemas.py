"""Write the JSON Schemas the handlers validate against from the typed contracts.

Usage: python scripts/generate_schemas.py   (tests/template/test_contracts.py fails when they differ)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from selfheal_core.contracts import GENERATED_SCHEMAS, schema_for  # noqa: E402

SCHEMA_DIR = ROOT / "shared" / "selfheal_core" / "runtime" / "schemas"


def rendered(name: str) -> str:
    return json.dumps(schema_for(GENERATED_SCHEMAS[name]), indent=2) + "\n"


def main() -> None:
    for name in GENERATED_SCHEMAS:
        (SCHEMA_DIR / f"{name}.json").write_text(rendered(name))
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
