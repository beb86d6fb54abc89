"""Tests of value decoding: bit extraction, sign, physical scaling and unit exponents."""

from __future__ import annotations

import pytest

from upsight.drivers.errors import ProtocolError
from upsight.drivers.hid.decode import (
    UNIT_AMPERE,
    UNIT_AMPERE_SECOND,
    UNIT_HERTZ,
    UNIT_KELVIN,
    UNIT_NONE,
    UNIT_SECOND,
    UNIT_VOLT,
    UNIT_WATT,
    ReportError,
    array_usage,
    decode,
    logical_value,
    physical_value,
    raw_value,
    unit_base_exponent,
)
from upsight.drivers.hid.descriptor import Field

from .hexdump import parse


def one_field(body: str, *, report_id: bool = True) -> Field:
    """The single field of a descriptor made of ``body`` inside UPS.PowerSummary."""
    header = "05 84 09 04 a1 01 09 24 a1 00" + (" 85 07" if report_id else "")
    (field,) = parse(f"{header} {body} 09 30 b1 02 c0 c0").fields
    return field


def test_bits_are_taken_least_significant_first_across_bytes() -> None:
    # Voltage: 12 bits at bit 4 of report 7.
    descriptor = parse(
        """
        05 84 85 07
        75 04 95 01 b1 03       # 4 bits of padding
        75 0c 27 ff 0f 00 00    # Report Size (12), Logical Maximum (4095)
        09 30 b1 02
        """
    )
    (voltage,) = descriptor.fields
    assert voltage.bit_offset == 4
    # Send: GET_REPORT(Feature, 7)   Recv: 07 5a c3 → bits 4..15 = 0xc35
    assert raw_value(voltage, bytes.fromhex("07 5a c3")) == 0xC35
    assert logical_value(voltage, bytes.fromhex("07 5a c3 ff ff")) == 0xC35


def test_without_report_ids_the_report_has_no_id_byte() -> None:
    field = one_field("75 10 95 01 27 ff ff 00 00", report_id=False)
    assert field.report_id == 0
    assert logical_value(field, bytes.fromhex("e6 00")) == 230


def test_values_are_sign_extended_only_when_logical_minimum_is_negative() -> None:
    signed = one_field("75 10 95 01 16 ff ff 26 ff 7f")  # -1..32767 (APC delays)
    unsigned = one_field("75 10 95 01 15 00 27 ff ff 00 00")  # 0..65535 (Legrand delays)
    report = bytes.fromhex("07 ff ff")
    assert logical_value(signed, report) == -1
    assert logical_value(unsigned, report) == 65535
    assert logical_value(signed, bytes.fromhex("07 ff 7f")) == 32767


def test_a_small_negative_range_sign_extends_narrow_fields() -> None:
    field = one_field("75 04 95 01 15 f8 25 07")  # -8..7 in 4 bits
    assert [logical_value(field, bytes((7, raw))) for raw in (0x0F, 0x08, 0x07)] == [-1, -8, 7]


def test_physical_equals_logical_when_extents_are_undefined_or_both_zero() -> None:
    undefined = one_field("75 08 95 01 26 ff 00")
    zero = one_field("75 08 95 01 26 ff 00 35 00 45 00")
    assert physical_value(undefined, 200) == physical_value(zero, 200) == 200.0


def test_physical_maps_the_logical_range_linearly() -> None:
    # CyberPower delays: Logical -1..32767 onto Physical -60..1966020, i.e. minutes → s.
    field = one_field("75 10 95 01 16 ff ff 26 ff 7f 35 c4 47 c4 ff 1d 00")
    assert physical_value(field, -1) == -60.0
    assert physical_value(field, 2) == 120.0
    halves = one_field("75 08 95 01 26 ff 00 35 00 46 fe 01")  # 0..255 onto 0..510
    assert physical_value(halves, 100) == 200.0


def test_an_empty_logical_range_keeps_the_value() -> None:
    field = one_field("75 08 95 01 15 05 25 05 35 00 45 64")
    assert physical_value(field, 5) == 5.0


