"""APC (American Power Conversion, Schneider Electric): usage names, rows and descriptor repairs."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.descriptor import ReportDescriptor
from upsight.drivers.hid.mapping import (
    DEFAULT_OFF_DELAY_S,
    DEFAULT_ON_DELAY_S,
    SHUTDOWN_PATHS,
    STARTUP_PATHS,
    HidCommand,
    HidFlag,
    HidVar,
    Poll,
    Row,
    Vendor,
    idle_timer,
    lookup,
    with_logical_ranges,
)
from upsight.drivers.model import UpsFlag, Value

VENDOR_ID: Final = 0x051D
# 0x0002 most Back-UPS and USB Smart-UPS; 0x0003/0x0004 Smart-UPS 5G / SMT, whose
# interrupt pipe carries APC's own protocol (the transport must not read it);
# 0x0000 the AP9584 serial-to-USB kit (protocols.md 6.5).
BACK_UPS: Final = 0x0002

# APC page 0xFF86, as NUT names the usages.
USAGES: Final[dict[int, str]] = {
    0xFF860005: "APCGeneralCollection",
    0xFF860006: "APCEnvironment",
    0xFF860007: "APCProbe1",
    0xFF860008: "APCProbe2",
    0xFF860016: "APCBattReplaceDate",
    0xFF860019: "APCBattCapBeforeStartup",
    0xFF860042: "APC_UPS_FirmwareRevision",
    0xFF860052: "APCLineFailCause",
    0xFF860060: "APCStatusFlag",
    0xFF860061: "APCSensitivity",
    0xFF860072: "APCPanelTest",
    0xFF860076: "APCShutdownAfterDelay",
    0xFF860079: "APC_USB_FirmwareRevision",
    0xFF86007C: "APCDelayBeforeReboot",
    0xFF86007D: "APCDelayBeforeShutdown",
    0xFF86007E: "APCDelayBeforeStartup",
}

_SENSITIVITY: Final = {0: "low", 1: "medium", 2: "high"}
# APCLineFailCause codes as apcupsd documents them.
_TRANSFER_REASON: Final = {
    0: "no transfer",
    1: "low line voltage",
    2: "high line voltage",
    3: "ripple",
    4: "notch, spike or blackout",
    5: "self test or calibration",
    6: "forced by a shutdown command",
    7: "input frequency out of range",
    8: "notch or blackout",
    9: "spike or blackout",
    10: "shutdown by an accessory",
    11: "self test (command)",
    12: "self test (front button)",
    13: "self test (automatic)",
}
_RUNTIME_UNKNOWN: Final = 65535.0


def claim(vid: int, pid: int) -> bool:
    """True for APC's vendor ID: every APC USB device speaks the Power Device Class."""
    return vid == VENDOR_ID


def apc_date(value: float) -> str | None:
    """APCBattReplaceDate: the hex digits read as decimal ``mmddyy`` (0x092501 = 2001/09/25).

    Returns:
        ``YYYY/MM/DD``, or None for 0 (not set) and for digits that are no date.
    """
    digits = f"{int(value):06x}"
    if int(value) <= 0 or len(digits) != 6 or not digits.isdigit():
        return None
    month, day, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    # Two-digit years: the format predates 1970 nowhere, so 70..99 are 19xx.
    century = 1900 if year >= 70 else 2000
    return f"{century + year:04d}/{month:02d}/{day:02d}"


def apc_runtime(value: float) -> Value | None:
    """Runtime in seconds, or no reading for 65535 (-1: Back-UPS cannot estimate)."""
    return None if value == _RUNTIME_UNKNOWN else value


def fix_descriptor(descriptor: ReportDescriptor, pid: int) -> ReportDescriptor:
    """Widen UPS.Input.Voltage's logical range where it cannot hold the transfer points.

    Back-UPS (0x0002, e.g. BX1600MI, ES 850G2) declare Input.Voltage 0..255 but
    HighVoltageTransfer up to 278..300, so a real 260 V reading would fall
    outside the declared range and be taken for "no data". Where the transfer
    maximum exceeds the voltage maximum, the voltage range becomes 0..2xHVT.

    Args:
        descriptor: the descriptor as read.
        pid: the USB product ID; other products are left alone.

    Returns:
        The repaired descriptor, or the same one when the bug is absent.
    """
    if pid != BACK_UPS:
        return descriptor
    transfer = descriptor.find("UPS.Input.HighVoltageTransfer")
    voltage = descriptor.find("UPS.Input.Voltage")
    if not transfer or not voltage:
        return descriptor
    top = max(f.logical_maximum for f in transfer)
    return with_logical_ranges(
        descriptor,
        {f: (0, 2 * top) for f in voltage if f.logical_maximum < top},
    )


# Back-UPS ES keep their countdowns in the vendor collection; the standard
# paths stay first, as the device is then driven the standard way.
_SHUTDOWN: Final = (*SHUTDOWN_PATHS, "UPS.APCGeneralCollection.APCDelayBeforeShutdown")
_STARTUP: Final = (*STARTUP_PATHS, "UPS.APCGeneralCollection.APCDelayBeforeStartup")

ROWS: Final[tuple[Row, ...]] = (
    # Back-UPS send 65535 for "cannot estimate" (e.g. while calibrating); HID
    # runtime is seconds, unlike apcsmart's and apcupsd's minutes.
    HidVar(
        "battery.runtime",
        ("UPS.Battery.RunTimeToEmpty", "UPS.PowerSummary.RunTimeToEmpty"),
        apc_runtime,
    ),
    # Hex-as-decimal date; ES 850G2 and BF500 carry the placeholder 2001/09/25.
    HidVar("battery.date", "UPS.Battery.APCBattReplaceDate", apc_date, Poll.STATIC),
    HidVar("input.sensitivity", "UPS.Input.APCSensitivity", lookup(_SENSITIVITY)),
    HidVar("input.transfer.reason", "UPS.Input.APCLineFailCause", lookup(_TRANSFER_REASON)),
    HidVar("ups.timer.shutdown", _SHUTDOWN, idle_timer, Poll.QUICK),
    HidVar("ups.timer.start", _STARTUP, idle_timer, Poll.QUICK),
    # Back-UPS LS: APCStatusFlag reads 8 in normal operation (16 briefly at
    # power-on) and 0 when the output is off.
    HidFlag("UPS.PowerSummary.APCStatusFlag", UpsFlag.OFF, when=0, poll=Poll.SLOW),
    HidCommand("test.panel.start", ("UPS.APCPanelTest", "UPS.PowerSummary.APCPanelTest"), 1),
    HidCommand("test.panel.stop", ("UPS.APCPanelTest", "UPS.PowerSummary.APCPanelTest"), 0),
    HidCommand("load.off.delay", _SHUTDOWN, DEFAULT_OFF_DELAY_S),
    HidCommand("load.on.delay", _STARTUP, DEFAULT_ON_DELAY_S),
    HidCommand("shutdown.stop", _SHUTDOWN, -1),
)

VENDOR: Final = Vendor(
    name="APC",
    claim=claim,
    usages=USAGES,
    rows=ROWS,
    fix_descriptor=fix_descriptor,
)
