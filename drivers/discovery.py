"""Find the UPSes this machine can reach: USB HID, serial ports, local NUT, the OS battery."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from upsight.drivers import open_device
from upsight.drivers.errors import UpsError
from upsight.drivers.hid.driver import split_product
from upsight.drivers.hid.transport import UsbUps, maker

log = logging.getLogger(__name__)

T = TypeVar("T")

USB: Final = "usb"
"""A USB HID UPS: ``hid://VID:PID``."""
SERIAL: Final = "serial"
"""A serial port where a UPS answered a probe: ``megatec:PORT`` or ``apcsmart:PORT``."""
PORT: Final = "port"
"""A serial port nobody asked: a UPS may be there."""
NUT: Final = "nut"
"""A UPS served by a NUT server: ``nut://host/ups``."""
BATTERY: Final = "battery"
"""The operating system's battery: ``battery:``."""
DEVICE_KINDS: Final = frozenset({USB, SERIAL, NUT})

NUT_ADDRESS: Final = ("127.0.0.1", 3493)
NUT_DEFAULT_PORT: Final = 3493
# USB, NUT and battery answer in milliseconds when they answer at all.
QUICK_TIMEOUT_S: Final = 2.0
# A serial probe opens the port, asks, and waits out the driver's read timeout
# for each protocol in turn.
PROBE_TIMEOUT_S: Final = 8.0
PROBE_SCHEMES: Final = ("megatec", "apcsmart")


@dataclass(frozen=True)
class Found:
    """Something discovery found.

    Attributes:
        spec: the device spec that opens it, e.g. ``hid://051d:0002``.
        description: one line for people, e.g. "APC Back-UPS ES 850G2 (USB 051d:0002)".
        kind: one of ``USB``, ``SERIAL``, ``PORT``, ``NUT``, ``BATTERY``.
    """

    spec: str
    description: str
    kind: str

    @property
    def is_ups(self) -> bool:
        """True for a UPS known to be there; False for an unprobed port or the OS battery.

        The OS battery is not counted: on a laptop it is the laptop's own.
        """
        return self.kind in DEVICE_KINDS


