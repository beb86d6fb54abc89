"""The HID → NUT mapping: agreement with NUT on real captures, status logic, the generic table."""

from __future__ import annotations

import math

import pytest

from upsight.drivers.hid.descriptor import ReportDescriptor, ReportType
from upsight.drivers.hid.mapping import (
    GENERIC,
    GENERIC_TABLE,
    HidFlag,
    HidVar,
    Mapped,
    Mapper,
    Poll,
    decode_reports,
    field_value,
    hid_date,
    idle_timer,
    kelvin_to_celsius,
    lookup,
    map_reports,
    status_from,
)
from upsight.drivers.hid.vendors import vendor_for
from upsight.drivers.hid.vendors.eaton import VENDOR as EATON
from upsight.drivers.model import Status, UpsFlag, Value

from .captures import CAPTURES, Capture, by_name


def mapped(capture: Capture, reports: dict[tuple[ReportType, int], bytes] | None = None) -> Mapped:
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    vendor = vendor_for(capture.vid, capture.pid)
    return map_reports(descriptor, reports or capture.feature_reports(), vendor, capture.pid)


# --- agreement with NUT's upsc output ------------------------------------------

# Variables NUT shows that no report holds: identity from USB string
# descriptors, NUT's own settings (ups.delay.shutdown is its offdelay default),
# driver metadata, vendor usages of a maker with no vendor module yet (Delta:
# battery.capacity, input.source, ups.delay.start) and reports the capture
# does not include (Minuteman's Frequency reports 0x19/0x1c).
NOT_IN_REPORTS = {
    "apc-back-ups-es-850g2": {
        "battery.type",
        "device.mfr",
        "device.model",
        "device.type",
        "driver.version.data",
        "ups.delay.shutdown",
        "ups.firmware",
        "ups.firmware.aux",
    },
    "minuteman-05dd-a0a0": {
        "battery.capacity",
        "battery.type",
        "device.mfr",
        "device.model",
        "device.type",
        "driver.version.data",
        "input.frequency",
        "input.source",
        "output.frequency",
        "ups.delay.start",
        "ups.mfr",
        "ups.model",
        "ups.productid",
        "ups.vendorid",
    },
}

# Where NUT shows a firmware bug, the value Upsight gives instead (None: left out).
CORRECTED: dict[str, dict[str, float | None]] = {
    "minuteman-05dd-a0a0": {
        # Volt declared with Unit Exponent 1 for a raw value in 0.1 V: 412 reads
        # 0.0004 V (NUT: 0.0); the sanity table rejects it rather than show 0 V.
        "battery.voltage": None,
        "input.voltage": None,
        # Raw 1217 lies outside the declared logical range 0..255: no reading.
        "output.voltage": None,
        # Ampere with exponent 1: 220 A from a 1500 VA / 120 V unit is over
        # twice the rated current, so the sanity table rejects it.
        "output.current": None,
        # Unsigned 16-bit countdowns: 65535 is -1, "no countdown".
        "ups.timer.reboot": -1.0,
        "ups.timer.shutdown": -1.0,
        "ups.timer.start": -1.0,
    },
}

# (matched, corrected, missing) per device with upsc values.
AGREEMENT = {
    "apc-back-ups-es-850g2": (11, 0, 8),
    "minuteman-05dd-a0a0": (14, 7, 14),
}

WITH_NUT_VALUES = [c for c in CAPTURES if c.nut_values]


def agrees(ours: Value, theirs: str) -> bool:
    """Equal text, or numbers equal to within half a unit of NUT's last printed digit."""
    if isinstance(ours, str):
        return ours == theirs
    decimals = len(theirs.partition(".")[2])
    return math.isclose(ours, float(theirs), abs_tol=0.5 * 10.0**-decimals + 1e-9)


def classify(capture: Capture) -> dict[str, str]:
    result = mapped(capture)
    ours: dict[str, Value] = {**result.values, "ups.status": str(result.status)}
    corrected = CORRECTED.get(capture.name, {})
    assert capture.nut_values is not None
    verdicts = {}
    for var, theirs in capture.nut_values.items():
        if var in corrected:
            expected = corrected[var]
            assert ours.get(var) == expected, (var, ours.get(var))
            verdicts[var] = "corrected"
        elif var in NOT_IN_REPORTS[capture.name]:
            assert var not in ours, var
            verdicts[var] = "missing"
        else:
            assert var in ours, var
            assert agrees(ours[var], theirs), (var, ours[var], theirs)
            verdicts[var] = "matched"
    return verdicts


