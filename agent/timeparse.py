"""Parse the time arguments of the command line: durations ("90m", "24h", "7d") and dates."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``30``, ``90m``, ``24h``, ``7d`` or ``2w``.

    Raises:
        ValueError: naming the accepted forms.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90m, 24h, 7d or 2w")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_when(text: str, now: float) -> float:
    """An instant given as an ISO date/time or as a duration before ``now``.

    Raises:
        ValueError: naming the accepted forms.
    """
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (90m, 24h, 7d) nor a date such as 2026-11-01T08:00"
        ) from None
    return moment.timestamp()
