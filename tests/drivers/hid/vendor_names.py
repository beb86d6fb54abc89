"""Usage names for the one vendor in the fixtures that has no vendor module yet.

NUT reads the Minuteman capture (Delta Electronics, VID 0x05dd) with its Delta
subdriver and prints that subdriver's names. Upsight has no Delta vendor module,
so the path checks take these names, read off the fixture, from here; every
other fixture's names come from ``upsight.drivers.hid.vendors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Delta-built Minuteman, page 0xFFFF: the same codes as Eaton and Tripp Lite,
# other names.
DELTA: Final[Mapping[int, str]] = {
    0xFFFF0056: "DELTA4",
    0xFFFF0075: "DeltaModelName",
    0xFFFF0076: "DELTA19",
    0xFFFF007C: "DeltaUPSType",
    0xFFFF007D: "DELTA21",
    0xFFFF0081: "DeltaConfigStartPowerRestoreDelay",
    0xFFFF0091: "DeltaOutputSource",
    0xFFFF0093: "DELTA25",
    0xFFFF0095: "DELTA27",
    0xFFFF0096: "DELTA28",
    0xFFFF0098: "DELTA30",
    0xFFFF0099: "DELTA31",
    0xFFFF009A: "DELTA32",
    0xFFFF009C: "DeltaConfigStartPowerRestore",
}

DELTA_VENDOR_ID: Final = 0x05DD