def _bounded(name: str, work: Callable[[], T], timeout_s: float, default: T) -> T:
    """Run ``work`` on a daemon thread; its result, or ``default`` on failure or timeout."""
    result: list[T] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:
            log.debug("discovery: %s found nothing: %s: %s", name, type(exc).__name__, exc)

    thread = threading.Thread(target=run, name=f"upsight-discover-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        log.debug("discovery: %s gave no answer within %.1f s", name, timeout_s)
        return default
    return result[0] if result else default


# --- USB -----------------------------------------------------------------------------


def _usb_description(ups: UsbUps) -> str:
    model, _ = split_product(ups.strings.product)
    mfr = ups.strings.manufacturer or maker(ups.vid, ups.pid)
    name = " ".join(part for part in (mfr, model) if part) or "USB UPS"
    where = f"USB {ups.vid:04x}:{ups.pid:04x}"
    if ups.strings.serial:
        where += f", serial {ups.strings.serial}"
    text = f"{name} ({where})"
    if not ups.accessible:
        from upsight.drivers.hid.transport_usb import permission_advice

        text += f"; no permission to open it yet: {permission_advice()}"
    return text


def _usb_specs(devices: list[UsbUps]) -> list[Found]:
    counts: dict[tuple[int, int], int] = {}
    for ups in devices:
        counts[(ups.vid, ups.pid)] = counts.get((ups.vid, ups.pid), 0) + 1
    found: list[Found] = []
    for ups in devices:
        spec = f"hid://{ups.vid:04x}:{ups.pid:04x}"
        # Two units of one model are told apart by serial number.
        if counts[(ups.vid, ups.pid)] > 1 and ups.strings.serial:
            spec += f"?serial={ups.strings.serial}"
        found.append(Found(spec, _usb_description(ups), USB))
    return found


def _same(a: UsbUps, b: UsbUps) -> bool:
    if (a.vid, a.pid) != (b.vid, b.pid):
        return False
    return (
        a.strings.serial is None or b.strings.serial is None or a.strings.serial == b.strings.serial
    )


def find_usb(usb_backend: object | None = None) -> list[Found]:
    """USB HID UPSes, through pyusb and, where installed, hidapi.

    Args:
        usb_backend: a pyusb backend; None lets pyusb load libusb.

    Returns:
        One entry per device, even when both libraries see it.
    """
    from upsight.drivers.hid import transport_hidapi, transport_usb

    def pyusb() -> list[UsbUps]:
        return transport_usb.list_ups(usb_backend)

    listers: tuple[tuple[str, Callable[[], list[UsbUps]]], ...] = (
        ("pyusb", pyusb),
        ("hidapi", transport_hidapi.list_ups),
    )
    devices: list[UsbUps] = []
    for name, lister in listers:
        try:
            listed = lister()
        except UpsError as exc:
            log.debug("discovery: %s: %s", name, exc)
            continue
        devices.extend(d for d in listed if not any(_same(d, seen) for seen in devices))
    return _usb_specs(devices)


# --- serial ports ------------------------------------------------------------------


def _probe(spec: str) -> str | None:
    """The label of the UPS that answers on ``spec``, or None."""
    try:
        with open_device(spec) as driver:
            driver.read()
            return driver.info().label()
    except UpsError as exc:
        log.debug("discovery: %s: %s", spec, exc)
        return None


def _probe_port(device: str, description: str) -> Found:
    for scheme in PROBE_SCHEMES:
        label = _probe(f"{scheme}:{device}")
        if label is not None:
            return Found(f"{scheme}:{device}", f"{label} ({description})", SERIAL)
    return Found(
        f"megatec:{device}", f"{description}: no UPS answered Q1 or APC smart queries", PORT
    )


def find_serial(probe: bool = False, timeout_s: float = PROBE_TIMEOUT_S) -> list[Found]:
    """Serial ports, and with ``probe`` the UPSes that answer on them.

    Probing asks each port for a Megatec Q1 status, then for APC smart status:
    read-only queries. Ports are probed in parallel, each within ``timeout_s``.

    Args:
        probe: open each port and ask; without it, ports are only listed.
        timeout_s: the longest one port's probe may take.

    Returns:
        One entry per port.
    """
    from serial.tools import list_ports

    ports = [
        # pyserial says "n/a" for ports it knows nothing about.
        (
            str(p.device),
            str(p.description) if p.description not in (None, "", "n/a") else str(p.device),
        )
        for p in list_ports.comports()
    ]
    if not probe:
        return [
            Found(
                f"megatec:{device}",
                f"{description}: not probed; a UPS there is megatec:{device} or apcsmart:{device}",
                PORT,
            )
            for device, description in ports
        ]
    results: list[Found | None] = [None] * len(ports)

    def probe_one(index: int) -> None:
        device, description = ports[index]
        try:
            results[index] = _probe_port(device, description)
        except Exception:
            log.debug("discovery: probing %s failed", device, exc_info=True)

    threads = [
        threading.Thread(target=probe_one, args=(i,), daemon=True) for i in range(len(ports))
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    return [
        result
        if result is not None
        else Found(f"megatec:{device}", f"{description}: the probe failed or did not finish", PORT)
        for result, (device, description) in zip(results, ports, strict=True)
    ]


# --- NUT -------------------------------------------------------------------------------


def find_nut(
    address: tuple[str, int] = NUT_ADDRESS, timeout_s: float = QUICK_TIMEOUT_S
) -> list[Found]:
    """The UPSes a NUT server lists (``LIST UPS``).

    Args:
        address: the server's host and port; by default upsd on this machine.
        timeout_s: how long to wait for each answer.

    Returns:
        One entry per UPS the server serves.

    Raises:
        UpsError: the server cannot be reached or answers garbage.
    """
    from upsight.drivers.nut.connection import Connection
    from upsight.drivers.nut.protocol import split_words

    host, port = address
    conn = Connection(host, port, timeout_s)
    try:
        # Send: LIST UPS
        # Recv: BEGIN LIST UPS / UPS myups "Back-UPS on the desk" / END LIST UPS
        lines = conn.request_list("LIST UPS")
    finally:
        conn.close()
    where = host if port == NUT_DEFAULT_PORT else f"{host}:{port}"
    found: list[Found] = []
    for line in lines:
        words = split_words(line)
        if len(words) < 2 or words[0] != "UPS":
            continue
        name = words[1]
        text = words[2] if len(words) > 2 and words[2] != "Unavailable" else name
        found.append(Found(f"nut://{where}/{name}", f"{text} (NUT server {host}:{port})", NUT))
    return found


# --- the OS battery ----------------------------------------------------------------------


def find_battery() -> list[Found]:
    """The operating system's battery, if it reports one."""
    import psutil

    battery = psutil.sensors_battery()
    if battery is None:
        return []
    power = {True: "on mains", False: "on battery"}.get(battery.power_plugged, "power unknown")
    return [
        Found(
            "battery:",
            f"the operating system's battery ({battery.percent:.0f} %, {power})",
            BATTERY,
        )
    ]


def discover(
    *,
    probe: bool = False,
    usb_backend: object | None = None,
    nut_address: tuple[str, int] = NUT_ADDRESS,
    timeout_s: float = QUICK_TIMEOUT_S,
) -> list[Found]:
    """Everything this machine can monitor, found in parallel.

    Every source runs on its own thread with a deadline and never raises: a
    source that fails or hangs finds nothing, and why is logged at debug level.

    Args:
        probe: also ask each serial port whether a UPS answers (see ``find_serial``).
        usb_backend: a pyusb backend; None lets pyusb load libusb.
        nut_address: where to look for a NUT server.
        timeout_s: the longest USB, NUT or battery discovery may take.

    Returns:
        USB devices, then serial ports, then NUT UPSes, then the OS battery.
    """
    serial_timeout_s = PROBE_TIMEOUT_S + 1.0 if probe else timeout_s
    sources: list[tuple[str, Callable[[], list[Found]], float]] = [
        ("usb", lambda: find_usb(usb_backend), timeout_s),
        ("serial", lambda: find_serial(probe), serial_timeout_s),
        ("nut", lambda: find_nut(nut_address, timeout_s), timeout_s),
        ("battery", find_battery, timeout_s),
    ]
    results: list[list[Found]] = [[] for _ in sources]

    def collect(index: int, name: str, work: Callable[[], list[Found]], limit: float) -> None:
        nothing: list[Found] = []
        results[index] = _bounded(name, work, limit, nothing)

    threads = [
        threading.Thread(target=collect, args=(i, *source), daemon=True)
        for i, source in enumerate(sources)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [found for group in results for found in group]


def ups_only(found: Iterable[Found]) -> list[Found]:
    """The entries that are UPSes known to be there (see ``Found.is_ups``)."""
    return [f for f in found if f.is_ups]
