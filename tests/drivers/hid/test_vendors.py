"""Vendor modules: who claims which VID:PID, their usage names, quirk rows and repairs."""

from __future__ import annotations

import pytest

from upsight.drivers.hid.descriptor import ReportDescriptor, ReportType
from upsight.drivers.hid.mapping import (
    GENERIC,
    GENERIC_TABLE,
    Convert,
    HidVar,
    Mapper,
    decode_reports,
    map_reports,
)
from upsight.drivers.hid.vendors import VENDORS, apc, cyberpower, liebert, tripplite, vendor_for
from upsight.drivers.hid.vendors.phoenixtec import VENDOR as PHOENIXTEC
from upsight.drivers.model import Value

from .captures import CAPTURES, Capture, by_name


@pytest.mark.parametrize(
    ("vid", "pid", "name"),
    [
        (0x051D, 0x0002, "APC"),
        (0x051D, 0x0003, "APC"),
        (0x0764, 0x0501, "CyberPower"),
        (0x0764, 0x0601, "CyberPower"),
        (0x0483, 0xA430, "CyberPower"),  # Cyber Energy on ST Microelectronics' VID
        (0x0483, 0x5740, "generic"),  # some other ST-based device
        (0x0463, 0xFFFF, "Eaton"),
        (0x09AE, 0x4003, "Tripp Lite"),
        (0x09AE, 0x0001, "generic"),  # serial-over-USB, not HID
        (0x03F0, 0x1FE3, "Tripp Lite"),  # HP T1500 G3
        (0x03F0, 0x0002, "generic"),  # an HP device that is no UPS
        (0x10AF, 0x1000, "Liebert"),
        (0x0D9F, 0x0004, "Powercom"),
        (0x06DA, 0xFFFF, "Phoenixtec"),
        (0x06DA, 0x0002, "generic"),
        (0x05DD, 0xA0A0, "generic"),  # Delta/Minuteman: no module yet
        (0x1CB0, 0x0032, "generic"),
    ],
)
def test_vendor_for_claims_by_vid_and_pid(vid: int, pid: int, name: str) -> None:
    assert vendor_for(vid, pid).name == name


def test_each_vid_pid_is_claimed_by_at_most_one_vendor() -> None:
    pairs = [(c.vid, c.pid) for c in CAPTURES] + [(0x03F0, 0x1FE3), (0x0483, 0xA430)]
    for vid, pid in pairs:
        assert sum(v.claim(vid, pid) for v in VENDORS) <= 1


def test_vendor_usages_are_on_vendor_pages_and_extend_the_generic_names() -> None:
    for vendor in VENDORS:
        assert all(usage >> 16 >= 0xFF00 for usage in vendor.usages), vendor.name
        assert all(vendor.names[u] == name for u, name in vendor.usages.items())
        assert vendor.names[0x00840004] == "UPS"


def test_vendor_rows_come_first_and_suppressed_generic_rows_go() -> None:
    table = tripplite.VENDOR.table(0x3016)
    battery = [r for r in table if isinstance(r, HidVar) and r.var == "battery.voltage"]
    assert battery[0] is tripplite.VENDOR.pid_rows[0x3016][0]
    generic_battery = next(
        r for r in GENERIC_TABLE if isinstance(r, HidVar) and r.var == "battery.voltage"
    )
    assert generic_battery not in table
    assert GENERIC.table(0) == GENERIC_TABLE


def mapped_values(capture: Capture) -> dict[str, Value]:
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    vendor = vendor_for(capture.vid, capture.pid)
    return map_reports(descriptor, capture.feature_reports(), vendor, capture.pid).values


# --- APC ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0x092501, "2001/09/25"),  # Back-UPS ES 850G2's placeholder date
        (0x102202, "2002/10/22"),
        (0x010199, "1999/01/01"),
        (0, None),  # not set
        (0x1A2501, None),  # not decimal digits
        (0x132501, None),  # month 13
    ],
)
def test_apc_replace_date_is_hex_as_decimal(value: int, text: str | None) -> None:
    assert apc.apc_date(float(value)) == text


def test_apc_runtime_of_65535_is_no_reading() -> None:
    assert apc.apc_runtime(65535.0) is None
    assert apc.apc_runtime(868.0) == 868.0


