"""The failed run an incoming event is about, whatever delivered it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TriggerKind(StrEnum):
    JOB_STATE_CHANGE = "job_state_change"
    DATA_QUALITY = "data_quality"


@dataclass(frozen=True)
class Trigger:
    job_name: str
    job_run_id: str
    state: str
    message: str
    kind: TriggerKind
    # Data Quality only: the result to read row counts from, its score and failed rule count.
    result_id: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
