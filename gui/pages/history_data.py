"""What the History page shows, fetched from the agent's history routes as frozen values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Final

from upsight.agent.history.store import ON_BATTERY

CHART_VARS: Final = ("battery.charge", "ups.load", "input.voltage", "battery.runtime")
_OUTAGE_KINDS: Final = ["ONBATT", "ONLINE"]

Call = Callable[..., Any]


@dataclass(frozen=True)
class TimeRange:
    """One of the page's range buttons: how far back the charts go.

    Attributes:
        key: A stable name ("1h", "24h", "7d", "90d").
        span_s: How far back from now the charts start.
        energy_days: How many calendar days (today included) the energy bars cover;
            never fewer than a week, since one or two bars say little.
    """

    key: str
    span_s: int
    energy_days: int


RANGES: Final = (
    TimeRange("1h", 3600, 7),
    TimeRange("24h", 86400, 7),
    TimeRange("7d", 7 * 86400, 7),
    TimeRange("90d", 90 * 86400, 90),
)


@dataclass(frozen=True)
class HistoryRequest:
    """One fetch: a device, a range, the moment it ends at, and the plot's width in points."""

    device: str
    range: TimeRange
    until: float
    max_points: int

    @property
    def since(self) -> float:
        return self.until - self.range.span_s


@dataclass(frozen=True)
class Series:
    """One variable's points: bucket start (or sample time), min/avg/max in NUT units, count."""

    var: str
    t: tuple[float, ...]
    lo: tuple[float, ...]
    avg: tuple[float, ...]
    hi: tuple[float, ...]
    n: tuple[int, ...]


@dataclass(frozen=True)
class Outage:
    """A stretch of time on battery; ``ongoing`` when it had not ended at the fetch."""

    start: float
    end: float
    ongoing: bool


@dataclass(frozen=True)
class EnergyDay:
    """Energy used on one local calendar day; None where no energy was recorded."""

    day: date
    reported_kwh: float | None
    estimated_kwh: float | None


@dataclass(frozen=True)
class HistoryData:
    """Everything one fetch returned, ready to draw."""

    request: HistoryRequest
    series: tuple[Series, ...]
    outages: tuple[Outage, ...]
    energy: tuple[EnergyDay, ...]

    @property
    def empty(self) -> bool:
        """True when the store held nothing at all for this device and window."""
        return (
            not any(s.t for s in self.series)
            and not self.outages
            and all(d.reported_kwh is None and d.estimated_kwh is None for d in self.energy)
        )

    def get(self, var: str) -> Series | None:
        return next((s for s in self.series if s.var == var), None)


def fetch(call: Call, request: HistoryRequest) -> HistoryData:
    """Ask the agent for everything the page draws; blocking, so run it off the GUI thread.

    Args:
        call: ``Bridge.call`` or anything with its signature.
        request: What to fetch.

    Raises:
        ApiError: A route failed or the agent is unreachable.
    """
    device, since, until = request.device, request.since, request.until
    series = tuple(_series(call, request, var) for var in CHART_VARS)
    on_battery = _series(call, request, ON_BATTERY)
    before = call("events", device=device, until=since, kinds=_OUTAGE_KINDS, limit=1)
    inside = call("events", device=device, since=since, until=until, kinds=_OUTAGE_KINDS)
    transitions = [(float(e["at"]), e["kind"] == "ONBATT") for e in [*before, *inside]]
    outages = outage_bands(transitions, on_battery.t, on_battery.hi, until)
    first_day = datetime.fromtimestamp(until).date() - timedelta(days=request.range.energy_days - 1)
    rows = call(
        "energy",
        device=device,
        since=datetime.combine(first_day, time()).timestamp(),
        until=until,
    )
    return HistoryData(request, series, outages, energy_days(rows, first_day, until))


def _series(call: Call, request: HistoryRequest, var: str) -> Series:
    points = call(
        "history",
        device=request.device,
        var=var,
        since=request.since,
        until=request.until,
        max_points=request.max_points,
    )
    return Series(
        var,
        tuple(float(p["t"]) for p in points),
        tuple(float(p["min"]) for p in points),
        tuple(float(p["avg"]) for p in points),
        tuple(float(p["max"]) for p in points),
        tuple(int(p["n"]) for p in points),
    )


def step_of(times: Sequence[float]) -> float:
    """The width of one bucket: the smallest gap between consecutive points (0 for one point)."""
    return min((b - a for a, b in pairwise(times) if b > a), default=0.0)


def outage_bands(
    transitions: Sequence[tuple[float, bool]],
    on_battery_t: Sequence[float],
    on_battery_hi: Sequence[float],
    now: float,
) -> tuple[Outage, ...]:
    """Outages from ONBATT (True) and ONLINE (False) events, oldest first.

    An ONBATT ends at the next ONLINE. Without one (the computer was shut down
    during the outage, so no ONLINE was ever recorded), the outage ends where
    the recorded status last showed the battery before it showed mains again
    (nowhere, if it never showed the battery after the ONBATT); if the record
    never shows mains again, the outage is still going and extends to ``now``.

    Args:
        transitions: ``(time, is_onbatt)`` in time order; include the last one
            before the window so an outage that began earlier is found.
        on_battery_t: Bucket starts of the on-battery series.
        on_battery_hi: Each bucket's maximum (above 0: some time on battery).
        now: The end of the window.
    """
    step = step_of(on_battery_t)

    def recorded_end(start: float, limit: float) -> float:
        last_on: float | None = None
        for t, hi in zip(on_battery_t, on_battery_hi, strict=True):
            if t + step <= start:
                continue
            if t >= limit:
                break
            if hi > 0:
                last_on = t
            else:
                # Nothing on battery recorded after the ONBATT: no evidence how long it lasted.
                return start if last_on is None else min(limit, last_on + step)
        return limit

    bands: list[Outage] = []
    start: float | None = None
    for at, onbatt in transitions:
        if onbatt and start is None:
            start = at
        elif onbatt and start is not None:
            bands.append(Outage(start, recorded_end(start, at), ongoing=False))
            start = at
        elif start is not None:
            bands.append(Outage(start, at, ongoing=False))
            start = None
    if start is not None:
        end = recorded_end(start, now)
        bands.append(Outage(start, end, ongoing=end >= now))
    return tuple(band for band in bands if band.end > band.start)


def energy_days(rows: Sequence[Any], first_day: date, until: float) -> tuple[EnergyDay, ...]:
    """One entry per calendar day from ``first_day`` to the day of ``until``, from energy rows."""
    by_day: dict[tuple[str, str], float] = {
        (str(r["day"]), str(r["source"])): float(r["kwh"]) for r in rows
    }
    last_day = datetime.fromtimestamp(until).date()
    days: list[EnergyDay] = []
    day = first_day
    while day <= last_day:
        key = day.isoformat()
        reported = by_day.get((key, "reported"))
        estimated = by_day.get((key, "estimated"))
        days.append(EnergyDay(day, reported, estimated))
        day += timedelta(days=1)
    return tuple(days)