@pytest.mark.parametrize("capture", WITH_NUT_VALUES, ids=lambda c: c.name)
def test_variables_agree_with_nut_except_known_firmware_bugs(capture: Capture) -> None:
    verdicts = classify(capture)
    counts = tuple(
        sum(v == kind for v in verdicts.values()) for kind in ("matched", "corrected", "missing")
    )
    print(f"{capture.name}: matched {counts[0]}, corrected {counts[1]}, missing {counts[2]}")
    assert counts == AGREEMENT[capture.name]


def test_the_agreement_covers_every_capture_with_upsc_values() -> None:
    assert sorted(c.name for c in WITH_NUT_VALUES) == sorted(AGREEMENT)


# --- every capture -----------------------------------------------------------------

# The values that show each vendor's decoding, one or two per capture.
SPOT_CHECKS = [
    ("apc-back-ups-bx1600mi", "battery.voltage", 27.3),  # Volt exponent 5
    ("apc-back-ups-bx1600mi", "battery.mfr.date", "2001/01/01"),
    ("apc-back-ups-bx1600mi", "input.transfer.reason", "self test (automatic)"),
    ("apc-back-ups-es-850g2", "ups.load", 34.0),  # UPS.PowerConverter.PercentLoad
    ("apc-smart-ups-1500-rm", "battery.temperature", 15.25),  # 288.4 K
    ("apc-smart-ups-1500-rm", "ups.load", 10.4),
    ("apc-smart-ups-1500-rm", "output.current", 0.5),
    ("cyberpower-cp1500pfclcd", "output.voltage", 121.0),  # after the range repair
    ("cyberpower-cp1500pfclcd", "input.sensitivity", "normal"),
    ("cyberpower-or2200lcdrt2u", "ups.load", 46.0),
    ("eaton-5sc-750", "battery.voltage", 25.8),
    ("eaton-5sc-750", "input.frequency", 49.9),
    ("eaton-5sc-750", "output.voltage", 228.4),
    ("eaton-9px-2200grt-l", "battery.voltage.nominal", 72.0),
    ("eaton-9px-2200grt-l", "ups.power.nominal", 2200.0),
    ("idowell-075d-0300", "battery.runtime", 125040.0),  # 32-bit field
    ("legrand-1cb0-0032", "ups.power.nominal", 800.0),
    ("minuteman-05dd-a0a0", "battery.runtime", 2117.0),
    ("powercom-0d9f-0004", "ups.temperature", 39.0),  # no unit: already Celsius
    ("tripplite-09ae-4003", "battery.temperature", 23.85),  # 297 K
    ("tripplite-09ae-4003", "input.transfer.low.min", 65.0),
    ("vertiv-liebert-gxt5", "battery.runtime", 36.0),
]


@pytest.mark.parametrize(("name", "var", "expected"), SPOT_CHECKS)
def test_spot_values(name: str, var: str, expected: Value) -> None:
    assert mapped(by_name(name)).values[var] == expected


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_capture_is_on_line_with_a_charge(capture: Capture) -> None:
    # All thirteen logs were taken on mains power (README, notes); iDowell's status
    # report is missing from its log, so for it nothing may be claimed.
    result = mapped(capture)
    assert str(result.status) == ("" if capture.name == "idowell-075d-0300" else "OL")
    assert result.values["battery.charge"] == 100.0


def test_only_the_wrong_exponent_captures_have_rejections() -> None:
    rejected = {c.name: sorted(mapped(c).rejected) for c in CAPTURES if mapped(c).rejected}
    assert rejected == {
        "legrand-1cb0-0032": ["battery.voltage", "input.voltage", "output.current"],
        "minuteman-05dd-a0a0": ["battery.voltage", "input.voltage", "output.current"],
    }


def test_a_capture_without_its_status_report_claims_no_status() -> None:
    # iDowell's PresentStatus sits in Feature report 0x01, which the log lacks.
    result = mapped(by_name("idowell-075d-0300"))
    assert result.status == Status()
    assert result.estimated == frozenset()
    assert mapped(by_name("apc-back-ups-es-850g2")).estimated == frozenset()


def test_a_later_on_battery_poll_of_powercom_reads_ob_discharging() -> None:
    # The Powercom log's second poll, quoted in the fixture notes.
    capture = by_name("powercom-0d9f-0004")
    reports = capture.feature_reports()
    for data in ("0a 0a 00", "0e 4e", "37 dc 05", "1d 00 00", "2e 00 00", "1e 00"):
        raw = bytes.fromhex(data)
        reports[(ReportType.FEATURE, raw[0])] = raw
    result = mapped(capture, reports)
    assert str(result.status) == "OB DISCHRG"
    assert result.values["battery.charge"] == 78.0
    assert result.values["battery.runtime"] == 1500.0
    # No mains: 0 V and 0 Hz in are readings on battery, not errors.
    assert result.values["input.voltage"] == 0.0
    assert result.values["input.frequency"] == 0.0


