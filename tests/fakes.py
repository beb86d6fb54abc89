"""Shared test doubles; fakes stand in only at boundaries such as the clock."""

from __future__ import annotations


class FakeClock:
    """A clock that moves only when a test says so; wall and monotonic time move together."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks."""
        self._wall += seconds
        self._mono += seconds

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock, as after sleep/resume or an NTP correction."""
        self._wall += seconds
