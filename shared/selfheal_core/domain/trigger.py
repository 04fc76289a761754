"""The failed run an incoming event is about, whatever delivered it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Glue run states (``JobRunState``) of a run that has not ended yet.
RUN_IN_PROGRESS = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
# The only end state Glue restarts by itself, up to the job's MaxRetries: the AWS Glue guide's job
# properties say jobs that reach their timeout are not restarted (TIMEOUT), and an ERROR run is a trigger
# that named a deleted job.
RESTARTED_BY_GLUE = frozenset({"FAILED"})


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
