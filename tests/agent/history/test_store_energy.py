"""Tests of energy accounting through the history store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.agent.history.conftest import T0
from tests.agent.history.helpers import feed
from upsight.agent.history.store import EnergyDay, HistoryStore

DAY = 86_400


def summary(days: list[EnergyDay]) -> list[tuple[str, str, float]]:
    """(day, source, kWh rounded to the Wh) per row."""
    return [(d.day, d.source, round(d.kwh, 6)) for d in days]


def test_one_hour_at_500_w_is_half_a_kwh(
    store: HistoryStore, set_tz: Callable[[str], None]
) -> None:
    set_tz("UTC0")
    feed(store, T0, 3601, lambda i: {"ups.realpower": 500.0})
    store.flush()
    assert summary(store.energy("ups", T0 - DAY, T0 + DAY)) == [("2023-11-14", "reported", 0.5)]


def test_estimated_energy_is_kept_apart(store: HistoryStore, set_tz: Callable[[str], None]) -> None:
    set_tz("UTC0")
    # First hour: the UPS reports W. Second hour: only load % of a 1000 W unit.
    feed(store, T0, 3601, lambda i: {"ups.realpower": 500.0, "ups.realpower.nominal": 1000.0})
    feed(store, T0 + 3601, 3600, lambda i: {"ups.load": 25.0, "ups.realpower.nominal": 1000.0})
    store.flush()
    days = store.energy("ups", T0 - DAY, T0 + DAY)
    assert [(d.day, d.source) for d in days] == [
        ("2023-11-14", "reported"),
        ("2023-11-14", "estimated"),
    ]
    assert days[0].kwh == pytest.approx(0.5)
    # 3599 s at 250 W, plus the changeover second counted as estimated (500 W -> 250 W).
    assert days[1].kwh == pytest.approx((3599 * 250 + 375) / 3.6e6)


def test_gaps_are_not_integrated(store: HistoryStore, set_tz: Callable[[str], None]) -> None:
    set_tz("UTC0")
    feed(store, T0, 10, lambda i: {"ups.realpower": 360.0})  # 9 s
    feed(store, T0 + 30, 11, lambda i: {"ups.realpower": 360.0})  # 10 s after a 21 s gap
    store.flush()
    (day,) = store.energy("ups", T0 - DAY, T0 + DAY)
    assert day.kwh == pytest.approx(19 * 360 / 3.6e6)


def test_energy_is_grouped_into_local_days(
    store: HistoryStore, set_tz: Callable[[str], None]
) -> None:
    # T0 is 22:00 UTC: four hours at 1000 W end at 02:00 UTC the next day.
    feed(store, T0, 4 * 3600 + 1, lambda i: {"ups.realpower": 1000.0})
    store.flush()
    set_tz("UTC0")
    assert summary(store.energy("ups", T0 - DAY, T0 + DAY)) == [
        ("2023-11-14", "reported", 2.0),
        ("2023-11-15", "reported", 2.0),
    ]
    set_tz("EST5")  # 17:00 to 21:00 local: one day
    assert summary(store.energy("ups", T0 - DAY, T0 + DAY)) == [("2023-11-14", "reported", 4.0)]
    set_tz("UTC0")
    # Only the hours whose midpoint is in the window.
    assert summary(store.energy("ups", T0 + 2 * 3600, T0 + DAY)) == [
        ("2023-11-15", "reported", 2.0)
    ]


def test_energy_of_unknown_device(store: HistoryStore) -> None:
    assert store.energy("nope", T0, T0 + DAY) == []
