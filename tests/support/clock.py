"""A clock on which time passes only when something sleeps on it, so measured latencies come out exact."""

from __future__ import annotations


class FakeClock:
    """A ``promptarena.clock.Clock`` that sleeps at once: ``sleep`` moves ``now`` forward by exactly that much."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