@pytest.mark.parametrize(
    ("unit", "base"),
    [
        (UNIT_VOLT, 7),
        (UNIT_WATT, 7),
        (UNIT_AMPERE, 0),
        (UNIT_SECOND, 0),
        (UNIT_KELVIN, 0),
        (UNIT_HERTZ, 0),
        (UNIT_AMPERE_SECOND, 0),
        (UNIT_NONE, 0),
    ],
)
def test_unit_base_exponents(unit: int, base: int) -> None:
    assert unit_base_exponent(unit) == base


@pytest.mark.parametrize(
    ("unit_items", "raw", "expected"),
    [
        ("67 21 d1 f0 00 55 07", "e6 00", 230.0),  # volts, exponent 7: whole volts
        ("67 21 d1 f0 00 55 06", "f2 08", 229.0),  # Eaton, 0.1 V: 2290
        ("67 21 d1 f0 00 55 05", "aa 0a", 27.3),  # APC battery, 0.01 V: 2730
        ("66 21 d1 55 07", "98 08", 2200.0),  # VA / W at 7
        ("66 01 f0 55 0f", "f3 01", 49.9),  # Hz, -1
        ("67 01 00 10 00 55 0e", "32 00", 0.5),  # A, -2
        ("66 01 10 55 00", "10 0e", 3600.0),  # s
        ("65 00 55 00", "64 00", 100.0),  # percent: no unit
        ("67 21 d1 f0 00 55 01", "60 09", 0.0024),  # Legrand's wrong exponent, kept literal
    ],
)
def test_unit_exponent_is_relative_to_the_units_own_scale(
    unit_items: str, raw: str, expected: float
) -> None:
    field = one_field(f"75 10 95 01 27 ff ff 00 00 {unit_items}")
    assert decode(field, bytes.fromhex(f"07 {raw}")) == expected


def test_decode_chains_sign_physical_and_units() -> None:
    # Logical -1..32767 onto Physical -60..1966020 s, Unit second, exponent 0.
    field = one_field("75 10 95 01 16 ff ff 26 ff 7f 35 c4 47 c4 ff 1d 00 66 01 10 55 00")
    assert decode(field, bytes.fromhex("07 ff ff")) == -60.0


def test_a_report_with_another_id_is_refused() -> None:
    field = one_field("75 08 95 01")
    with pytest.raises(ReportError, match=r"expected report 0x07, got 0x08"):
        raw_value(field, bytes.fromhex("08 01"))
    with pytest.raises(ReportError, match="got nothing"):
        raw_value(field, b"")


def test_a_short_report_is_refused_not_padded() -> None:
    field = one_field("75 20 95 01")
    with pytest.raises(ReportError, match="has 2 data bytes") as caught:
        decode(field, bytes.fromhex("07 01 02"))
    assert isinstance(caught.value, ProtocolError)


def test_over_long_reports_are_fine() -> None:
    field = one_field("75 08 95 01 26 ff 00")
    assert decode(field, bytes.fromhex("07 2a ff ff ff")) == 42.0


def test_array_elements_select_a_usage_by_index_from_logical_minimum() -> None:
    descriptor = parse(
        """
        05 85 85 03
        19 44 29 47             # Usage Minimum (Charging) .. Maximum (FullyDischarged)
        75 08 95 02 15 01 25 04 # two 8-bit slots, values 1..4
        81 00                   # Input (Data, Array, Abs)
        """
    )
    first, second = descriptor.fields
    report = bytes.fromhex("03 02 00")  # slot 0 selects the 2nd usage, slot 1 nothing
    assert array_usage(first, report) == 0x00850045  # Discharging
    assert array_usage(second, report) is None
    assert array_usage(first, bytes.fromhex("03 04 05")) == 0x00850047


def test_array_usage_refuses_a_variable() -> None:
    field = one_field("75 08 95 01")
    with pytest.raises(ValueError, match=r"UPS\.PowerSummary\.Voltage is a variable"):
        array_usage(field, bytes.fromhex("07 01"))
