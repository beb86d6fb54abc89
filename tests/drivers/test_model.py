"""Status parsing, serial cleaning and value formatting of the shared model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upsight.drivers.model import Reading, Status, UpsFlag, clean_serial, format_value

ALL_TOKENS = [
    "OL",
    "OB",
    "LB",
    "HB",
    "RB",
    "CHRG",
    "DISCHRG",
    "BYPASS",
    "CAL",
    "OFF",
    "OVER",
    "TRIM",
    "BOOST",
    "FSD",
    "ALARM",
]


def test_every_nut_token_is_a_flag() -> None:
    status = Status.parse(" ".join(ALL_TOKENS))
    assert status.unknown == ()
    for token in ALL_TOKENS:
        assert UpsFlag[token] in status


def test_discharging_does_not_imply_charging() -> None:
    status = Status.parse("OB DISCHRG")
    assert UpsFlag.DISCHRG in status
    assert UpsFlag.CHRG not in status


def test_unknown_tokens_are_kept_in_order_after_known_ones() -> None:
    status = Status.parse("ECO OL WAIT CHRG ECO")
    assert status.flags == UpsFlag.OL | UpsFlag.CHRG
    assert status.unknown == ("ECO", "WAIT")
    assert str(status) == "OL CHRG ECO WAIT"


@given(st.permutations(ALL_TOKENS))
def test_order_of_tokens_does_not_matter(tokens: list[str]) -> None:
    assert Status.parse(" ".join(tokens)) == Status.parse(" ".join(ALL_TOKENS))


def test_canonical_order_puts_fsd_first() -> None:
    assert str(Status.parse("LB OB FSD")) == "FSD OB LB"


@pytest.mark.parametrize(
    ("text", "critical"),
    [("OB LB", True), ("FSD OL", True), ("OL CHRG LB", False), ("OB DISCHRG", False)],
)
def test_critical_needs_ob_and_lb_or_fsd(text: str, critical: bool) -> None:
    assert Status.parse(text).critical is critical


@pytest.mark.parametrize(
    ("serial", "clean"),
    [
        ("000000000000", None),
        ("Gxxxxxxxx", None),
        ("unknown", None),
        ("  ", None),
        (None, None),
        ("QB0540131574", "QB0540131574"),
        (" AS0123 ", "AS0123"),
    ],
)
def test_fake_serials_become_none(serial: str | None, clean: str | None) -> None:
    assert clean_serial(serial) == clean


def test_reading_values_are_frozen_and_absent_is_none() -> None:
    source: dict[str, float | str] = {"battery.charge": 87.0, "ups.model": "X"}
    reading = Reading(1.0, Status.parse("OL"), source)
    source["battery.charge"] = 1.0
    assert reading.number("battery.charge") == 87.0
    assert reading.number("battery.runtime") is None
    assert reading.number("ups.model") is None
    with pytest.raises(TypeError):
        reading.values["x"] = 1.0  # type: ignore[index]


def test_as_nut_includes_status_and_prints_like_upsc() -> None:
    reading = Reading(
        1.0,
        Status.parse("OL CHRG"),
        {"input.voltage": 228.0, "battery.voltage": 13.6, "ups.productid": "0002"},
    )
    assert reading.as_nut() == {
        "battery.voltage": "13.6",
        "input.voltage": "228",
        "ups.productid": "0002",
        "ups.status": "OL CHRG",
    }
    assert format_value(0.1 + 0.2) == "0.30000000000000004"
