"""Energy from power readings, integrated per epoch hour and labelled reported or estimated.

Field notes §3.10: a kWh figure must say where it comes from. Power read from
``ups.realpower`` is "reported"; power derived from ``ups.load`` and
``ups.realpower.nominal`` is "estimated" (Nutify's silent estimate was off by
about 40 times), and the two are never added together.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from upsight.agent.history.downsampler import HOUR_S
from upsight.drivers.model import Reading

Source = Literal["reported", "estimated"]

# Longer gaps between readings mean monitoring stopped (agent off, device
# unplugged); the load during the gap is unknown, so it is not integrated.
MAX_GAP_S: Final = 10.0

_SOURCE_ORDER: Final[dict[Source, int]] = {"reported": 0, "estimated": 1}


@dataclass(frozen=True)
class EnergyDay:
    """Energy used on one local calendar day, from one source."""

    day: str
    kwh: float
    source: Source


class PowerSample(NamedTuple):
    """Active power at one instant, with where the number came from.

    A NamedTuple because one is built per reading and that is cheaper than a dataclass.
    """

    t: float
    watts: float
    source: Source


def power_of(reading: Reading) -> PowerSample | None:
    """The reading's active power: reported when the UPS gives it, else estimated, else None."""
    watts = reading.number("ups.realpower")
    if watts is not None:
        return PowerSample(reading.at, watts, "reported")
    load = reading.number("ups.load")
    nominal = reading.number("ups.realpower.nominal")
    if load is not None and nominal is not None:
        return PowerSample(reading.at, load / 100.0 * nominal, "estimated")
    return None


def integrate(
    prev: PowerSample, cur: PowerSample, max_gap_s: float = MAX_GAP_S
) -> list[tuple[int, Source, float]]:
    """Energy between two consecutive samples, split at epoch-hour boundaries.

    Power is taken to change linearly between the samples (trapezoid rule). The
    interval counts as estimated if either end is. Nothing is returned for a gap
    longer than ``max_gap_s`` or when time does not move forward.

    Returns:
        ``(hour_start, source, wh)`` pieces, in time order.
    """
    dt = cur.t - prev.t
    if not 0.0 < dt <= max_gap_s:
        return []
    source: Source = "reported" if prev.source == cur.source == "reported" else "estimated"
    hour = int(prev.t // HOUR_S) * HOUR_S
    if cur.t <= hour + HOUR_S:
        # The common case, and exact: both samples lie in one hour.
        return [(hour, source, (prev.watts + cur.watts) / 2.0 * dt / 3600.0)]
    slope = (cur.watts - prev.watts) / dt
    pieces: list[tuple[int, Source, float]] = []
    t0, p0 = prev.t, prev.watts
    while t0 < cur.t:
        hour = int(t0 // HOUR_S) * HOUR_S
        t1 = min(cur.t, hour + HOUR_S)
        p1 = prev.watts + slope * (t1 - prev.t)
        pieces.append((hour, source, (p0 + p1) / 2.0 * (t1 - t0) / 3600.0))
        t0, p0 = t1, p1
    return pieces


def group_days(hours: Iterable[tuple[int, Source, float]]) -> list[EnergyDay]:
    """Sum hourly Wh into local calendar days, one row per day and source.

    An hour belongs to the local day of its midpoint, so zones with half-hour
    offsets (India, Newfoundland) misplace at most half an hour at midnight.
    """
    totals: dict[tuple[str, Source], float] = {}
    for hour, source, wh in hours:
        day = time.strftime("%Y-%m-%d", time.localtime(hour + HOUR_S // 2))
        totals[day, source] = totals.get((day, source), 0.0) + wh
    ordered = sorted(totals.items(), key=lambda item: (item[0][0], _SOURCE_ORDER[item[0][1]]))
    return [EnergyDay(day, wh / 1000.0, source) for (day, source), wh in ordered]
