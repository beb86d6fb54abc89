"""The ``battery:`` driver: the operating system's battery through psutil.

On Windows a USB UPS often appears as the system battery, so this is the
zero-setup path there; it also covers laptops. The OS reports charge, time
left and whether mains power is plugged in, and nothing else.
"""

from __future__ import annotations

from typing import Any

from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.errors import Disconnected, NotFound, TransportError
from upsight.drivers.model import Reading, Status, UpsFlag, UpsInfo, Value
from upsight.drivers.spec import DeviceSpec

NO_BATTERY = "the operating system reports no battery (is the UPS connected by USB?)"


def _sensors_battery() -> Any:
    import psutil

    try:
        return psutil.sensors_battery()
    except (OSError, RuntimeError) as exc:
        raise TransportError(f"cannot read the system battery: {exc}") from exc


def reading_from(battery: Any, at: float) -> Reading:
    """Turn psutil's ``sbattery(percent, secsleft, power_plugged)`` into a Reading."""
    import psutil

    values: dict[str, Value] = {"battery.charge": round(float(battery.percent), 1)}
    # secsleft is -1 (unknown) or -2 (unlimited, on mains): neither is a runtime.
    if battery.secsleft not in (psutil.POWER_TIME_UNKNOWN, psutil.POWER_TIME_UNLIMITED):
        values["battery.runtime"] = float(battery.secsleft)
    flags = UpsFlag.NONE
    if battery.power_plugged is True:
        flags = UpsFlag.OL | (UpsFlag.CHRG if battery.percent < 100 else UpsFlag.NONE)
    elif battery.power_plugged is False:
        flags = UpsFlag.OB | UpsFlag.DISCHRG
    return Reading(at, Status(flags), values)


class BatteryDriver(Driver):
    """Reads the system battery on every poll."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        if _sensors_battery() is None:
            raise NotFound(NO_BATTERY)

    def info(self) -> UpsInfo:
        return UpsInfo(model="System battery", driver="battery")

    def read(self) -> Reading:
        battery = _sensors_battery()
        if battery is None:
            raise Disconnected(NO_BATTERY)
        return reading_from(battery, self._clock.time())

    def close(self) -> None:
        """Nothing to release: each read asks the OS afresh."""


def open_battery(spec: DeviceSpec, clock: Clock) -> BatteryDriver:
    """Open ``battery:``.

    Raises:
        NotFound: the operating system reports no battery.
    """
    del spec  # battery: takes no argument; the spec parser enforces it
    return BatteryDriver(clock)
