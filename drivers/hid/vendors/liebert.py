"""Liebert / Vertiv (GXT, PSA, PSI): rows repairing voltages declared with wrong exponents."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.mapping import Convert, HidVar, Row, Vendor
from upsight.drivers.model import Value

VENDOR_ID: Final = 0x10AF
# 0x0001 PowerSure PSA, 0x0004 GXT4 / PSI 1440, 0x0008 GXT3, 0x1000 GXT5.

# The powers of ten tried, nearest first: these firmwares are off by up to 10^5
# (GXT4 reads 0.001212 for 121.2 V) in either direction (PSA frequency in 0.1 Hz).
_DECADES: Final = sorted(range(-6, 7), key=abs)
_LINE_VOLTS: Final = (80.0, 500.0)
_MAINS_HZ: Final = (40.0, 70.0)


def claim(vid: int, pid: int) -> bool:
    """True for the Liebert/Vertiv vendor ID."""
    return vid == VENDOR_ID


def decade_fix(low: float, high: float) -> Convert:
    """A converter moving a value by whole powers of ten into ``low..high``.

    A correct reading is already in range and stays as it is; 0 (no mains)
    stays 0; a value no power of ten brings into range gives no reading.

    Args:
        low: the smallest plausible value.
        high: the largest plausible value.

    Returns:
        The converter.
    """

    def convert(value: float) -> Value | None:
        if value == 0:
            return value
        for power in _DECADES:
            candidate = round(value * 10.0**power, 6)
            if low <= candidate <= high:
                return candidate
        return None

    return convert


ROWS: Final[tuple[Row, ...]] = (
    # PSA, GXT3 and GXT4 declare line voltages and frequencies with exponents
    # that are off by a varying number of decades; the mains range decides.
    HidVar("input.voltage", "UPS.Input.Voltage", decade_fix(*_LINE_VOLTS)),
    HidVar("output.voltage", "UPS.Output.Voltage", decade_fix(*_LINE_VOLTS)),
    HidVar("input.frequency", "UPS.Input.Frequency", decade_fix(*_MAINS_HZ)),
    HidVar("output.frequency", "UPS.Output.Frequency", decade_fix(*_MAINS_HZ)),
)

VENDOR: Final = Vendor(
    name="Liebert",
    claim=claim,
    rows=ROWS,
    # PowerSummary.Voltage/ConfigVoltage are not the battery's on this family:
    # the GXT5 packs line voltages there (ConfigVoltage 238 V, and an array of
    # Voltage declared at 10^-2 V), and PSA firmware scales them unpredictably.
    suppress=frozenset({"battery.voltage", "battery.voltage.nominal"}),
)
