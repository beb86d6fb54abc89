"""Tests of the Power Device and Battery System usage names."""

from __future__ import annotations

import re

import pytest

from upsight.drivers.hid.usages import (
    BATTERY_SYSTEM_PAGE,
    POWER_DEVICE_PAGE,
    USAGE_NAMES,
    usage_name,
)

from .captures import CAPTURES


@pytest.mark.parametrize(
    ("usage", "name"),
    [
        (0x00840004, "UPS"),
        (0x00840024, "PowerSummary"),
        (0x00840030, "Voltage"),
        (0x00840057, "DelayBeforeShutdown"),
        (0x008400FD, "iManufacturer"),
        (0x00850066, "RemainingCapacity"),
        (0x00850068, "RunTimeToEmpty"),
        (0x00850089, "iDeviceChemistry"),  # NUT's spelling, not the spec's "iDevicechemistery"
        (0x0085008B, "Rechargeable"),
        (0x008500D0, "ACPresent"),
    ],
)
def test_known_usages_are_named_as_nut_names_them(usage: int, name: str) -> None:
    assert usage_name(usage) == name


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (0xFFFF00F0, "ffff00f0"),  # vendor page
        (0x00840091, "00840091"),  # reserved on page 0x84 (GXT5)
        (0x00010030, "00010030"),  # another page altogether
    ],
)
def test_unknown_usages_print_as_8_hex_digits(usage: int, text: str) -> None:
    assert usage_name(usage) == text


def test_vendor_tables_extend_the_generic_names() -> None:
    names = {**USAGE_NAMES, 0xFF860016: "APCBattReplaceDate"}
    assert usage_name(0xFF860016, names) == "APCBattReplaceDate"
    assert usage_name(0x00850066, names) == "RemainingCapacity"


def test_table_holds_only_pages_0x84_and_0x85() -> None:
    assert {usage >> 16 for usage in USAGE_NAMES} == {POWER_DEVICE_PAGE, BATTERY_SYSTEM_PAGE}
    assert all(name.isidentifier() for name in USAGE_NAMES.values())


def test_every_standard_name_in_the_captures_is_in_the_table() -> None:
    # NUT's generic names for both pages, as the 13 logs print them; vendor
    # names and hex codes are the only other components.
    known = set(USAGE_NAMES.values())
    vendor = {name for c in CAPTURES for name in c.names.values()} - known
    components = {part for c in CAPTURES for line in c.paths for part in line["path"].split(".")}
    unexplained = {
        part
        for part in components - known - vendor
        if not re.fullmatch(r"[0-9a-f]{8}|\[\d+\]", part)
    }
    assert unexplained == set()
