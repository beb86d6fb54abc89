"""Tests of the report-descriptor parser on small hand-written and real descriptors."""

from __future__ import annotations

import pytest

from upsight.drivers.hid.descriptor import (
    Collection,
    Field,
    ItemType,
    MainFlags,
    ReportDescriptor,
    ReportType,
    iter_items,
)

from .captures import by_name
from .hexdump import parse, unhex

FEATURE = ReportType.FEATURE
INPUT = ReportType.INPUT

# A small Power Device descriptor that later tests extend.
UPS_OPEN = """
05 84           # Usage Page (Power Device)
09 04           # Usage (UPS)
a1 01           # Collection (Application)
09 24           #   Usage (PowerSummary)
a1 00           #   Collection (Physical)
85 01           #     Report ID (1)
75 08           #     Report Size (8)
95 01           #     Report Count (1)
15 00           #     Logical Minimum (0)
26 ff 00        #     Logical Maximum (255)
"""
UPS_CLOSE = """
c0              #   End Collection
c0              # End Collection
"""


def ups(body: str) -> ReportDescriptor:
    return parse(UPS_OPEN + body + UPS_CLOSE)


def paths(descriptor: ReportDescriptor) -> list[tuple[str, int, int]]:
    return [(f.path(), f.bit_offset, f.bit_size) for f in descriptor.fields]


# --- items ------------------------------------------------------------------


def test_items_split_short_items_with_0_1_2_and_4_data_bytes() -> None:
    items = list(iter_items(unhex("c0 85 01 26 ff 00 67 21 d1 f0 00")))
    assert [(i.offset, i.name, i.data) for i in items] == [
        (0, "End Collection", b""),
        (1, "Report ID", b"\x01"),
        (3, "Logical Maximum", b"\xff\x00"),
        (6, "Unit", b"\x21\xd1\xf0\x00"),
    ]
    assert items[3].unsigned == 0x00F0D121
    assert str(items[1]) == "Report ID [85 01]"


def test_item_data_reads_signed_at_its_own_width() -> None:
    one, two, four = iter_items(unhex("25 ff 26 ff 00 17 01 00 00 80"))
    assert (one.signed, one.unsigned) == (-1, 255)
    assert (two.signed, two.unsigned) == (255, 255)
    assert four.signed == -2147483647


def test_long_items_are_read_whole_and_change_nothing() -> None:
    plain = ups("09 30 b1 02  # Usage (Voltage), Feature (Data, Var, Abs)")
    with_long = ups(
        """
        fe 03 f1 aa bb cc   # Long Item: 3 data bytes, tag 0xf1
        09 30 b1 02         # Usage (Voltage), Feature
        fe 00 10            # Long Item with no data
        """
    )
    longs = [i for i in with_long.items if i.type is ItemType.LONG]
    assert [(i.tag, i.data, i.name) for i in longs] == [
        (0xF1, b"\xaa\xbb\xcc", "Long Item"),
        (0x10, b"", "Long Item"),
    ]
    assert str(longs[0]) == "Long Item [fe 03 f1 aa bb cc]"
    assert paths(with_long) == paths(plain) == [("UPS.PowerSummary.Voltage", 0, 8)]


def test_reserved_items_are_skipped_without_clearing_the_usage_list() -> None:
    descriptor = ups(
        """
        09 30       # Usage (Voltage)
        d0          # reserved Main tag 0xd
        c5 07       # reserved Global tag 0xc
        69 01       # reserved Local tag 0x6
        fc          # reserved item type 3
        b1 02       # Feature (Data, Var, Abs)
        """
    )
    assert paths(descriptor) == [("UPS.PowerSummary.Voltage", 0, 8)]
    names = [i.name for i in descriptor.items]
    assert "Reserved Main Item 0xd" in names
    assert "Reserved Global Item 0xc" in names
    assert "Reserved Local Item 0x6" in names


# --- global state -----------------------------------------------------------


def test_push_saves_and_pop_restores_every_global_including_report_id() -> None:
    descriptor = ups(
        """
        67 21 d1 f0 00  # Unit (Volt)
        55 07           # Unit Exponent (7)
        a4              # Push
        85 02           #   Report ID (2)
        75 10           #   Report Size (16)
        65 00           #   Unit (none)
        55 0e           #   Unit Exponent (-2)
        09 31 b1 02     #   Usage (Current), Feature
        b4              # Pop
        09 30 b1 02     # Usage (Voltage), Feature
        """
    )
    current, voltage = descriptor.fields
    assert (current.report_id, current.bit_size, current.unit, current.unit_exponent) == (
        2,
        16,
        0,
        -2,
    )
    assert (voltage.report_id, voltage.bit_size, voltage.unit, voltage.unit_exponent) == (
        1,
        8,
        0x00F0D121,
        7,
    )
    assert voltage.bit_offset == 0  # report 1 was untouched by report 2's field


