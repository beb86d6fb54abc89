"""CyberPower Systems (and Cyber Energy): usage names, rows, value and descriptor repairs."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.descriptor import Field, ReportDescriptor
from upsight.drivers.hid.mapping import (
    SHUTDOWN_PATHS,
    STARTUP_PATHS,
    HidCommand,
    HidVar,
    Row,
    Vendor,
    lookup,
    with_logical_ranges,
)
from upsight.drivers.model import Value

VENDOR_ID: Final = 0x0764
# ST Microelectronics' VID, with this product ID delegated to Cyber Energy.
STMICRO_VENDOR_ID: Final = 0x0483
CYBER_ENERGY: Final = 0xA430
# 0x0005 900AVR/BC900D; 0x0501 CP1500PFCLCD, CP850PFCLCD, CP1000AVRLCD and
# kin; 0x0601 OR2200LCDRT2U, OR700LCDRM1U, PR6000LCDRTXL5U.
PR_FAMILY: Final = 0x0501
OR_FAMILY: Final = 0x0601

# CyberPower page 0xFF01, as NUT names the usages.
USAGES: Final[dict[int, str]] = {
    0xFF0100D0: "CPSFirmwareVersion",
    0xFF010043: "CPSInputSensitivity",
}

_SENSITIVITY: Final = {0: "low", 1: "normal", 2: "high"}
# The logical range NUT gives voltages whose declared one is a copy of the
# transfer range (0..511 leaves room above any mains voltage).
_VOLTAGE_RANGE: Final = (0, 511)
_MIN_POWER_LOGMAX: Final = 2048
# 0x0501 firmware reports battery voltage 1.5x too high on some units; NUT
# scales by 2/3 once the reading exceeds 1.4x nominal, which no charger does.
_BATTERY_RATIO_LIMIT: Final = 1.4
_BATTERY_SCALE: Final = 2 / 3
_MAINS_HZ: Final = (50.0, 60.0)
_MAINS_TOLERANCE: Final = 0.05


def claim(vid: int, pid: int) -> bool:
    """True for CyberPower's vendor ID and for the Cyber Energy product on ST's."""
    return vid == VENDOR_ID or (vid, pid) == (STMICRO_VENDOR_ID, CYBER_ENERGY)


def clamped_charge(value: float) -> float:
    """Battery charge capped at 100 %: the firmware overshoots while charging."""
    return min(value, 100.0)


def mains_frequency(value: float) -> Value | None:
    """Frequency in Hz, undoing the 10x error of some 0x0501 firmware (499.0 for 49.9).

    Returns:
        Whichever of the value and a tenth of it lies within 5 % of 50 or 60 Hz;
        the value unchanged if neither does (the sanity table then judges it).
    """
    for candidate in (value, value / 10):
        if any(abs(candidate - hz) <= hz * _MAINS_TOLERANCE for hz in _MAINS_HZ):
            return candidate
    return value


def _one(descriptor: ReportDescriptor, path: str) -> Field | None:
    found = descriptor.find(path)
    return found[0] if found else None


def fix_descriptor(descriptor: ReportDescriptor, pid: int) -> ReportDescriptor:
    """Repair the logical ranges CP1500PFCLCD-family firmware gets wrong.

    On 0x0501 and 0x0601 units (e.g. CP1500PFCLCD, CP900EPFCLCD) UPS.Output.Voltage
    declares the HighVoltageTransfer range (136..142 on a 120 V unit), so a real
    121 V reads as out of range; NUT's older masking turned it into the 138 V of
    the CP850PFCLCD dump. Where the two ranges are equal, input and output
    voltage get 0..511. ConfigActivePower declared with a maximum below 2048 W
    (900 on the CP1500PFCLCD) is raised so larger models' ratings fit.

    Args:
        descriptor: the descriptor as read.
        pid: the USB product ID; other products are left alone.

    Returns:
        The repaired descriptor, or the same one when no bug is present.
    """
    if pid not in (PR_FAMILY, OR_FAMILY):
        return descriptor
    ranges: dict[Field, tuple[int, int]] = {}
    transfer = _one(descriptor, "UPS.Input.HighVoltageTransfer")
    output = _one(descriptor, "UPS.Output.Voltage")
    if (
        transfer is not None
        and output is not None
        and (output.logical_minimum, output.logical_maximum)
        == (transfer.logical_minimum, transfer.logical_maximum)
    ):
        ranges[output] = _VOLTAGE_RANGE
        line = _one(descriptor, "UPS.Input.Voltage")
        if line is not None:
            ranges[line] = _VOLTAGE_RANGE
    power = _one(descriptor, "UPS.Output.ConfigActivePower")
    if power is not None and power.logical_maximum < _MIN_POWER_LOGMAX:
        ranges[power] = (power.logical_minimum, _MIN_POWER_LOGMAX)
    return with_logical_ranges(descriptor, ranges)


def fix_values(values: dict[str, Value], pid: int) -> frozenset[str]:
    """Scale 0x0501 battery voltage by 2/3 when it reads above 1.4x nominal.

    Args:
        values: mapped variables, changed in place.
        pid: the USB product ID.

    Returns:
        ``{"battery.voltage"}`` when it was rescaled (an estimate), else empty.
    """
    voltage = values.get("battery.voltage")
    nominal = values.get("battery.voltage.nominal")
    if (
        pid != PR_FAMILY
        or not isinstance(voltage, float)
        or not isinstance(nominal, float)
        or nominal <= 0
        or voltage / nominal <= _BATTERY_RATIO_LIMIT
    ):
        return frozenset()
    values["battery.voltage"] = round(voltage * _BATTERY_SCALE, 2)
    return frozenset({"battery.voltage"})


# CyberPower's DelayBefore* count whole minutes, rounding down, so NUT's
# defaults here are 60 s off and 120 s on (protocols.md 6.5).
_OFF_DELAY_S: Final = 60.0
_ON_DELAY_S: Final = 120.0

ROWS: Final[tuple[Row, ...]] = (
    HidVar("battery.charge", "UPS.PowerSummary.RemainingCapacity", clamped_charge),
    HidVar("input.sensitivity", "UPS.Output.CPSInputSensitivity", lookup(_SENSITIVITY)),
    HidCommand("load.off.delay", SHUTDOWN_PATHS, _OFF_DELAY_S),
    HidCommand("load.on.delay", STARTUP_PATHS, _ON_DELAY_S),
)

# The 10x frequency error is seen only on the 0x0501 family.
PR_ROWS: Final[tuple[Row, ...]] = (
    HidVar("input.frequency", "UPS.Input.Frequency", mains_frequency),
    HidVar("output.frequency", "UPS.Output.Frequency", mains_frequency),
)

VENDOR: Final = Vendor(
    name="CyberPower",
    claim=claim,
    usages=USAGES,
    rows=ROWS,
    pid_rows={PR_FAMILY: PR_ROWS},
    fix_descriptor=fix_descriptor,
    fix_values=fix_values,
)
