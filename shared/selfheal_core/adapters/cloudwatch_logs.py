"""Bounded reads of a Glue run's CloudWatch logs.

Glue writes a run's stderr to ``/aws-glue/jobs/error`` and stdout to ``/aws-glue/jobs/output`` (stream =
job run id); continuous logging writes to ``/aws-glue/jobs/logs-v2`` (streams prefixed by the run id,
including the job run insights ``-job-insights-rca-driver`` stream). Reads stop at ``max_bytes`` or
``max_seconds``, whichever comes first; a missing group or stream becomes a note, never an error.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from selfheal_core.adapters.throttling import raise_if_transient
from selfheal_core.errors import TransientDependencyError
from selfheal_core.ports import LogRead

DEFAULT_PREFIX = "/aws-glue/jobs"
ERROR_GROUP = f"{DEFAULT_PREFIX}/error"
OUTPUT_GROUP = f"{DEFAULT_PREFIX}/output"
CONTINUOUS_GROUP = f"{DEFAULT_PREFIX}/logs-v2"


def run_log_groups(log_group_prefix: str | None, continuous_log_group: str | None) -> tuple[str, ...]:
    """Where a run's logs are: the run's own prefix (``JobRun.LogGroupName``: another one when the job has a
    security configuration), the continuous-logging group (``--continuous-log-logGroup`` if set), and the
    default groups as a fallback. Missing groups cost one call each and become notes."""
    prefix = (log_group_prefix or DEFAULT_PREFIX).rstrip("/")
    continuous = continuous_log_group or CONTINUOUS_GROUP
    ordered = (f"{prefix}/error", continuous, f"{prefix}/output", ERROR_GROUP, CONTINUOUS_GROUP, OUTPUT_GROUP)
    return tuple(dict.fromkeys(ordered))


class CloudWatchLogReader:
    def __init__(
        self,
        client: Any | None = None,
        max_bytes: int = 5 * 1024 * 1024,
        max_seconds: float = 10.0,
    ) -> None:
        self.client = client or boto3.client("logs")
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    def read_run_logs(
        self, job_run_id: str, log_group_prefix: str | None = None, continuous_log_group: str | None = None
    ) -> LogRead:
        deadline = time.monotonic() + self.max_seconds
        budget = self.max_bytes
        parts: list[str] = []
        sources: list[str] = []
        notes: list[str] = []
        truncated = False
        for group in run_log_groups(log_group_prefix, continuous_log_group):
            for stream in self._streams(group, job_run_id, notes):
                text, cut = self._read_stream(group, stream, budget, deadline)
                if text:
                    parts.append(text)
                    sources.append(f"{group}:{stream}")
                    budget -= len(text)
                truncated = truncated or cut
                if budget <= 0 or time.monotonic() > deadline:
                    notes.append("log read stopped at its size or time bound")
                    return LogRead("\n".join(parts), tuple(sources), tuple(notes), True)
        if not sources:
            notes.append(f"no CloudWatch log found for run {job_run_id}")
        return LogRead("\n".join(parts), tuple(sources), tuple(notes), truncated)

    def _streams(self, group: str, job_run_id: str, notes: list[str]) -> list[str]:
        try:
            response = self.client.describe_log_streams(
                logGroupName=group, logStreamNamePrefix=job_run_id, limit=50
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                notes.append(f"log group {group} does not exist")
                return []
            if code == "ThrottlingException":
                raise TransientDependencyError(f"CloudWatch Logs throttled reading {group}") from error
            raise
        streams = [s["logStreamName"] for s in response.get("logStreams", [])]
        # The run's own stream first, then its insights and executor streams.
        return sorted(streams, key=lambda name: (name != job_run_id, "insights" not in name, name))

    def _read_stream(self, group: str, stream: str, budget: int, deadline: float) -> tuple[str, bool]:
        """One stream from its head. GetLogEvents may return an empty page before the end of a stream;
        the end is the page whose ``nextForwardToken`` is the token that was sent. The byte budget and the
        deadline bound the pages read."""
        lines: list[str] = []
        size = 0
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            try:
                page = self.client.get_log_events(**kwargs)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return "", False
                raise_if_transient(error, f"CloudWatch Logs {group}")
                raise
            for event in page.get("events", []):
                message = str(event.get("message", ""))
                if size + len(message) > budget:
                    lines.append(message[: max(0, budget - size)])
                    return "\n".join(lines), True
                lines.append(message)
                size += len(message) + 1
            next_token = page.get("nextForwardToken")
            if not next_token or next_token == token:
                return "\n".join(lines), False
            if time.monotonic() > deadline:
                return "\n".join(lines), True
            token = next_token
