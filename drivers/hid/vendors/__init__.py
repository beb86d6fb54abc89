"""Vendor registry: which vendor module's usage names, rows and repairs apply to a VID:PID."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.mapping import GENERIC, Vendor
from upsight.drivers.hid.vendors import (
    apc,
    cyberpower,
    eaton,
    liebert,
    phoenixtec,
    powercom,
    tripplite,
)

VENDORS: Final[tuple[Vendor, ...]] = (
    apc.VENDOR,
    cyberpower.VENDOR,
    eaton.VENDOR,
    tripplite.VENDOR,
    liebert.VENDOR,
    powercom.VENDOR,
    phoenixtec.VENDOR,
)
"""Every vendor module, asked in this order."""


def vendor_for(vid: int, pid: int) -> Vendor:
    """The vendor whose tables apply to a device.

    Args:
        vid: the USB vendor ID.
        pid: the USB product ID.

    Returns:
        The first vendor that claims the pair, or the generic table's vendor.
    """
    return next((v for v in VENDORS if v.claim(vid, pid)), GENERIC)


__all__ = ["VENDORS", "vendor_for"]
