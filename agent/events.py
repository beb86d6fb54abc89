"""Events: what changed on a device, derived from status transitions only."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from upsight.drivers.model import Reading, Status, UpsFlag, Value


class Severity(enum.Enum):
    """How loudly an event should be surfaced."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventKind(enum.Enum):
    """Event names; the first nine are NUT upsmon's notify types."""

    ONLINE = "ONLINE"
    ONBATT = "ONBATT"
    LOWBATT = "LOWBATT"
    FSD = "FSD"
    COMMOK = "COMMOK"
    COMMBAD = "COMMBAD"
    NOCOMM = "NOCOMM"
    REPLBATT = "REPLBATT"
    OVERLOAD = "OVERLOAD"
    BATTERY_OK = "BATTERY_OK"
    REPLBATT_CLEARED = "REPLBATT_CLEARED"
    OVERLOAD_CLEARED = "OVERLOAD_CLEARED"
    CHARGING = "CHARGING"
    CHARGED = "CHARGED"
    SHUTDOWN_SCHEDULED = "SHUTDOWN_SCHEDULED"
    SHUTDOWN_POSTPONED = "SHUTDOWN_POSTPONED"
    SHUTDOWN_CANCELLED = "SHUTDOWN_CANCELLED"
    SHUTDOWN_EXECUTING = "SHUTDOWN_EXECUTING"
    SHUTDOWN_FAILED = "SHUTDOWN_FAILED"


SEVERITY: Final[Mapping[EventKind, Severity]] = {
    EventKind.ONLINE: Severity.INFO,
    EventKind.ONBATT: Severity.WARNING,
    EventKind.LOWBATT: Severity.CRITICAL,
    EventKind.FSD: Severity.CRITICAL,
    EventKind.COMMOK: Severity.INFO,
    EventKind.COMMBAD: Severity.WARNING,
    EventKind.NOCOMM: Severity.WARNING,
    EventKind.REPLBATT: Severity.WARNING,
    EventKind.OVERLOAD: Severity.WARNING,
    EventKind.BATTERY_OK: Severity.INFO,
    EventKind.REPLBATT_CLEARED: Severity.INFO,
    EventKind.OVERLOAD_CLEARED: Severity.INFO,
    EventKind.CHARGING: Severity.INFO,
    EventKind.CHARGED: Severity.INFO,
    EventKind.SHUTDOWN_SCHEDULED: Severity.CRITICAL,
    EventKind.SHUTDOWN_POSTPONED: Severity.WARNING,
    EventKind.SHUTDOWN_CANCELLED: Severity.INFO,
    EventKind.SHUTDOWN_EXECUTING: Severity.CRITICAL,
    EventKind.SHUTDOWN_FAILED: Severity.CRITICAL,
}

_TITLES: Final[Mapping[EventKind, str]] = {
    EventKind.ONLINE: "Power restored",
    EventKind.ONBATT: "On battery",
    EventKind.LOWBATT: "Low battery",
    EventKind.FSD: "Forced shutdown",
    EventKind.COMMOK: "Communication restored",
    EventKind.COMMBAD: "Communication lost",
    EventKind.NOCOMM: "No communication",
    EventKind.REPLBATT: "Replace battery",
    EventKind.OVERLOAD: "Overload",
    EventKind.BATTERY_OK: "Battery no longer low",
    EventKind.REPLBATT_CLEARED: "Battery replacement warning cleared",
    EventKind.OVERLOAD_CLEARED: "Overload cleared",
    EventKind.CHARGING: "Charging",
    EventKind.CHARGED: "Fully charged",
    EventKind.SHUTDOWN_SCHEDULED: "Shutdown scheduled",
    EventKind.SHUTDOWN_POSTPONED: "Shutdown postponed",
    EventKind.SHUTDOWN_CANCELLED: "Shutdown cancelled",
    EventKind.SHUTDOWN_EXECUTING: "Shutting down",
    EventKind.SHUTDOWN_FAILED: "Shutdown failed",
}

# Variables copied into an event so that it is readable on its own.
_SNAPSHOT_VARS: Final = ("battery.charge", "battery.runtime", "ups.load", "input.voltage")


@dataclass(frozen=True)
class Event:
    """Something that happened on one device at one time."""

    at: float
    device: str
    kind: EventKind
    message: str
    data: Mapping[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.kind]

    @property
    def title(self) -> str:
        return _TITLES[self.kind]


def describe(kind: EventKind, reading: Reading | None) -> str:
    """A one-line message with the numbers that matter.

    For example "On battery: 87 %, about 14 min left".
    """
    title = _TITLES[kind]
    if reading is None or kind not in {
        EventKind.ONBATT,
        EventKind.LOWBATT,
        EventKind.FSD,
        EventKind.ONLINE,
        EventKind.OVERLOAD,
    }:
        return title
    details: list[str] = []
    charge = reading.number("battery.charge")
    if charge is not None:
        details.append(f"{charge:.0f} %")
    runtime = reading.number("battery.runtime")
    if runtime is not None and kind is not EventKind.ONLINE:
        details.append(f"about {max(runtime, 0) / 60:.0f} min left")
    load = reading.number("ups.load")
    if load is not None and kind is EventKind.OVERLOAD:
        details = [f"load {load:.0f} %"]
    return f"{title}: {', '.join(details)}" if details else title


def make_event(at: float, device: str, kind: EventKind, reading: Reading | None) -> Event:
    """Build an event with its message and a snapshot of the key numbers."""
    data: dict[str, Value] = {}
    if reading is not None:
        data = {v: reading.values[v] for v in _SNAPSHOT_VARS if v in reading.values}
        data["ups.status"] = str(reading.status)
    return Event(at, device, kind, describe(kind, reading), data)


# (flag, kind when set, kind when cleared); order is the order events are raised.
_FLAG_EVENTS: Final[tuple[tuple[UpsFlag, EventKind, EventKind | None], ...]] = (
    (UpsFlag.FSD, EventKind.FSD, None),
    (UpsFlag.LB, EventKind.LOWBATT, EventKind.BATTERY_OK),
    (UpsFlag.RB, EventKind.REPLBATT, EventKind.REPLBATT_CLEARED),
    (UpsFlag.OVER, EventKind.OVERLOAD, EventKind.OVERLOAD_CLEARED),
)


def diff(prev: Status | None, cur: Status) -> list[EventKind]:
    """Events implied by a status change; ``prev`` None means the first reading.

    The first reading is compared with a quiet on-line UPS, so starting on
    battery or with a low battery is reported, but charging is not.
    """
    first = prev is None
    before = prev if prev is not None else Status.of(UpsFlag.OL)
    kinds: list[EventKind] = []
    was_ob, is_ob = before.on_battery, cur.on_battery
    if is_ob and not was_ob:
        kinds.append(EventKind.ONBATT)
    elif was_ob and not is_ob and UpsFlag.OL in cur:
        kinds.append(EventKind.ONLINE)
    for flag, on_set, on_clear in _FLAG_EVENTS:
        if flag in cur and flag not in before:
            kinds.append(on_set)
        elif on_clear is not None and flag in before and flag not in cur:
            kinds.append(on_clear)
    if not first:
        # "Power restored" already says the battery recharges; CHARGING would repeat it.
        if UpsFlag.CHRG in cur and UpsFlag.CHRG not in before and EventKind.ONLINE not in kinds:
            kinds.append(EventKind.CHARGING)
        elif UpsFlag.CHRG in before and UpsFlag.CHRG not in cur and UpsFlag.OL in cur and not is_ob:
            kinds.append(EventKind.CHARGED)
    return kinds
