"""Event derivation from status transitions."""

from __future__ import annotations

import pytest

from upsight.agent.events import EventKind, Severity, diff, make_event
from upsight.drivers.model import Reading, Status

K = EventKind


def kinds(before: str | None, after: str) -> list[EventKind]:
    return diff(None if before is None else Status.parse(before), Status.parse(after))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("OL", "OL", []),
        ("OL", "OB DISCHRG", [K.ONBATT]),
        ("OB DISCHRG", "OL CHRG", [K.ONLINE]),
        ("OL", "OL CHRG", [K.CHARGING]),
        ("OB DISCHRG", "OB DISCHRG LB", [K.LOWBATT]),
        ("OL", "OB LB", [K.ONBATT, K.LOWBATT]),
        ("OB LB", "OL CHRG LB", [K.ONLINE]),
        ("OL CHRG LB", "OL CHRG", [K.BATTERY_OK]),
        ("OL CHRG", "OL", [K.CHARGED]),
        ("OL CHRG", "OB DISCHRG", [K.ONBATT]),
        ("OL", "OL RB", [K.REPLBATT]),
        ("OL RB", "OL", [K.REPLBATT_CLEARED]),
        ("OL", "OL OVER", [K.OVERLOAD]),
        ("OL OVER", "OL", [K.OVERLOAD_CLEARED]),
        ("OL", "FSD OL", [K.FSD]),
        ("OL", "OL ECO", []),
        ("OB", "OFF", []),
    ],
)
def test_transitions(before: str, after: str, expected: list[EventKind]) -> None:
    assert kinds(before, after) == expected


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("OL", []),
        ("OL CHRG", []),
        ("OB DISCHRG", [K.ONBATT]),
        ("OB DISCHRG LB", [K.ONBATT, K.LOWBATT]),
        ("OL RB", [K.REPLBATT]),
    ],
)
def test_first_reading_reports_only_abnormal_states(first: str, expected: list[EventKind]) -> None:
    assert kinds(None, first) == expected


def test_messages_carry_the_numbers_that_matter() -> None:
    reading = Reading(
        10.0,
        Status.parse("OB DISCHRG"),
        {"battery.charge": 87.0, "battery.runtime": 840.0, "ups.load": 31.0},
    )
    event = make_event(11.0, "ups", K.ONBATT, reading)
    assert event.message == "On battery: 87 %, about 14 min left"
    assert event.severity is Severity.WARNING
    assert event.data["battery.charge"] == 87.0
    assert event.data["ups.status"] == "OB DISCHRG"


def test_missing_runtime_is_not_reported_as_zero() -> None:
    reading = Reading(10.0, Status.parse("OB DISCHRG LB"), {"battery.charge": 12.0})
    assert make_event(10.0, "ups", K.LOWBATT, reading).message == "Low battery: 12 %"
