"""Powercom: usage names and the generic rows that misread its unit-less descriptors."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.mapping import Vendor

VENDOR_ID: Final = 0x0D9F
# 0x0001..0x0004 and 0x00a2..0x00a6 are all HID UPSes (Black Knight, Imperial,
# Raptor, Vanguard...). Some need interrupt-only polling or 8-byte interrupt
# reads, which is the transport's business (protocols.md 6.2).

# Powercom borrows APC's page 0xFF86; NUT names this status bit.
USAGES: Final[dict[int, str]] = {
    0xFF860080: "POWERCOM3",
}


def claim(vid: int, pid: int) -> bool:
    """True for Powercom's vendor ID."""
    return vid == VENDOR_ID


VENDOR: Final = Vendor(
    name="Powercom",
    claim=claim,
    usages=USAGES,
    # The descriptor declares no units at all: PowerSummary.Voltage and
    # ConfigVoltage carry the AC line voltage (228 / 220), not the battery's;
    # the battery voltage exists only inside the Q1 text of reports 0xa0..0xa6.
    # The countdown fields read 0 when idle, which the generic rows would
    # present as a shutdown due now.
    suppress=frozenset(
        {"battery.voltage", "battery.voltage.nominal", "ups.timer.shutdown", "ups.timer.start"}
    ),
)