def test_nested_push_pop_unwinds_in_order() -> None:
    descriptor = ups(
        """
        a4 75 10 a4 75 20   # Push, Size 16, Push, Size 32
        09 30 b1 02         # Voltage: 32 bits
        b4 09 31 b1 02      # Pop; Current: 16 bits
        b4 09 32 b1 02      # Pop; Frequency: 8 bits
        """
    )
    assert [f.bit_size for f in descriptor.fields] == [32, 16, 8]
    assert [f.bit_offset for f in descriptor.fields] == [0, 32, 48]


@pytest.mark.parametrize(
    ("item", "exponent"),
    [
        ("55 00", 0),
        ("55 07", 7),
        ("55 08", -8),
        ("55 0e", -2),
        ("55 0f", -1),
        ("55 fe", -2),  # a whole signed byte, as some firmware writes it
        ("56 ff ff", -1),
    ],
)
def test_unit_exponent_is_a_4_bit_signed_nibble(item: str, exponent: int) -> None:
    descriptor = ups(f"{item} 09 30 b1 02")
    assert descriptor.fields[0].unit_exponent == exponent


def test_unit_and_exponent_carry_over_until_changed() -> None:
    descriptor = ups(
        """
        66 01 f0        # Unit (Hertz)
        55 0f           # Unit Exponent (-1)
        09 32 b1 02     # Usage (Frequency): Hz, -1
        09 42 b1 02     # Usage (ConfigFrequency): still Hz, -1
        65 00           # Unit (none); the exponent stays
        09 35 b1 02     # Usage (PercentLoad)
        """
    )
    assert [(f.unit, f.unit_exponent) for f in descriptor.fields] == [
        (0xF001, -1),
        (0xF001, -1),
        (0, -1),
    ]


def test_signed_logical_ranges() -> None:
    descriptor = ups(
        """
        75 10 16 ff ff 26 ff 7f 09 57 b1 02     # DelayBeforeShutdown: -1..32767
        75 20 17 01 00 00 80 27 ff ff ff 7f     # -2147483647..2147483647
        09 56 b1 02                             # DelayBeforeStartup
        """
    )
    shutdown, startup = descriptor.fields
    assert (shutdown.logical_minimum, shutdown.logical_maximum) == (-1, 32767)
    assert (startup.logical_minimum, startup.logical_maximum) == (-(2**31) + 1, 2**31 - 1)


def test_a_maximum_below_a_non_negative_minimum_is_read_unsigned() -> None:
    # `15 00 25 ff` (iDowell, APC) means 0..255: signed it would be 0..-1.
    descriptor = ups(
        """
        25 ff 09 66 b1 02                       # RemainingCapacity: 0..0xff
        75 20 27 ff ff ff fe 09 68 b1 02        # RunTimeToEmpty: 0..0xfeffffff
        15 ff 25 ff 09 57 b1 02                 # -1..-1 stays signed
        """
    )
    assert [(f.logical_minimum, f.logical_maximum) for f in descriptor.fields] == [
        (0, 255),
        (0, 0xFEFFFFFF),
        (-1, -1),
    ]


def test_physical_extents_are_undefined_until_declared() -> None:
    descriptor = ups(
        """
        09 30 b1 02             # Voltage: no Physical items yet
        35 c4 46 ff 00          # Physical Minimum (-60), Maximum (255)
        09 31 b1 02             # Current
        """
    )
    voltage, current = descriptor.fields
    assert (voltage.physical_minimum, voltage.physical_maximum) == (None, None)
    assert (current.physical_minimum, current.physical_maximum) == (-60, 255)


# --- usages -----------------------------------------------------------------


def test_a_short_usage_takes_the_page_in_force_when_it_is_read() -> None:
    descriptor = ups(
        """
        05 85 09 d0 09 44       # Usage Page (Battery System): ACPresent, Charging
        05 84 09 65             # Usage Page (Power Device): Overload
        75 01 95 03 25 01 b1 02 # three 1-bit Feature fields
        """
    )
    assert [f.usage for f in descriptor.fields] == [0x008500D0, 0x00850044, 0x00840065]
    assert [f.path() for f in descriptor.fields] == [
        "UPS.PowerSummary.ACPresent",
        "UPS.PowerSummary.Charging",
        "UPS.PowerSummary.Overload",
    ]


