"""Simulated time for many executions at once on the local engine.

The local engine skips Wait states and Retry intervals ("fast time"), which is right for one execution
but wrong for a storm: an incident that waits 10 minutes must not see what another did 30 minutes later.
``VirtualClock`` is a conservative discrete-event clock shared by every execution: a Wait (or a Retry
interval) blocks its execution until simulated time reaches its end, and simulated time moves on only
when no execution is running, to the earliest wake-up. Handler work takes no simulated time. Every
execution therefore sees one consistent time, and the functions read it through their ``clock``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self._seconds = 0.0
        self._lock = threading.Lock()
        self._pending = 0  # executions started whose thread has not joined yet
        self._running = 0  # joined threads not asleep
        self._sleepers: list[tuple[float, int, threading.Event]] = []
        self._sequence = itertools.count()
        self._local = threading.local()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._seconds)

    @property
    def seconds(self) -> float:
        return self._seconds

    def expect(self) -> None:
        """An execution is about to start: time waits for its thread to join."""
        with self._lock:
            self._pending += 1

    def enter(self, expected: bool = True) -> None:
        with self._lock:
            if expected:
                self._pending -= 1
            self._running += 1
        self._local.joined = True

    def leave(self) -> None:
        self._local.joined = False
        with self._lock:
            self._running -= 1
            self._advance()

    @contextmanager
    def joined(self, expected: bool = True) -> Iterator[None]:
        self.enter(expected)
        try:
            yield
        finally:
            self.leave()

    def sleep(self, seconds: float) -> None:
        """Block until simulated time has moved ``seconds`` on (a thread that never joined returns)."""
        if not getattr(self._local, "joined", False):
            return
        wake = threading.Event()
        with self._lock:
            heapq.heappush(self._sleepers, (self._seconds + max(0.0, seconds), next(self._sequence), wake))
            self._running -= 1
            self._advance()
        wake.wait()

    def sleep_until(self, seconds: float) -> None:
        self.sleep(seconds - self._seconds)

    def _advance(self) -> None:
        """With the lock held: when nothing runs, wake the earliest sleepers (moving time to them)."""
        if self._running > 0 or self._pending > 0 or not self._sleepers:
            return
        self._seconds = max(self._seconds, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self._seconds:
            _, _, wake = heapq.heappop(self._sleepers)
            self._running += 1
            wake.set()


_active: dict[str, VirtualClock | None] = {"clock": None}
_installed = False
_install_lock = threading.Lock()


def activate(clock: VirtualClock | None) -> None:
    _active["clock"] = clock


def install() -> None:
    """Wrap the local engine's fast-time patches (applied first) so Waits, Retry intervals and execution
    threads go through the active clock; without one they behave exactly as before."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.program.program import Program
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        wait_interval = WaitFunction._wait_interval

        def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
            wait_interval(self, env, wait_seconds)
            clock = _active["clock"]
            if clock is not None:
                clock.sleep(float(wait_seconds))

        WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]

        fast: Any = getattr(retrier_decl, "time")  # noqa: B009  (the engine's _FastTime: records, never sleeps)
        fast_sleep: Callable[[float], None] = fast.sleep

        def retry_sleep(seconds: float) -> None:
            fast_sleep(seconds)
            clock = _active["clock"]
            if clock is not None:
                clock.sleep(float(seconds))

        fast.sleep = retry_sleep

        # The program's states run in a worker thread of their own (moto's Program.eval starts it).
        eval_body = Program._eval_body

        def _eval_body(self: Any, env: Any) -> None:
            clock = _active["clock"]
            if clock is None:
                eval_body(self, env)
                return
            with clock.joined():
                eval_body(self, env)

        Program._eval_body = _eval_body  # type: ignore[method-assign]
        _installed = True
