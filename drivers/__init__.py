"""Device drivers: open a device by its spec string.

Driver modules are imported only when a spec needs them, so the command line
stays fast and a missing optional backend affects only its own devices.
"""

from __future__ import annotations

import importlib
from typing import Final

from upsight.drivers.base import Driver
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.drivers.errors import DriverUnavailable
from upsight.drivers.spec import DeviceSpec, parse_spec

# scheme -> "module:function"; each function takes (DeviceSpec, Clock) and returns a Driver.
_OPENERS: Final[dict[str, str]] = {
    "sim": "upsight.drivers.simulated.driver:open_simulator",
    "dummy": "upsight.drivers.dummy:open_dummy",
    "battery": "upsight.drivers.battery:open_battery",
    "nut": "upsight.drivers.nut.driver:open_nut",
    "hid": "upsight.drivers.hid.driver:open_hid",
    "megatec": "upsight.drivers.serial.megatec_driver:open_megatec",
    "apcsmart": "upsight.drivers.serial.apcsmart_driver:open_apcsmart",
}


def open_device(spec: str | DeviceSpec, clock: Clock = SYSTEM_CLOCK) -> Driver:
    """Connect to the device a spec names.

    Raises:
        DeviceSpecError: the spec is malformed.
        DriverUnavailable: no driver for this kind of device in this build.
        TransportError: the device could not be reached.
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    target = _OPENERS.get(parsed.scheme)
    if target is None:
        raise DriverUnavailable(
            f"{parsed.scheme} devices are not supported by this version of Upsight ({parsed})"
        )
    module_name, _, function = target.partition(":")
    opener = getattr(importlib.import_module(module_name), function)
    driver: Driver = opener(parsed, clock)
    return driver


__all__ = ["Driver", "open_device"]