def test_gxt5_report_8_switches_pages_inside_one_usage_list() -> None:
    descriptor = ReportDescriptor.from_bytes(by_name("vertiv-liebert-gxt5").descriptor)
    report = descriptor.report(FEATURE, 0x08)
    assert report is not None
    assert [f.usage for f in report.fields[:10]] == [
        0x008500D0,  # ACPresent
        0x00850044,  # Charging
        0x00850045,  # Discharging
        0x00850042,  # BelowRemainingCapacityLimit
        0x008500D1,  # BatteryPresent
        0x00850046,  # FullyCharged
        0x00850047,  # FullyDischarged
        0x00840065,  # Overload: page 0x84 set mid-list
        0x0085004B,  # NeedReplacement: back to 0x85 for the next item
        0x00840067,  # OverTemperature
    ]


def test_a_4_byte_usage_carries_its_own_page() -> None:
    descriptor = ups(
        """
        06 ff ff                # Usage Page (0xffff)
        0b 30 00 84 00          # Usage (0x00840030 Voltage), extended
        09 f0                   # Usage (0xffff00f0)
        95 02 b1 02
        """
    )
    assert [f.path() for f in descriptor.fields] == [
        "UPS.PowerSummary.Voltage",
        "UPS.PowerSummary.ffff00f0",
    ]


def test_the_last_usage_repeats_when_count_exceeds_the_usages() -> None:
    descriptor = ups("75 10 95 03 09 40 b1 02  # three ConfigVoltage values, as on the GXT5")
    expected = [("UPS.PowerSummary.ConfigVoltage", offset, 16) for offset in (0, 16, 32)]
    assert paths(descriptor) == expected
    assert [f.index for f in descriptor.fields] == [0, 1, 2]


def test_usage_minimum_maximum_expand_in_order() -> None:
    descriptor = ups(
        """
        05 85 19 42 29 45       # Usage Minimum/Maximum (0x42..0x45)
        75 01 95 05 25 01 b1 02 # five bits: the last usage repeats
        """
    )
    assert [f.usage & 0xFFFF for f in descriptor.fields] == [0x42, 0x43, 0x44, 0x45, 0x45]


def test_a_huge_usage_range_on_a_variable_expands_only_what_it_needs() -> None:
    descriptor = ups("1b 00 00 84 00 2b ff ff 84 00 95 02 b1 02")
    assert [f.usage for f in descriptor.fields] == [0x00840000, 0x00840001]


def test_array_fields_list_their_selectable_usages() -> None:
    descriptor = ups(
        """
        19 01 29 05             # Usage Minimum (iName), Maximum (PowerSupply)
        95 02 25 05 81 00       # Input (Data, Array, Abs), two slots
        """
    )
    first, second = descriptor.fields
    assert first.is_array
    assert second.is_array
    assert first.usages == second.usages == (0x840001, 0x840002, 0x840003, 0x840004, 0x840005)
    assert (first.report_type, first.bit_offset, second.bit_offset) == (INPUT, 0, 8)


def test_delimited_usages_keep_only_the_preferred_one() -> None:
    descriptor = ups(
        """
        a9 01 09 30 09 31 a9 00 # Delimiter set: Voltage, or Current
        09 32                   # Usage (Frequency)
        95 02 b1 02
        """
    )
    assert [f.usage for f in descriptor.fields] == [0x840030, 0x840032]


# --- main items -------------------------------------------------------------


def test_main_item_flags_include_2_byte_data() -> None:
    descriptor = ups(
        """
        09 30 b2 a2 01          # Feature, 2-byte data 0x1a2 (APC, CyberPower)
        09 31 b1 03             # Feature (Constant, Var, Abs)
        """
    )
    buffered, constant = descriptor.fields
    assert buffered.flags == (
        MainFlags.VARIABLE | MainFlags.NO_PREFERRED | MainFlags.VOLATILE | MainFlags.BUFFERED_BYTES
    )
    assert not buffered.is_constant
    assert not buffered.is_array
    assert constant.is_constant  # Minuteman, iDowell: still carries live values
    assert constant.path() == "UPS.PowerSummary.Current"


def test_padding_without_usage_moves_the_offset_but_is_no_field() -> None:
    descriptor = ups(
        """
        09 30 75 01 b1 02       # Voltage: 1 bit
        75 07 b1 03             # 7 bits of constant padding, no usage
        09 31 75 08 b1 02       # Current at bit 8
        """
    )
    assert paths(descriptor) == [
        ("UPS.PowerSummary.Voltage", 0, 1),
        ("UPS.PowerSummary.Current", 8, 8),
    ]
    report = descriptor.report(FEATURE, 1)
    assert report is not None
    assert (report.bit_length, report.byte_length) == (16, 3)