def test_a_later_on_battery_poll_of_legrand_reads_ob_discharging() -> None:
    capture = by_name("legrand-1cb0-0032")
    reports = capture.feature_reports()
    reports[(ReportType.FEATURE, 0x32)] = bytes.fromhex("32 00 00 28")
    assert str(mapped(capture, reports).status) == "OB DISCHRG"


# --- status logic (protocols.md 6.4) ------------------------------------------------

_STATUS_ROWS = [
    r
    for r in GENERIC_TABLE
    if isinstance(r, HidFlag) and r.paths[0].startswith("UPS.PowerSummary.PresentStatus.")
]


def answered(**values: float) -> list[tuple[HidFlag, float]]:
    """The generic PresentStatus rows for the given usages, with those values."""
    found = [
        (row, value)
        for name, value in values.items()
        for row in _STATUS_ROWS
        if row.paths[0].rsplit(".", 1)[1] == name
    ]
    assert {row.paths[0].rsplit(".", 1)[1] for row, _ in found} == set(values)
    return found


def status(charge: float | None = None, **values: float) -> str:
    return str(status_from(answered(**values), charge)[0])


def test_ac_present_gives_ol_and_its_absence_ob() -> None:
    assert status(ACPresent=1) == "OL"
    assert status(ACPresent=0) == "OB"


def test_discharging_without_a_power_state_report_means_ob_and_is_inferred() -> None:
    flags, inferred = status_from(answered(Discharging=1))
    assert (str(flags), inferred) == ("OB DISCHRG", True)
    assert status(Discharging=0) == "OL"
    assert status_from(answered(ACPresent=1))[1] is False


def test_no_status_row_answered_claims_no_status() -> None:
    assert status_from([]) == (Status(), False)


def test_ol_discharging_is_reported_as_the_device_says() -> None:
    # Calibration on APC, a real power loss on CyberPower UT: no guess is made.
    assert status(ACPresent=1, Discharging=1) == "OL DISCHRG"


@pytest.mark.parametrize(
    ("fully_charged", "charge", "expected"),
    [
        (0, 100.0, "OL CHRG"),  # the device's own flag decides when it has one
        (1, 50.0, "OL"),
        (None, 80.0, "OL CHRG"),  # without FullyCharged, the charge decides
        (None, 100.0, "OL"),
        (None, None, "OL CHRG"),
    ],
)
def test_chrg_only_when_not_fully_charged(
    fully_charged: int | None, charge: float | None, expected: str
) -> None:
    flags = {"ACPresent": 1.0, "Charging": 1.0}
    if fully_charged is not None:
        flags["FullyCharged"] = fully_charged
    assert status(charge, **flags) == expected


@pytest.mark.parametrize(
    "usage", ["BelowRemainingCapacityLimit", "RemainingTimeLimitExpired", "ShutdownImminent"]
)
def test_lb_from_any_of_the_three_flags(usage: str) -> None:
    assert status(**{"ACPresent": 0, usage: 1}) == "OB LB"
    assert status(**{"ACPresent": 0, usage: 0}) == "OB"


def test_rb_from_need_replacement_or_a_missing_battery() -> None:
    assert status(ACPresent=1, NeedReplacement=1) == "OL RB"
    assert status(ACPresent=1, BatteryPresent=0) == "OL RB"
    assert status(ACPresent=1, BatteryPresent=1, NeedReplacement=0) == "OL"


def test_over_from_overload() -> None:
    assert status(ACPresent=1, Overload=1) == "OL OVER"


def test_an_ob_indication_wins_over_ac_present() -> None:
    # Eaton: the battery input of the power converter is in use.
    battery_input = next(
        r for r in EATON.rows if isinstance(r, HidFlag) and "Input.[3]" in r.paths[0]
    )
    flags, inferred = status_from([*answered(ACPresent=1), (battery_input, 1.0)])
    assert (str(flags), inferred) == ("OB", False)


# --- decoding and the generic table ---------------------------------------------------


def test_input_and_feature_layouts_that_differ_are_kept_apart() -> None:
    # Eaton 9PX report 0x03: the Feature layout has an extra first field.
    descriptor = ReportDescriptor.from_bytes(by_name("eaton-9px-2200grt-l").descriptor)
    data = bytes.fromhex("03 00 11 22 33 44")
    as_feature = decode_reports(descriptor, {(ReportType.FEATURE, 3): data})
    as_input = decode_reports(descriptor, {(ReportType.INPUT, 3): data})
    assert {f.report_type for f in as_feature} == {ReportType.FEATURE}
    assert {f.report_type for f in as_input} == {ReportType.INPUT}
    fan = {
        f.report_type: v
        for f, v in {**as_feature, **as_input}.items()
        if f.path(EATON.names).endswith(".FanFailure")
    }
    assert fan == {ReportType.FEATURE: 0x33, ReportType.INPUT: 0x22}


