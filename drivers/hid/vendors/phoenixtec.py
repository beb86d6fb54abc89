"""Phoenixtec Power (Liebert-branded PowerSure units on VID 0x06da): transfer-point rows."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.mapping import HidVar, Row, Vendor

VENDOR_ID: Final = 0x06DA
PRODUCT_ID: Final = 0xFFFF

_OUTPUT = "UPS.PowerConverter.Output"


def claim(vid: int, pid: int) -> bool:
    """True for the one product ID these units share."""
    return (vid, pid) == (VENDOR_ID, PRODUCT_ID)


ROWS: Final[tuple[Row, ...]] = (
    # The input transfer points live in two unnamed vendor usages; the standard
    # Low/HighVoltageTransfer of this family bound the regulated output.
    HidVar("input.transfer.low", f"{_OUTPUT}.ffff0057"),
    HidVar("input.transfer.high", f"{_OUTPUT}.ffff0058"),
    HidVar("output.transfer.low", f"{_OUTPUT}.LowVoltageTransfer"),
    HidVar("output.transfer.high", f"{_OUTPUT}.HighVoltageTransfer"),
)

VENDOR: Final = Vendor(
    name="Phoenixtec",
    claim=claim,
    rows=ROWS,
    suppress=frozenset({"input.transfer.low", "input.transfer.high"}),
)