def test_bit_offsets_run_per_report_id_and_type_across_collections() -> None:
    descriptor = parse(
        """
        05 84 09 04 a1 01       # UPS
        75 08 95 01 26 ff 00
        09 1a a1 00             #   Input collection
        85 05 09 30 b1 02       #     report 5 Feature: bit 0
        85 06 09 30 b1 02       #     report 6 Feature: bit 0
        85 05 09 30 81 02       #     report 5 Input: bit 0, its own count
        c0
        09 1c a1 00             #   Output collection
        85 05 09 30 b1 02       #     report 5 Feature again: bit 8
        c0
        c0
        """
    )
    assert [(f.path(), f.report_type, f.report_id, f.bit_offset) for f in descriptor.fields] == [
        ("UPS.Input.Voltage", FEATURE, 5, 0),
        ("UPS.Input.Voltage", FEATURE, 6, 0),
        ("UPS.Input.Voltage", INPUT, 5, 0),
        ("UPS.Output.Voltage", FEATURE, 5, 8),
    ]
    assert descriptor.uses_report_ids


def test_eaton_9px_report_3_has_different_input_and_feature_layouts() -> None:
    descriptor = ReportDescriptor.from_bytes(by_name("eaton-9px-2200grt-l").descriptor)
    feature = descriptor.report(FEATURE, 0x03)
    entry = descriptor.report(INPUT, 0x03)
    assert feature is not None
    assert entry is not None
    assert [(f.bit_offset, f.usage) for f in feature.fields] == [
        (0, 0x00840073),  # CommunicationLost
        (8, 0xFFFF002E),  # CompatibilityFailure: Feature only
        (16, 0xFFFF0068),  # EmergencyStop
        (24, 0xFFFF0077),  # FanFailure
        (32, 0x00840067),  # OverTemperature
    ]
    assert [(f.bit_offset, f.usage) for f in entry.fields] == [
        (0, 0x00840073),
        (8, 0xFFFF0068),
        (16, 0xFFFF0077),
        (24, 0x00840067),
    ]
    assert (feature.byte_length, entry.byte_length) == (6, 5)


def test_eaton_report_0x0b_gathers_fields_from_several_collections() -> None:
    descriptor = ReportDescriptor.from_bytes(by_name("eaton-9px-2200grt-l").descriptor)
    report = descriptor.report(FEATURE, 0x0B)
    assert report is not None
    assert [(f.bit_offset, f.path()) for f in report.fields] == [
        (0, "UPS.Flow.[1].FlowID"),
        (8, "UPS.Flow.[4].FlowID"),
        (16, "UPS.PowerSummary.ffff0098"),
        (24, "UPS.PowerSummary.ffff0095"),
        (32, "UPS.PowerSummary.FlowID"),
        (40, "UPS.PowerSummary.PowerSummaryID"),
    ]


def test_no_report_id_means_id_0_and_no_id_byte() -> None:
    descriptor = parse("05 84 09 30 75 10 95 01 b1 02  # Usage (Voltage), Feature")
    (report,) = descriptor.reports
    assert (report.report_id, report.byte_length) == (0, 2)
    assert not descriptor.uses_report_ids
    assert descriptor.fields[0].collections == ()
    assert descriptor.fields[0].path() == "Voltage"


def test_collections_record_usage_and_type() -> None:
    descriptor = parse(
        """
        05 84 09 04 a1 01       # UPS (Application)
        a1 00                   #   Collection with no usage
        09 1e a1 81             #   Flow, vendor type 0x81
        09 30 75 08 95 01 b1 02
        c0 c0 c0
        """
    )
    (voltage,) = descriptor.fields
    assert voltage.collections == (
        Collection(0x840004, 1, 4),
        Collection(None, 0, 6),
        Collection(0x84001E, 0x81, 10),
    )
    assert voltage.path() == "UPS.00000000.Flow.[1].Voltage"


def test_find_and_field_at_locate_fields() -> None:
    descriptor = ups("75 10 95 03 09 40 b1 02")
    found = descriptor.find("UPS.PowerSummary.ConfigVoltage")
    assert [f.bit_offset for f in found] == [0, 16, 32]
    second = descriptor.field_at(FEATURE, 1, 16)
    assert isinstance(second, Field)
    assert second.index == 1
    assert descriptor.field_at(FEATURE, 1, 8) is None
    assert descriptor.field_at(INPUT, 1, 0) is None
    assert descriptor.find("UPS.PowerSummary.Voltage") == ()


def test_items_and_bytes_are_kept() -> None:
    data = unhex(UPS_OPEN + "09 30 b1 02" + UPS_CLOSE)
    descriptor = ReportDescriptor.from_bytes(data)
    assert descriptor.data == data
    assert b"".join(item.raw for item in descriptor.items) == data