def test_identical_layouts_share_the_bytes() -> None:
    # NUT reads Input-only reports as Feature; the bytes hold the Input fields.
    capture = by_name("apc-back-ups-bx1600mi")
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    values = decode_reports(descriptor, capture.feature_reports())
    assert any(f.report_type is ReportType.INPUT and f.report_id == 0x13 for f in values)


def test_values_outside_the_logical_range_are_no_reading() -> None:
    capture = by_name("vertiv-liebert-gxt5")
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    (temperature,) = descriptor.find("UPS.PowerSummary.Temperature")
    assert field_value(temperature, capture.reports[0x07]) is None  # 65535 > 65534
    assert "ups.temperature" not in mapped(capture).values


def test_fields_by_poll_class() -> None:
    capture = by_name("cyberpower-cp1500pfclcd")
    mapper = Mapper(ReportDescriptor.from_bytes(capture.descriptor), GENERIC)
    quick = {f.path() for f in mapper.fields_for(Poll.QUICK)}
    static = {f.path() for f in mapper.fields_for(Poll.STATIC)}
    assert "UPS.PowerSummary.PresentStatus.ACPresent" in quick
    assert "UPS.Output.DelayBeforeShutdown" in quick
    assert "UPS.PowerSummary.RemainingCapacity" not in quick
    assert "UPS.Input.ConfigVoltage" in static


def test_commands_resolve_to_writable_fields() -> None:
    capture = by_name("apc-back-ups-es-850g2")
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    commands = Mapper(descriptor, vendor_for(capture.vid, capture.pid), capture.pid).commands()
    field, value = commands["load.off.delay"]
    assert (field.path(), value) == ("UPS.PowerSummary.DelayBeforeShutdown", 20.0)
    field, value = commands["test.battery.start.deep"]
    assert (field.path(), field.report_type, value) == ("UPS.Battery.Test", ReportType.FEATURE, 2)
    assert commands["shutdown.stop"][1] == -1
    assert "shutdown.reboot" not in commands  # no DelayBeforeReboot on this unit


def test_unmapped_fields_are_listed_as_nut_explore_does() -> None:
    capture = by_name("cyberpower-cp1500pfclcd")
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    mapper = Mapper(descriptor, GENERIC)
    unmapped = mapper.unmapped(decode_reports(descriptor, capture.feature_reports()))
    assert unmapped["unmapped.ups.powersummary.capacitymode"] == 2.0
    assert not any(name.endswith(".remainingcapacity") for name in unmapped)


def test_every_variable_row_of_the_generic_table_has_a_unique_var() -> None:
    names = [r.var for r in GENERIC_TABLE if isinstance(r, HidVar)]
    assert len(names) == len(set(names))
    assert all(r.paths and all(p.startswith("UPS.") for p in r.paths) for r in GENERIC_TABLE)


# --- converters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "celsius"), [(297.0, 23.85), (288.4, 15.25), (39.0, 39.0), (-5.0, -5.0)]
)
def test_temperatures_in_kelvin_or_celsius(value: float, celsius: float) -> None:
    assert kelvin_to_celsius(value) == celsius


@pytest.mark.parametrize(
    ("packed", "text"),
    [(21090.0, "2021/03/02"), (10785.0, "2001/01/01"), (0.0, None), (21120.0, None)],
)
def test_hid_dates(packed: float, text: str | None) -> None:
    assert hid_date(packed) == text


def test_idle_timers_and_lookups() -> None:
    assert [idle_timer(v) for v in (65535.0, 4294967295.0, -1.0, 20.0)] == [-1, -1, -1, 20]
    beeper = lookup({1: "disabled", 2: "enabled"})
    assert (beeper(2.0), beeper(9.0), beeper(1.5)) == ("enabled", None, None)


def test_flag_rows_trigger_on_any_nonzero_value_or_on_their_value() -> None:
    ac_on, ac_off = (r for r in _STATUS_ROWS if r.paths[0].endswith(".ACPresent"))
    assert (ac_on.flag, ac_off.flag) == (UpsFlag.OL, UpsFlag.OB)
    assert ac_on.triggered(1)
    assert not ac_on.triggered(0)
    assert ac_off.triggered(0)
    assert not ac_off.triggered(1)
    charging = next(r for r in _STATUS_ROWS if r.paths[0].endswith(".Charging"))
    assert charging.triggered(255)
    assert not charging.triggered(0)
