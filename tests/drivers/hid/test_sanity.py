"""The plausibility table: readings outside physical sense are rejected, with a reason."""

from __future__ import annotations

import pytest

from upsight.drivers.hid.sanity import RULES, Ceiling, Plausible, Rejection, Sentinel, check
from upsight.drivers.model import Status, UpsFlag, Value

ON_LINE = Status.of(UpsFlag.OL)
ON_BATTERY = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)
OFF = Status.of(UpsFlag.OL, UpsFlag.OFF)


def rejected(values: dict[str, Value], status: Status = ON_LINE) -> dict[str, Rejection]:
    kept, refused = check(values, status)
    assert set(kept) | set(refused) == set(values)
    assert not set(kept) & set(refused)
    return refused


@pytest.mark.parametrize(
    ("var", "value", "status"),
    [
        ("input.frequency", 5990.0, ON_LINE),  # Tripp Lite SMART1500LCDT under old NUT
        ("input.frequency", 870.0, ON_BATTERY),  # Minuteman, Hertz with exponent 1
        ("output.frequency", 0.0, ON_LINE),
        ("output.voltage", 0.0, ON_LINE),  # 0 V out while on line
        ("output.voltage", 0.0, ON_BATTERY),  # the inverter feeds the load
        ("input.voltage", 0.001233, ON_LINE),  # Minuteman, Volt with exponent 1
        ("battery.runtime", 65535.0, ON_LINE),  # cannot estimate
        ("battery.runtime", 8 * 86400.0, ON_LINE),
        ("battery.temperature", 101.0, ON_LINE),
        ("ups.temperature", -41.0, ON_LINE),
        ("ambient.temperature", 373.0, ON_LINE),  # Kelvin that was never converted
        ("battery.charge", 101.0, ON_LINE),
        ("battery.charge", -1.0, ON_LINE),
        ("battery.charge.low", 255.0, ON_LINE),
        ("battery.voltage", 0.0004, ON_LINE),
        ("input.transfer.low", 0.0, ON_LINE),
        ("ups.load", 255.0, ON_LINE),
        ("output.powerfactor", 80.0, ON_LINE),
    ],
)
def test_implausible_values_are_rejected(var: str, value: float, status: Status) -> None:
    assert set(rejected({var: value}, status)) == {var}


@pytest.mark.parametrize(
    ("var", "value", "status"),
    [
        ("input.frequency", 60.0, ON_LINE),
        ("input.frequency", 0.0, ON_BATTERY),  # no mains: 0 Hz is a reading
        ("input.voltage", 0.0, ON_BATTERY),
        ("input.voltage", 121.0, ON_LINE),
        ("output.voltage", 0.0, OFF),  # the output is switched off
        ("output.voltage", 230.0, ON_BATTERY),
        ("battery.runtime", 65534.0, ON_LINE),
        ("battery.runtime", 125040.0, ON_LINE),  # iDowell's 34 h
        ("battery.temperature", 100.0, ON_LINE),
        ("ups.temperature", -40.0, ON_LINE),
        ("battery.charge", 0.0, ON_BATTERY),
        ("battery.charge", 100.0, ON_LINE),
        ("battery.voltage", 13.43, ON_LINE),
        ("battery.voltage.nominal", 12.0, ON_LINE),
        ("ups.timer.shutdown", -60.0, ON_LINE),  # CyberPower's idle value
        ("ups.load", 110.0, ON_LINE),  # overloaded, but real
    ],
)
def test_plausible_values_are_kept(var: str, value: float, status: Status) -> None:
    assert rejected({var: value}, status) == {}


def test_rejections_carry_the_value_and_the_reason() -> None:
    refused = rejected({"battery.runtime": 65535.0})
    assert refused["battery.runtime"].value == 65535.0
    assert "cannot estimate" in refused["battery.runtime"].reason


def test_current_above_twice_the_rating_is_rejected() -> None:
    rating = {"ups.power.nominal": 1500.0, "output.voltage.nominal": 120.0}
    assert set(rejected({**rating, "output.current": 220.0})) == {"output.current"}
    assert rejected({**rating, "output.current": 12.0}) == {}
    # Without a rating there is nothing to compare with.
    assert rejected({"output.current": 220.0}) == {}


def test_power_above_twice_the_rating_is_rejected() -> None:
    values: dict[str, Value] = {"ups.realpower.nominal": 900.0, "ups.realpower": 2000.0}
    assert set(rejected(values)) == {"ups.realpower"}
    assert rejected({"ups.realpower.nominal": 900.0, "ups.realpower": 950.0}) == {}


def test_text_values_are_not_judged() -> None:
    assert rejected({"battery.charge": "full", "ups.test.result": "Done and passed"}) == {}


def test_the_table_is_declarative() -> None:
    assert all(isinstance(rule, Plausible | Sentinel | Ceiling) for rule in RULES)
    assert all(rule.reason for rule in RULES)
    ranges = [r for r in RULES if isinstance(r, Plausible)]
    assert all(r.low < r.high for r in ranges)
