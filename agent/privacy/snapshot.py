"""Collect what the envelope builder may draw on: client facts, the device now, and history."""

from __future__ import annotations

import locale
import platform
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from upsight.agent import __version__
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceState
from upsight.agent.privacy.builder import Aggregate, ClientFacts, DeviceFacts, EventFact, Snapshot
from upsight.drivers.spec import parse_spec

BUCKET_S: Final = 900
"""Energy history is uploaded as 15-minute aggregates (privacy-design.md §4.2)."""

SERIES_VARIABLES: Final = (
    "battery.charge",
    "battery.runtime",
    "battery.voltage",
    "input.voltage",
    "input.frequency",
    "output.voltage",
    "ups.load",
    "ups.realpower",
    "ups.temperature",
)
"""NUT variables whose 15-minute aggregates energy history may carry."""

_CONNECTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "hid": "usb",
        "megatec": "serial",
        "apcsmart": "serial",
        "nut": "network",
        "sim": "simulated",
        "dummy": "simulated",
        "battery": "battery",
    }
)

_OS_FAMILIES: Final[Mapping[str, str]] = MappingProxyType(
    {"linux": "linux", "win32": "windows", "darwin": "macos"}
)


def client_facts(install_id: str, *, with_hostname: bool = False) -> ClientFacts:
    """This install and computer, raw; the builder transforms and filters them."""
    lang = locale.getlocale()[0] or "C"
    offset = time.localtime().tm_gmtoff
    return ClientFacts(
        agent_version=__version__,
        os_family=_OS_FAMILIES.get(sys.platform, "linux"),
        os_version=platform.release(),
        locale=lang,
        tz_offset_s=offset,
        install_id=install_id,
        hostname=socket.gethostname() if with_hostname else None,
    )


def connection_of(spec: str) -> str:
    """How the UPS is attached, from its (already validated) device spec."""
    return _CONNECTIONS[parse_spec(spec).scheme]


def device_facts(state: DeviceState, label: str | None) -> DeviceFacts | None:
    """The device as it is now; None while it has no current reading (stale is not current)."""
    if state.reading is None:
        return None
    values: dict[str, float | str] = dict(state.reading.values)
    info = state.info
    if info is not None:
        # Identity from the driver's own probe fills gaps the reading leaves.
        for var, value in (
            ("device.model", info.model),
            ("device.serial", info.serial),
            ("ups.firmware", info.firmware),
        ):
            if value and var not in values:
                values[var] = value
    return DeviceFacts(
        connection=connection_of(state.spec),
        label=label,
        values=MappingProxyType(values),
        status=frozenset(state.reading.status.tokens()),
    )


def bucket_floor(t: float) -> int:
    """Start of the 15-minute bucket holding ``t``."""
    return int(t // BUCKET_S) * BUCKET_S


def bucket_ceil(t: float) -> int:
    """Start of the first 15-minute bucket that starts at or after ``t``."""
    return -int(-t // BUCKET_S) * BUCKET_S


def series(
    history: HistoryStore, device: str, start: float, end: float
) -> Mapping[str, tuple[Aggregate, ...]]:
    """15-minute min/avg/max of each series variable over whole buckets in [start, end)."""
    start, end = bucket_floor(start), bucket_floor(end)
    if end <= start:
        return MappingProxyType({})
    points = (end - start) // BUCKET_S + 1
    out: dict[str, tuple[Aggregate, ...]] = {}
    for var in SERIES_VARIABLES:
        found = tuple(
            Aggregate(start=bucket_floor(p.t), min=p.min, avg=p.avg, max=p.max)
            for p in history.series(device, var, start, end, max_points=points)
        )
        if found:
            out[var] = found
    return MappingProxyType(out)


def energy_wh(aggregates: Mapping[str, tuple[Aggregate, ...]]) -> tuple[tuple[int, float], ...]:
    """Energy per bucket from the average real power; absent where the UPS reports no power."""
    return tuple(
        (bucket.start, bucket.avg * BUCKET_S / 3600.0)
        for bucket in aggregates.get("ups.realpower", ())
    )


def events_of(
    history: HistoryStore, device: str, start: float, end: float
) -> tuple[EventFact, ...]:
    """The device's events in [start, end), oldest first."""
    found = history.events(device, start, end, None, None)
    return tuple(
        EventFact(kind=e.kind.value, at=e.at)
        for e in sorted(found, key=lambda e: e.at)
        if start <= e.at < end
    )


def snapshot(
    client: ClientFacts,
    device: DeviceFacts | None,
    *,
    events: Iterable[EventFact] = (),
    aggregates: Mapping[str, tuple[Aggregate, ...]] | None = None,
    error_codes: Mapping[str, int] | None = None,
) -> Snapshot:
    """Freeze everything collected into one value that may cross threads."""
    aggregates = aggregates or MappingProxyType({})
    return Snapshot(
        client=client,
        device=device,
        events=tuple(events),
        series=aggregates,
        energy_wh=energy_wh(aggregates),
        error_codes=MappingProxyType(dict(error_codes or {})),
    )
