"""Shared test doubles; fakes stand in only at boundaries such as the clock."""

from __future__ import annotations

from upsight.drivers.clock import SteppedClock


class FakeClock(SteppedClock):
    """A clock that moves only when a test says so, and whose wall clock can jump alone."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start, 1000.0)

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock, as after sleep/resume or an NTP correction."""
        self._wall += seconds
