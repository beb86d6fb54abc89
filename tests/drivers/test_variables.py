"""Which NUT variables are numbers and how device text converts."""

from __future__ import annotations

import pytest

from upsight.drivers.variables import is_measurement, is_numeric, parse_value


@pytest.mark.parametrize(
    "var",
    [
        "battery.charge",
        "battery.charge.low",
        "battery.runtime",
        "battery.voltage.nominal",
        "input.voltage",
        "input.transfer.high",
        "input.frequency",
        "output.voltage",
        "ups.load",
        "ups.realpower.nominal",
        "ups.temperature",
        "ups.timer.shutdown",
        "ups.delay.start",
        "input.L1-N.voltage",
        "outlet.1.current",
        "ambient.humidity",
    ],
)
def test_numeric(var: str) -> None:
    assert is_numeric(var)


@pytest.mark.parametrize(
    "var",
    [
        "ups.serial",
        "device.serial",
        "ups.productid",
        "ups.vendorid",
        "battery.date",
        "ups.firmware",
        "ups.model",
        "battery.type",
        "input.sensitivity",
        "ups.beeper.status",
        "input.transfer.reason",
        "ups.test.result",
        "driver.version",
    ],
)
def test_textual(var: str) -> None:
    assert not is_numeric(var)


def test_parse_is_lenient_about_format() -> None:
    assert parse_value("ups.load", "023.4") == 23.4
    assert parse_value("battery.voltage.nominal", " 024 ") == 24.0
    assert parse_value("ups.productid", "0002") == "0002"
    assert parse_value("ups.model", "Ellipse PRO 650 ") == "Ellipse PRO 650"


@pytest.mark.parametrize("text", ["---.-", "", "nan", "inf", "n/a"])
def test_numeric_placeholders_are_unknown(text: str) -> None:
    assert parse_value("input.voltage", text) is None


@pytest.mark.parametrize(
    "var",
    [
        "battery.charge",
        "battery.runtime",
        "battery.voltage",
        "input.voltage",
        "input.frequency",
        "output.voltage",
        "ups.load",
        "ups.realpower",
        "ups.temperature",
        "input.voltage.maximum",
    ],
)
def test_measurements_have_history(var: str) -> None:
    assert is_measurement(var)


@pytest.mark.parametrize(
    "var",
    [
        "battery.charge.low",
        "battery.runtime.low",
        "battery.voltage.nominal",
        "input.transfer.high",
        "ups.realpower.nominal",
        "ups.delay.shutdown",
        "ups.timer.start",
        "ups.test.interval",
        "ups.model",
        "battery.charge.warning",
    ],
)
def test_settings_and_text_have_none(var: str) -> None:
    assert not is_measurement(var)
