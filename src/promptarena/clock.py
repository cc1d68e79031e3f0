"""The clock that latency and throughput are measured on: real time unless a caller passes another.

The engine reads it for the spans generations take, and the fake backend for its delays and latencies, so a
test that hands both the same clock gets exact timings without waiting on real time.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["WALL_CLOCK", "Clock", "WallClock"]


class Clock(Protocol):
    """Seconds on a monotonic clock, and a way to let them pass."""

    def now(self) -> float:
        """The current time in seconds; only differences between two readings mean anything."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock."""
        ...


class WallClock:
    """Real time: ``time.perf_counter`` and ``time.sleep``."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


WALL_CLOCK = WallClock()
