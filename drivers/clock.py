"""Time sources, injectable so tests and simulations control the clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time for timestamps, monotonic time for intervals."""

    def time(self) -> float:
        """Seconds since the epoch (UTC); may jump."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()


class SteppedClock:
    """A clock that moves only when ``advance`` is called; both times move together.

    Simulations play hours of a scenario in moments with it, and tests drive
    timing logic deterministically.
    """

    def __init__(self, wall: float, mono: float = 0.0) -> None:
        self._wall = wall
        self._mono = mono

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks."""
        self._wall += seconds
        self._mono += seconds
