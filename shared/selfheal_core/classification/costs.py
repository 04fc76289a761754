"""The cost matrix that sets the classifier's abstention thresholds (data: costs.json).

cost[true][predicted]: 0 when right; 10 when an auto-remediated category is predicted for a failure
that needs a human (an automated action on top of an AccessDenied or a bug); 3 for the wrong
automated action; 1 when the answer escalates (``unknown``, ``permission``, ``code_error``) but
was not the truth: a person's time, the cheapest mistake.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from selfheal_core.vocabulary import CATEGORIES

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

COSTS_FILE = Path(__file__).with_name("costs.json")


def parse_costs(data: object) -> tuple[tuple[float, ...], ...]:
    """The matrix as rows (true) of columns (predicted), both in CATEGORIES order."""
    if not isinstance(data, dict) or not isinstance(data.get("costs"), dict):
        raise ValueError("cost matrix: expected an object with a 'costs' object")
    table = data["costs"]
    rows: list[tuple[float, ...]] = []
    for true in CATEGORIES:
        row = table.get(true.value)
        if not isinstance(row, dict) or set(row) != {c.value for c in CATEGORIES}:
            raise ValueError(f"cost matrix: row {true.value!r} must name every category")
        values = tuple(float(row[p.value]) for p in CATEGORIES)
        if any(v < 0 for v in values) or values[CATEGORIES.index(true)] != 0:
            raise ValueError(f"cost matrix: row {true.value!r}: costs are >= 0 and 0 on the diagonal")
        rows.append(values)
    return tuple(rows)


@functools.cache
def shipped_costs() -> tuple[tuple[float, ...], ...]:
    return parse_costs(json.loads(COSTS_FILE.read_text(encoding="utf-8")))


def cost_array(rows: tuple[tuple[float, ...], ...] | None = None) -> NDArray[np.float64]:
    import numpy as np

    return np.array(shipped_costs() if rows is None else rows, dtype=np.float64)
