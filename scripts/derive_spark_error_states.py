"""Derive evidence_maps/spark_error_states.json: the SQLSTATE of every Spark and Delta error class that
spark_error_classes.json does not map by hand.

    python scripts/derive_spark_error_states.py SPARK_ERROR_CONDITIONS DELTA_ERROR_CLASSES

SPARK_ERROR_CONDITIONS is ``error/error-conditions.json`` from ``spark-common-utils_2.13-4.0.1.jar`` (in the
pyspark 4.0.1 sdist, ``deps/jars/``); DELTA_ERROR_CLASSES is delta-io/delta's
``spark/src/main/resources/error/delta-error-classes.json``. Both are Apache-2.0; only names and SQLSTATEs
are copied. Classes without an SQLSTATE are left out: they say nothing a category could be drawn from.

The structured layer reads an unmapped class through its SQLSTATE, so that a Glue 4.0 log that prints
``[SOME_CLASS] ...`` without the state (Spark 3.3 does not append it) still gets the state's meaning,
generic or not (docs/diagnosis.md).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

MAPS = Path(__file__).resolve().parents[1] / "shared" / "selfheal_core" / "classification" / "evidence_maps"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{2,100}$")
_STATE = re.compile(r"^[0-9A-Z]{5}$")


def derive(
    spark: dict[str, dict[str, object]], delta: dict[str, dict[str, object]], curated: set[str]
) -> dict[str, str]:
    states: dict[str, str] = {}
    for source in (spark, delta):
        for name, raw in source.items():
            state = str(raw.get("sqlState") or "")
            if name in curated or name in states or not _NAME.match(name) or not _STATE.match(state):
                continue
            states[name] = state
    return dict(sorted(states.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spark_error_conditions", type=Path)
    parser.add_argument("delta_error_classes", type=Path)
    args = parser.parse_args()
    curated = set(json.loads((MAPS / "spark_error_classes.json").read_text())["error_classes"])
    states = derive(
        json.loads(args.spark_error_conditions.read_text()),
        json.loads(args.delta_error_classes.read_text()),
        curated,
    )
    document = {
        "attribution": {
            "sources": [
                {
                    "repo": "apache/spark",
                    "path": "common/utils/src/main/resources/error/error-conditions.json",
                    "version": "v4.0.1 (spark-common-utils_2.13-4.0.1.jar in the pyspark 4.0.1 sdist)",
                    "license": "Apache-2.0",
                },
                {
                    "repo": "delta-io/delta",
                    "path": "spark/src/main/resources/error/delta-error-classes.json",
                    "version": "commit bb1057f4367f555b01e299fd1690d85aafc0ac4c",
                    "license": "Apache-2.0",
                },
            ],
            "derived_by": "scripts/derive_spark_error_states.py",
            "notes": "Error class name -> SQLSTATE, only for classes spark_error_classes.json does not map "
            "by hand; the category comes from the SQLSTATE's entry there (generic states decide nothing).",
        },
        "states": states,
    }
    target = MAPS / "spark_error_states.json"
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(states)} error classes -> {target}")


if __name__ == "__main__":
    main()
