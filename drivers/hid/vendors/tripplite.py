"""Tripp Lite (and HP units built by Tripp Lite): usage names, rows and per-product scaling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from upsight.drivers.hid.mapping import (
    HidCommand,
    HidFlag,
    HidVar,
    Poll,
    Row,
    Vendor,
    scaled,
)
from upsight.drivers.model import UpsFlag

VENDOR_ID: Final = 0x09AE
# Product 0x0001 (SMART550USB, SMART3000RM2U) is serial-over-USB, not HID.
NOT_HID: Final = 0x0001
HP_VENDOR_ID: Final = 0x03F0
# HP makes many other USB devices, so only these UPS product IDs are claimed:
# R1500 G2/G3, T750 G2, T1500 G3, T750/T1000/T1500 INTL, R/T 2200 INTL.
HP_UPS: Final = frozenset({0x0001, 0x1F06, 0x1F08, 0x1F09, 0x1F0A, 0x1FE0, 0x1FE1, 0x1FE2, 0x1FE3})

# Tripp Lite page 0xFFFF, as NUT names the usages.
USAGES: Final[dict[int, str]] = {
    0xFFFF0010: "TLCustom",
    0xFFFF0056: "TLDelayBeforeStartup",
    0xFFFF0057: "TLLowVoltageTransferMax",
    0xFFFF0058: "TLLowVoltageTransferMin",
    0xFFFF0059: "TLHighVoltageTransferMax",
    0xFFFF005A: "TLHighVoltageTransferMin",
    0xFFFF007C: "UPSFirmwareVersion",
    0xFFFF007D: "CommunicationProtocolVersion",
    0xFFFF0092: "TLWatchdog",
    0xFFFF0095: "TLOutletsAvailableMask",
    0xFFFF0096: "TLOutletsStatusMask",
}


@dataclass(frozen=True)
class Scale:
    """Factors correcting one product's wrongly declared units.

    Attributes:
        battery: for the battery voltage.
        line_voltage: for input and output voltages.
        frequency: for input and output frequencies.
        current: for the output current.
    """

    battery: float = 1.0
    line_voltage: float = 1.0
    frequency: float = 1.0
    current: float = 1.0


# Battery voltage 10x too high (descriptor exponent off by one) on the AVR,
# ECO and OMNI/Smart LCD lines.
_TENTH_BATTERY: Final = Scale(battery=0.1)
# SMART1500LCDT family: voltages declared with an exponent 10^5 too small,
# frequency and current 100x too large; old NUT showed 5990 Hz and 0 V.
_SMART1500LCDT: Final = Scale(battery=1e5, line_voltage=1e5, frequency=0.01, current=0.01)

# Product ID → scale, from NUT's Tripp Lite device table; unlisted products
# (e.g. the SmartOnline 0x4001..0x4008, SU3000LCD2UHV 0x1330) need none.
SCALES: Final[Mapping[int, Scale]] = {
    0x1003: _TENTH_BATTERY,  # AVR550U
    0x1007: _TENTH_BATTERY,  # AVR750U
    0x1008: _TENTH_BATTERY,  # ECO550UPS
    0x1009: _TENTH_BATTERY,
    0x1010: _TENTH_BATTERY,
    0x2005: _TENTH_BATTERY,  # OMNI1000LCD
    0x2007: _TENTH_BATTERY,  # OMNI900LCD
    0x2008: _TENTH_BATTERY,
    0x2009: _TENTH_BATTERY,  # Smart1000LCD
    0x2010: _TENTH_BATTERY,
    0x2011: _TENTH_BATTERY,
    0x2012: _TENTH_BATTERY,
    0x2013: _TENTH_BATTERY,
    0x2014: _TENTH_BATTERY,
    0x3016: _SMART1500LCDT,  # SMART1500LCDT
    0x3024: _SMART1500LCDT,  # same firmware family
}


def claim(vid: int, pid: int) -> bool:
    """True for Tripp Lite HID products and the HP UPSes Tripp Lite builds."""
    if vid == VENDOR_ID:
        return pid != NOT_HID
    return vid == HP_VENDOR_ID and pid in HP_UPS


def scaled_rows(scale: Scale) -> tuple[Row, ...]:
    """The measurement rows of one product, with its scale factors applied.

    Args:
        scale: the product's factors.

    Returns:
        Rows for battery, line voltages, frequencies and current.
    """
    return (
        HidVar("battery.voltage", "UPS.BatterySystem.Battery.Voltage", scaled(scale.battery)),
        HidVar(
            "input.voltage",
            ("UPS.PowerSummary.Input.Voltage", "UPS.PowerConverter.Input.Voltage"),
            scaled(scale.line_voltage),
        ),
        # PowerSummary.Voltage is the output voltage on Tripp Lite, not the battery's.
        HidVar(
            "output.voltage",
            ("UPS.PowerConverter.Output.Voltage", "UPS.PowerSummary.Voltage"),
            scaled(scale.line_voltage),
        ),
        HidVar("input.frequency", "UPS.PowerConverter.Input.Frequency", scaled(scale.frequency)),
        HidVar("output.frequency", "UPS.PowerConverter.Output.Frequency", scaled(scale.frequency)),
        HidVar("output.current", "UPS.PowerConverter.Output.Current", scaled(scale.current)),
    )


_OUTPUT = "UPS.PowerConverter.Output"
_STATUS = "UPS.PowerSummary.PresentStatus"

ROWS: Final[tuple[Row, ...]] = (
    *scaled_rows(Scale()),
    HidVar("input.transfer.low.max", f"{_OUTPUT}.TLLowVoltageTransferMax", poll=Poll.STATIC),
    HidVar("input.transfer.low.min", f"{_OUTPUT}.TLLowVoltageTransferMin", poll=Poll.STATIC),
    HidVar("input.transfer.high.max", f"{_OUTPUT}.TLHighVoltageTransferMax", poll=Poll.STATIC),
    HidVar("input.transfer.high.min", f"{_OUTPUT}.TLHighVoltageTransferMin", poll=Poll.STATIC),
    # OMNI1000LCD firmware puts its status bits on page 0x84 instead of 0x85,
    # where the codes name other usages (0x44 ConfigActivePower for Charging).
    HidFlag(f"{_STATUS}.008400d0", UpsFlag.OL, when=1),
    HidFlag(f"{_STATUS}.008400d0", UpsFlag.OB, when=0),
    HidFlag(f"{_STATUS}.ConfigActivePower", UpsFlag.CHRG),
    HidFlag(f"{_STATUS}.ConfigPercentLoad", UpsFlag.DISCHRG),
    HidFlag(f"{_STATUS}.0084004b", UpsFlag.RB, poll=Poll.SLOW),
    HidCommand("load.off", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", 0),
)

VENDOR: Final = Vendor(
    name="Tripp Lite",
    claim=claim,
    usages=USAGES,
    rows=ROWS,
    pid_rows={pid: scaled_rows(scale) for pid, scale in SCALES.items()},
    # The generic rows would read PowerSummary.Voltage, the output voltage
    # here, as the battery's.
    suppress=frozenset({"battery.voltage"}),
)
