"""Tests of energy integration and its provenance labels."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from upsight.agent.history.energy import (
    EnergyDay,
    PowerSample,
    Source,
    group_days,
    integrate,
    power_of,
)
from upsight.drivers.model import Reading, Status, UpsFlag

OL = Status.of(UpsFlag.OL)


def test_reported_power_wins_over_the_estimate() -> None:
    reading = Reading(
        5.0, OL, {"ups.realpower": 120.0, "ups.load": 50.0, "ups.realpower.nominal": 400.0}
    )
    assert power_of(reading) == PowerSample(5.0, 120.0, "reported")


def test_power_is_estimated_from_load_and_nominal() -> None:
    reading = Reading(5.0, OL, {"ups.load": 50.0, "ups.realpower.nominal": 400.0})
    assert power_of(reading) == PowerSample(5.0, 200.0, "estimated")


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"ups.load": 50.0},
        {"ups.realpower.nominal": 400.0},
        {"ups.realpower": "n/a"},
        {"ups.realpower": math.nan},
    ],
)
def test_no_power_without_the_numbers(values: dict[str, float | str]) -> None:
    assert power_of(Reading(5.0, OL, values)) is None


def test_constant_power_over_one_second() -> None:
    pieces = integrate(
        PowerSample(7200.0, 500.0, "reported"), PowerSample(7201.0, 500.0, "reported")
    )
    assert [(hour, source) for hour, source, _ in pieces] == [(7200, "reported")]
    assert [wh for _, _, wh in pieces] == pytest.approx([500.0 / 3600])


def test_trapezoid_between_samples() -> None:
    pieces = integrate(PowerSample(0.0, 100.0, "reported"), PowerSample(2.0, 200.0, "reported"))
    assert [wh for _, _, wh in pieces] == pytest.approx([150.0 * 2 / 3600])


def test_mixed_sources_count_as_estimated() -> None:
    pieces = integrate(PowerSample(0.0, 100.0, "reported"), PowerSample(1.0, 100.0, "estimated"))
    assert [source for _, source, _ in pieces] == ["estimated"]


@pytest.mark.parametrize("dt", [10.5, 60.0, 0.0, -1.0])
def test_gaps_and_backward_time_are_not_integrated(dt: float) -> None:
    assert (
        integrate(PowerSample(100.0, 500.0, "reported"), PowerSample(100.0 + dt, 500.0, "reported"))
        == []
    )


def test_a_gap_of_exactly_the_limit_is_integrated() -> None:
    pieces = integrate(PowerSample(0.0, 360.0, "reported"), PowerSample(10.0, 360.0, "reported"))
    assert [wh for _, _, wh in pieces] == pytest.approx([1.0])


def test_interval_across_an_hour_is_split_linearly() -> None:
    # 0 W at 3598 s rising to 400 W at 3602 s: 100 W/s, 200 W at the hour.
    pieces = integrate(PowerSample(3598.0, 0.0, "reported"), PowerSample(3602.0, 400.0, "reported"))
    assert [(hour, source) for hour, source, _ in pieces] == [(0, "reported"), (3600, "reported")]
    assert pieces[0][2] == pytest.approx(100.0 * 2 / 3600)  # mean 100 W for 2 s
    assert pieces[1][2] == pytest.approx(300.0 * 2 / 3600)  # mean 300 W for 2 s


def test_days_follow_the_local_time_zone(set_tz: Callable[[str], None]) -> None:
    # 2024-01-01 22:00 UTC and 2024-01-02 01:00 UTC, 1 kWh each.
    hours: list[tuple[int, Source, float]] = [
        (1_704_146_400, "reported", 1000.0),
        (1_704_157_200, "reported", 1000.0),
    ]
    set_tz("UTC0")
    assert group_days(hours) == [
        EnergyDay("2024-01-01", 1.0, "reported"),
        EnergyDay("2024-01-02", 1.0, "reported"),
    ]
    set_tz("EST5")  # UTC-5: both hours fall on the 1st (17:00 and 20:00).
    assert group_days(hours) == [EnergyDay("2024-01-01", 2.0, "reported")]


def test_days_keep_sources_apart_reported_first() -> None:
    hours: list[tuple[int, Source, float]] = [
        (0, "estimated", 300.0),
        (3600, "reported", 200.0),
        (7200, "reported", 100.0),
    ]
    days = group_days(hours)
    assert [d.source for d in days] == ["reported", "estimated"]
    assert [d.kwh for d in days] == pytest.approx([0.3, 0.3])
    assert days[0].day == days[1].day