def test_apc_back_ups_input_voltage_range_is_widened_to_hold_the_transfer_points() -> None:
    # BX1600MI: Input.Voltage 0..255 while HighVoltageTransfer goes to 300.
    descriptor = ReportDescriptor.from_bytes(by_name("apc-back-ups-bx1600mi").descriptor)
    fixed = apc.fix_descriptor(descriptor, apc.BACK_UPS)
    (voltage,) = fixed.find("UPS.Input.Voltage")
    assert (voltage.logical_minimum, voltage.logical_maximum) == (0, 600)
    # A 260 V mains reading is now a reading.
    data = bytes.fromhex("31 04 01")
    assert decode_reports(fixed, {(ReportType.FEATURE, 0x31): data})[voltage] == 260.0
    assert not decode_reports(descriptor, {(ReportType.FEATURE, 0x31): data})
    # Guarded by product ID: other APC products are left alone.
    assert apc.fix_descriptor(descriptor, 0x0003) is descriptor


def test_apc_vendor_rows_on_a_real_capture() -> None:
    values = mapped_values(by_name("apc-back-ups-es-850g2"))
    assert values["battery.date"] == "2001/09/25"
    assert values["input.sensitivity"] == "medium"
    assert values["input.transfer.reason"] == "no transfer"


# --- CyberPower -----------------------------------------------------------------------


def test_cyberpower_output_voltage_range_copied_from_the_transfer_range_is_repaired() -> None:
    capture = by_name("cyberpower-cp1500pfclcd")
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    (output,) = descriptor.find("UPS.Output.Voltage")
    assert (output.logical_minimum, output.logical_maximum) == (136, 142)
    fixed = cyberpower.fix_descriptor(descriptor, cyberpower.PR_FAMILY)
    (output,) = fixed.find("UPS.Output.Voltage")
    (line,) = fixed.find("UPS.Input.Voltage")
    (power,) = fixed.find("UPS.Output.ConfigActivePower")
    assert (output.logical_minimum, output.logical_maximum) == (0, 511)
    assert (line.logical_minimum, line.logical_maximum) == (0, 511)
    assert power.logical_maximum == 2048
    # Without the repair the 121 V output is out of range and not shown;
    # NUT's older masking turned such a value into 138 V.
    unfixed = map_reports(
        descriptor, capture.feature_reports(), cyberpower.VENDOR, 0x0501, fix=False
    )
    assert "output.voltage" not in unfixed.values
    assert mapped_values(capture)["output.voltage"] == 121.0


def test_cyberpower_repair_is_guarded_by_product_and_by_the_bug() -> None:
    descriptor = ReportDescriptor.from_bytes(by_name("cyberpower-cp1500pfclcd").descriptor)
    assert cyberpower.fix_descriptor(descriptor, 0x0005) is descriptor
    # The OR2200's output range is its own (0..255): only the power maximum moves.
    other = ReportDescriptor.from_bytes(by_name("cyberpower-or2200lcdrt2u").descriptor)
    fixed = cyberpower.fix_descriptor(other, cyberpower.OR_FAMILY)
    (output,) = fixed.find("UPS.Output.Voltage")
    assert (output.logical_minimum, output.logical_maximum) == (0, 255)
    assert fixed.find("UPS.Output.ConfigActivePower")[0].logical_maximum == 2048


@pytest.mark.parametrize(
    ("value", "hz"), [(499.0, 49.9), (600.0, 60.0), (50.0, 50.0), (59.9, 59.9), (5990.0, 5990.0)]
)
def test_cyberpower_frequency_ten_times_too_high_is_divided(value: float, hz: float) -> None:
    assert cyberpower.mains_frequency(value) == hz


def test_cyberpower_frequency_rows_apply_to_the_0501_family_only() -> None:
    assert any(
        r.var == "input.frequency"
        for r in cyberpower.VENDOR.table(0x0501)
        if isinstance(r, HidVar) and r.convert is cyberpower.mains_frequency
    )
    assert not any(
        isinstance(r, HidVar) and r.convert is cyberpower.mains_frequency
        for r in cyberpower.VENDOR.table(0x0601)
    )


