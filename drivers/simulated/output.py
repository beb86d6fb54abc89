"""The simulated UPS's output switch: delayed turn-off and the return of power, in simulated time.

Pure: every method takes the simulated time and returns a new value. The
semantics follow NUT's command names: ``shutdown.return`` turns the output
off after a delay and back on once mains has been present for the start
delay (even when mains never went away, so a computer behind it restarts);
``shutdown.stayoff`` and ``load.off.delay`` leave it off; ``shutdown.stop``
cancels a turn-off that has not happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

# NUT's usual defaults for ups.delay.shutdown and ups.delay.start (usbhid-ups offdelay/ondelay).
DEFAULT_OFF_DELAY_S: Final = 20.0
DEFAULT_ON_DELAY_S: Final = 30.0
MAX_DELAY_S: Final = 600.0


@dataclass(frozen=True)
class Output:
    """Whether the UPS feeds its load, and what it has been told to do next.

    Attributes:
        on: the output is live.
        off_at_s: a turn-off is pending at this simulated time.
        returns: after turning off, come back once mains is back.
        mains_since_s: while off and returning, since when mains has been present.
        off_delay_s: ``ups.delay.shutdown``.
        on_delay_s: ``ups.delay.start``.
    """

    on: bool = True
    off_at_s: float | None = None
    returns: bool = False
    mains_since_s: float | None = None
    off_delay_s: float = DEFAULT_OFF_DELAY_S
    on_delay_s: float = DEFAULT_ON_DELAY_S

    def turn_off(self, now_s: float, delay_s: float | None, returns: bool) -> Output:
        """Schedule a turn-off ``delay_s`` from now (default ``off_delay_s``)."""
        delay = self.off_delay_s if delay_s is None else delay_s
        return replace(self, off_at_s=now_s + delay, returns=returns)

    def stop(self) -> Output:
        """Cancel a pending turn-off; an output already off stays off."""
        if self.off_at_s is None:
            return self
        return replace(self, off_at_s=None, returns=False if self.on else self.returns)

    def advance(self, now_s: float, mains: bool) -> Output:
        """The switch at ``now_s`` with mains ``mains``; call at every change of either."""
        state = self
        if state.off_at_s is not None and now_s >= state.off_at_s:
            state = replace(state, on=False, off_at_s=None, mains_since_s=None)
        if state.on or not state.returns:
            return state
        if not mains:
            return replace(state, mains_since_s=None)
        since = now_s if state.mains_since_s is None else state.mains_since_s
        if now_s >= since + state.on_delay_s:
            return replace(state, on=True, returns=False, mains_since_s=None)
        return replace(state, mains_since_s=since)

    def next_change_s(self) -> float | None:
        """When the switch next changes by itself, if mains stays as it is."""
        if self.off_at_s is not None:
            return self.off_at_s
        if not self.on and self.returns and self.mains_since_s is not None:
            return self.mains_since_s + self.on_delay_s
        return None

    def timer_shutdown_s(self, now_s: float) -> float:
        """``ups.timer.shutdown``: seconds to the turn-off, or -1 when none is pending."""
        return -1.0 if self.off_at_s is None else max(self.off_at_s - now_s, 0.0)

    def timer_start_s(self, now_s: float) -> float:
        """``ups.timer.start``: seconds to the output's return, or -1 when none is counting."""
        change = None if self.off_at_s is not None else self.next_change_s()
        return -1.0 if change is None else max(change - now_s, 0.0)
