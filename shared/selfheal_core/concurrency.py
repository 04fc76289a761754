"""One retry helper for optimistic concurrency, used by every step and every store.

A writer reads a version (the incident's next sequence number), decides, and writes
only if nobody wrote in between; a ``ConcurrentUpdateError`` means it lost the race and must re-read and
decide again. Retrying the whole read-decide-write keeps each decision consistent with what it read.
(A Q-update is not read-modify-write; the DynamoDB store retries only a transaction DynamoDB cancelled
because another one held the row for a moment.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from selfheal_core.errors import ConcurrentUpdateError

T = TypeVar("T")

MAX_CONFLICTS = 25


def retry_on_conflict(
    operation: Callable[[], T],
    *,
    attempts: int = MAX_CONFLICTS,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> T:
    """Run ``operation`` until it does not lose a race, with full-jitter backoff (capped at 0.2 s)."""
    for attempt in range(attempts):
        if attempt:
            sleep(jitter(0.0, min(0.2, 0.005 * 2**attempt)))
        try:
            return operation()
        except ConcurrentUpdateError:
            if attempt == attempts - 1:
                raise
    raise ConcurrentUpdateError("no attempt was made")  # pragma: no cover - attempts >= 1