def test_cyberpower_battery_voltage_above_1_4_times_nominal_is_scaled_by_two_thirds() -> None:
    values: dict[str, Value] = {"battery.voltage": 36.0, "battery.voltage.nominal": 24.0}
    assert cyberpower.fix_values(values, cyberpower.PR_FAMILY) == {"battery.voltage"}
    assert values["battery.voltage"] == 24.0
    normal: dict[str, Value] = {"battery.voltage": 27.0, "battery.voltage.nominal": 24.0}
    assert cyberpower.fix_values(dict(normal), cyberpower.PR_FAMILY) == frozenset()
    assert cyberpower.fix_values(dict(values, **{"battery.voltage": 36.0}), 0x0601) == frozenset()


def test_cyberpower_charge_is_clamped_and_delays_are_whole_minutes() -> None:
    assert cyberpower.clamped_charge(103.0) == 100.0
    descriptor = ReportDescriptor.from_bytes(by_name("cyberpower-cp1500pfclcd").descriptor)
    commands = Mapper(descriptor, cyberpower.VENDOR, 0x0501).commands()
    assert commands["load.off.delay"][1] == 60.0
    assert commands["load.on.delay"][1] == 120.0


# --- Tripp Lite ------------------------------------------------------------------------


def scaling(pid: int, var: str) -> Convert:
    """The converter of the first row for ``var`` in a Tripp Lite product's table."""
    row = next(r for r in tripplite.VENDOR.table(pid) if isinstance(r, HidVar) and r.var == var)
    assert row.convert is not None
    return row.convert


def test_tripp_lite_scales_per_product() -> None:
    # SMART1500LCDT (0x3016): old NUT showed 5990 Hz and 0 V for this family.
    smart = 0x3016
    assert scaling(smart, "input.frequency")(5990.0) == 59.9
    assert scaling(smart, "output.voltage")(0.0012) == 120.0
    assert scaling(smart, "battery.voltage")(0.000135) == 13.5
    assert scaling(smart, "output.current")(250.0) == 2.5
    # OMNI1000LCD (0x2005): battery voltage 10x too high.
    assert scaling(0x2005, "battery.voltage")(135.0) == 13.5
    assert scaling(0x2005, "input.frequency")(60.0) == 60.0
    # SmartOnline 0x4003: no scaling.
    assert scaling(0x4003, "battery.voltage")(13.5) == 13.5


def test_tripp_lite_capture_reads_output_voltage_and_transfer_limits() -> None:
    values = mapped_values(by_name("tripplite-09ae-4003"))
    assert values["output.voltage"] == 120.0
    assert values["input.frequency"] == 60.0
    assert (values["input.transfer.high.min"], values["input.transfer.high.max"]) == (133.0, 138.0)


# --- Liebert, Powercom, Phoenixtec, Eaton ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.001212, 121.2), (230.0, 230.0), (2.39, 239.0), (0.0, 0.0), (1e-12, None)],
)
def test_liebert_line_voltages_move_by_decades_into_the_mains_range(
    value: float, expected: float | None
) -> None:
    assert liebert.decade_fix(80, 500)(value) == expected


def test_liebert_frequency_in_tenths_is_repaired() -> None:
    assert liebert.decade_fix(40, 70)(600.0) == 60.0


def test_liebert_gxt5_line_voltages_are_not_taken_for_the_battery() -> None:
    values = mapped_values(by_name("vertiv-liebert-gxt5"))
    assert "battery.voltage" not in values
    assert "battery.voltage.nominal" not in values  # ConfigVoltage 238 V is a line voltage


def test_powercom_line_voltage_is_not_taken_for_the_battery() -> None:
    values = mapped_values(by_name("powercom-0d9f-0004"))
    assert "battery.voltage" not in values
    assert "battery.voltage.nominal" not in values
    assert "ups.timer.shutdown" not in values
    assert values["input.voltage"] == 228.0


def test_phoenixtec_input_transfer_points_come_from_its_vendor_usages() -> None:
    rows = [
        r
        for r in PHOENIXTEC.table(0xFFFF)
        if isinstance(r, HidVar) and r.var == "input.transfer.low"
    ]
    assert [r.paths for r in rows] == [("UPS.PowerConverter.Output.ffff0057",)]


def test_eaton_rows_on_a_real_capture() -> None:
    values = mapped_values(by_name("eaton-5sc-750"))
    assert values["battery.capacity"] == 7.0  # 25200 As
    assert values["output.powerfactor"] == 0.8
    assert values["input.transfer.boost.low"] == 198.0
    assert values["ups.type"] == "offline / line interactive"
    assert values["battery.charger.status"] == "resting"
