"""The ``M`` object of the spec, computed from incident results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from selfheal.simulator.engine import IncidentResult

FINAL_FRACTION = 0.2
METRIC_KEYS: tuple[str, ...] = (
    "automated_resolution",
    "non_escalation",
    "mttr_minutes",
    "p50_minutes",
    "p90_minutes",
    "mttr_auto_minutes",
    "harmful_actions",
    "blocked_by_safety",
    "wasted_runs",
    "human_hours",
    "actions_per_incident",
    "assisted_resolution",
)


def final_start(incidents: int) -> int:
    """Index of the first incident of the last 20% of the stream (at least one incident)."""
    return min(incidents - 1, math.floor((1.0 - FINAL_FRACTION) * incidents)) if incidents else 0


def summarize(results: Sequence[IncidentResult]) -> dict[str, Any]:
    n = len(results)
    if n == 0:
        raise ValueError("no incidents to summarize")
    minutes = np.array([r.minutes for r in results], dtype=float)
    auto = [r.minutes for r in results if r.automated]
    return {
        "automated_resolution": sum(r.automated for r in results) / n,
        "non_escalation": sum(not r.escalated for r in results) / n,
        "mttr_minutes": float(minutes.mean()),
        "p50_minutes": float(np.percentile(minutes, 50)),
        "p90_minutes": float(np.percentile(minutes, 90)),
        "mttr_auto_minutes": float(np.mean(auto)) if auto else None,
        "harmful_actions": int(sum(r.harmful for r in results)),
        "blocked_by_safety": int(sum(r.blocked for r in results)),
        "wasted_runs": int(sum(r.wasted_runs for r in results)),
        "human_hours": float(sum(r.human_hours for r in results)),
        "actions_per_incident": sum(r.actions for r in results) / n,
        "assisted_resolution": sum(r.assisted for r in results) / n,
    }


def rolling_automated(results: Sequence[IncidentResult], window: int) -> npt.NDArray[np.float64]:
    """Automated-resolution rate over a trailing window, for learning curves."""
    values = np.array([1.0 if r.automated else 0.0 for r in results])
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    smoothed: npt.NDArray[np.float64] = np.convolve(values, kernel, mode="valid")
    return smoothed
