"""When to send again: HTTP status classes, Retry-After, full-jitter backoff and the rate limit."""

from __future__ import annotations

import collections
import enum
import random
import re
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Final

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""The statuses worth another attempt: privacy-design.md §8.2's list plus 500, because a
cloud that fails with 500 for a while must not cost the user queued data."""
UNAUTHORIZED: Final = 401
_SECONDS: Final = re.compile(r"[+-]?[0-9]+")
MAX_RETRY_AFTER_S: Final = 86_400.0
"""A longer Retry-After is taken as a server mistake; a day is the most we wait."""


class Outcome(enum.StrEnum):
    """What a reply means for the envelope that got it."""

    SENT = "sent"
    """2xx: delivered; delete it."""
    RETRY = "retry"
    """429, 500, 502, 503 or 504: keep it and wait before talking to the cloud again."""
    AUTH = "auth"
    """401: the device token is refused; keep it and stop until the user signs in again."""
    REJECTED = "rejected"
    """Anything else: the cloud will never take it; delete it and record the status."""


def classify(status: int) -> Outcome:
    """The outcome of one HTTP status.

    429, 500, 502, 503 and 504 are retried. Other 5xx (501 Not Implemented, 505, …) and 3xx
    are rejected like 4xx: retrying what the server cannot handle only repeats the failure
    (OTLP/HTTP), and redirects are never followed, so the bearer token never goes to
    another address.
    """
    if 200 <= status <= 299:
        return Outcome.SENT
    if status in RETRY_STATUSES:
        return Outcome.RETRY
    if status == UNAUTHORIZED:
        return Outcome.AUTH
    return Outcome.REJECTED


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait that a ``Retry-After`` header asks for.

    Args:
        value: The header: delay seconds or an HTTP date; None when absent.
        now: The current wall-clock time, seconds since the epoch, for HTTP dates.

    Returns:
        The delay, between 0 and one day; None when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        # Compared as an int first: float() of a huge integer overflows.
        delay = float(min(int(text), int(MAX_RETRY_AFTER_S)))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            # RFC 5322 "-0000" parses as naive; HTTP dates are always GMT.
            when = when.replace(tzinfo=UTC)
        delay = when.timestamp() - now
    return min(max(delay, 0.0), MAX_RETRY_AFTER_S)


class Backoff:
    """Full-jitter exponential backoff: attempt n waits uniformly in [0, min(cap, base·factorⁿ)].

    Full jitter spreads the clients a cloud outage synchronised (privacy-design.md §8.2).
    """

    def __init__(
        self,
        *,
        base_s: float = 5.0,
        factor: float = 2.0,
        cap_s: float = 1800.0,
        rng: random.Random | None = None,
    ) -> None:
        """Set the curve.

        Args:
            base_s: The ceiling of the first delay.
            factor: How much the ceiling grows per failed attempt.
            cap_s: The largest ceiling.
            rng: Source of the jitter; seed one in tests.
        """
        if base_s <= 0 or factor < 1 or cap_s < base_s:
            raise ValueError("backoff needs base_s > 0, factor >= 1 and cap_s >= base_s")
        self._base_s = base_s
        self._factor = factor
        self._cap_s = cap_s
        self._rng = rng if rng is not None else random.Random()
        self._ceiling_s = base_s
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failed attempts since the last success."""
        return self._failures

    @property
    def ceiling_s(self) -> float:
        """The most the next delay can be."""
        return self._ceiling_s

    def next_delay(self) -> float:
        """Count one more failure and draw the delay before the next attempt."""
        delay = self._rng.uniform(0.0, self._ceiling_s)
        self._failures += 1
        # Grow the ceiling step by step rather than as base·factorⁿ, which overflows.
        self._ceiling_s = min(self._cap_s, self._ceiling_s * self._factor)
        return delay

    def reset(self) -> None:
        """The cloud answered: start again from the base delay."""
        self._ceiling_s = self._base_s
        self._failures = 0


class RateLimiter:
    """At most ``max_requests`` per sliding ``window_s`` (Glean: 15 uploads per 60 s)."""

    def __init__(
        self,
        *,
        max_requests: int = 15,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Set the limit.

        Args:
            max_requests: Requests allowed in any window.
            window_s: The window's length, seconds.
            clock: Monotonic seconds, replaceable in tests.
        """
        if max_requests < 1 or window_s <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and window_s > 0")
        self._max = max_requests
        self._window_s = window_s
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()

    def delay(self) -> float:
        """Seconds until the next request may go; 0 when it may go now."""
        now = self._clock()
        self._forget_before(now - self._window_s)
        if len(self._sent) < self._max:
            return 0.0
        return max(self._sent[0] + self._window_s - now, 0.0)

    def record(self) -> None:
        """Count a request made now."""
        now = self._clock()
        self._forget_before(now - self._window_s)
        self._sent.append(now)

    def _forget_before(self, start: float) -> None:
        while self._sent and self._sent[0] <= start:
            self._sent.popleft()
