"""Discovery with fakes at its boundaries: a pyusb backend, pyserial's ports, a local NUT server."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import psutil
import pytest
from serial.tools import list_ports

from upsight.drivers import discovery
from upsight.drivers.discovery import (
    BATTERY,
    NUT,
    PORT,
    SERIAL,
    USB,
    Found,
    discover,
    find_nut,
    find_serial,
    find_usb,
    ups_only,
)
from upsight.drivers.errors import (
    DriverUnavailable,
    NotFound,
    ProtocolError,
    TransportTimeout,
)
from upsight.drivers.model import Reading, Status, UpsInfo

from .hid.captures import by_name
from .hid.fake_backend import FakeBackend, FakeUps
from .hid.fake_hidapi import FakeHidModule

APC = by_name("apc-back-ups-es-850g2")
CYBERPOWER = by_name("cyberpower-cp1500pfclcd")
POWER_DEVICE_DESCRIPTOR = bytes.fromhex("05 84 09 04 a1 01 c0")
KEYBOARD_DESCRIPTOR = bytes.fromhex("05 01 09 06 a1 01 c0")
APC_STRINGS = {1: "American Power Conversion", 2: "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2"}


def apc(serial: str | None = None) -> FakeUps:
    strings = dict(APC_STRINGS)
    if serial is not None:
        strings[3] = serial
    return FakeUps.from_capture(APC, strings)


@pytest.fixture(autouse=True)
def no_hidapi(monkeypatch: pytest.MonkeyPatch) -> None:
    # hidapi is not installed here; make sure an unrelated "hid" module never stands in.
    monkeypatch.setitem(sys.modules, "hid", None)


# --- USB ---------------------------------------------------------------------------------


def test_usb_finds_ups_by_vendor_id_and_leaves_other_devices_alone() -> None:
    keyboard = FakeUps(0x046D, 0xC31C, KEYBOARD_DESCRIPTOR, interface_subclass=1)
    webcam = FakeUps(0x046D, 0x0825, b"", interface_class=0x0E)
    ups = apc("4B2113P12345")
    found = find_usb(FakeBackend(keyboard, ups, webcam))
    assert found == [
        Found(
            "hid://051d:0002",
            "American Power Conversion Back-UPS ES 850G2 (USB 051d:0002, serial 4B2113P12345)",
            USB,
        )
    ]
    assert keyboard.detached == ups.detached == 0, "discovery never takes a device"


def test_usb_finds_an_unknown_maker_by_the_power_device_page() -> None:
    unknown = FakeUps(0x1234, 0x5678, POWER_DEVICE_DESCRIPTOR, strings={2: "Mystery UPS"})
    unknown.kernel_driver_active = False
    other = FakeUps(0x1234, 0x9999, KEYBOARD_DESCRIPTOR)
    other.kernel_driver_active = False
    # Where usbhid holds the interface its descriptor cannot be read: skipped, not an error.
    bound = FakeUps(0x4321, 0x0001, POWER_DEVICE_DESCRIPTOR)
    found = find_usb(FakeBackend(unknown, other, bound))
    assert [f.spec for f in found] == ["hid://1234:5678"]
    assert found[0].description == "Mystery UPS (USB 1234:5678)"


def test_two_units_of_one_model_get_their_serial_in_the_spec() -> None:
    found = find_usb(FakeBackend(apc("AAA"), apc("BBB")))
    assert [f.spec for f in found] == [
        "hid://051d:0002?serial=AAA",
        "hid://051d:0002?serial=BBB",
    ]


def test_a_ups_without_access_is_listed_with_the_fix() -> None:
    ups = FakeUps.from_capture(CYBERPOWER, {2: "CP1500PFCLCD"})
    ups.deny_access = True
    (found,) = find_usb(FakeBackend(ups))
    assert found.spec == "hid://0764:0501"
    assert found.description.startswith("CyberPower (USB 0764:0501); no permission")
    assert "99-upsight-hid.rules" in found.description


def test_hidapi_and_pyusb_seeing_one_device_list_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ups = apc("4B2113P12345")
    other = FakeUps.from_capture(CYBERPOWER, {1: "CPS", 2: "CP1500PFCLCD"})
    monkeypatch.setitem(sys.modules, "hid", FakeHidModule(ups, other))
    found = find_usb(FakeBackend(ups))
    assert [f.spec for f in found] == ["hid://051d:0002", "hid://0764:0501"]
    assert found[1].description == "CPS CP1500PFCLCD (USB 0764:0501)"


# --- serial ports --------------------------------------------------------------------------


def port(device: str, description: str) -> SimpleNamespace:
    return SimpleNamespace(device=device, description=description)


class FakeSerialUps:
    """A driver that answered: what probing a port that has a UPS returns."""

    def __init__(self, label: str) -> None:
        self._info = UpsInfo(mfr="APC", model=label, driver="apcsmart")

    def info(self) -> UpsInfo:
        return self._info

    def read(self) -> Reading:
        return Reading(0.0, Status.parse("OL"), {})

    def __enter__(self) -> FakeSerialUps:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(
        list_ports,
        "comports",
        lambda: [
            port("/dev/ttyUSB0", "USB-Serial Controller"),
            port("/dev/ttyS0", "n/a"),
            port("/dev/ttyUSB1", "FT232R USB UART"),
            port("/dev/ttyUSB9", "hangs"),
        ],
    )
    opened: list[str] = []

    def opener(spec: str) -> FakeSerialUps:
        opened.append(spec)
        if spec == "apcsmart:/dev/ttyUSB0":
            return FakeSerialUps("Smart-UPS 1500")
        if spec.endswith("/dev/ttyUSB0"):
            raise ProtocolError("garbage")
        if spec.endswith("/dev/ttyS0"):
            raise DriverUnavailable("megatec devices are not supported")
        if spec.endswith("/dev/ttyUSB1"):
            raise RuntimeError("a driver bug")
        time.sleep(3)
        raise NotFound("too late")

    monkeypatch.setattr(discovery, "open_device", opener)
    return opened


def test_ports_are_listed_but_not_opened_without_probe(ports: list[str]) -> None:
    found = find_serial()
    assert [f.spec for f in found] == [
        "megatec:/dev/ttyUSB0",
        "megatec:/dev/ttyS0",
        "megatec:/dev/ttyUSB1",
        "megatec:/dev/ttyUSB9",
    ]
    assert {f.kind for f in found} == {PORT}
    assert "apcsmart:/dev/ttyS0" in found[1].description
    assert found[1].description.startswith("/dev/ttyS0: not probed")
    assert ports == []


def test_probing_finds_the_ups_and_survives_every_failure(ports: list[str]) -> None:
    started = time.monotonic()
    found = find_serial(probe=True, timeout_s=0.5)
    assert time.monotonic() - started < 2.0, "a hanging port does not hold discovery up"
    assert found[0] == Found(
        "apcsmart:/dev/ttyUSB0", "APC Smart-UPS 1500 (USB-Serial Controller)", SERIAL
    )
    assert ports.index("megatec:/dev/ttyUSB0") < ports.index("apcsmart:/dev/ttyUSB0")
    assert [(f.spec, f.kind) for f in found[1:]] == [
        ("megatec:/dev/ttyS0", PORT),
        ("megatec:/dev/ttyUSB1", PORT),
        ("megatec:/dev/ttyUSB9", PORT),
    ]
    assert "no UPS answered" in found[1].description
    assert "failed or did not finish" in found[2].description
    assert "failed or did not finish" in found[3].description


# --- NUT ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        number: int = probe.getsockname()[1]
        return number


@pytest.fixture
def nut_server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """A real TCP listener on a free local port, answering each client with ``serve``."""
    listeners: list[socket.socket] = []

    def start(serve: Callable[[socket.socket], None]) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(5)
        listeners.append(listener)

        def accept() -> None:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                serve(client)

        threading.Thread(target=accept, daemon=True).start()
        port_number: int = listener.getsockname()[1]
        return port_number

    yield start
    for listener in listeners:
        listener.close()


def upsd(client: socket.socket) -> None:
    request = client.makefile("rb").readline()
    assert request == b"LIST UPS\n"
    client.sendall(
        b'BEGIN LIST UPS\nUPS myups "Back-UPS on the desk"\nUPS rack "Unavailable"\nEND LIST UPS\n'
    )


def silent(client: socket.socket) -> None:
    time.sleep(2)


def garbage(client: socket.socket) -> None:
    client.makefile("rb").readline()
    client.sendall(b"HELLO THERE\n")


def test_nut_lists_the_ups_the_server_serves(nut_server: Callable[..., int]) -> None:
    number = nut_server(upsd)
    assert find_nut(("127.0.0.1", number)) == [
        Found(
            f"nut://127.0.0.1:{number}/myups",
            f"Back-UPS on the desk (NUT server 127.0.0.1:{number})",
            NUT,
        ),
        Found(f"nut://127.0.0.1:{number}/rack", f"rack (NUT server 127.0.0.1:{number})", NUT),
    ]


def test_nut_failures_are_errors_find_nut_raises(nut_server: Callable[..., int]) -> None:
    with pytest.raises(NotFound):
        find_nut(("127.0.0.1", free_port()))
    with pytest.raises(TransportTimeout):
        find_nut(("127.0.0.1", nut_server(silent)), timeout_s=0.3)
    with pytest.raises(ProtocolError):
        find_nut(("127.0.0.1", nut_server(garbage)))


# --- everything together -------------------------------------------------------------------


def test_discover_gathers_every_source(
    monkeypatch: pytest.MonkeyPatch, ports: list[str], nut_server: Callable[..., int]
) -> None:
    monkeypatch.setattr(
        psutil,
        "sensors_battery",
        lambda: SimpleNamespace(percent=87.0, power_plugged=True, secsleft=-2),
    )
    number = nut_server(upsd)
    found = discover(usb_backend=FakeBackend(apc()), nut_address=("127.0.0.1", number))
    assert [f.kind for f in found] == [USB, PORT, PORT, PORT, PORT, NUT, NUT, BATTERY]
    assert found[-1] == Found(
        "battery:", "the operating system's battery (87 %, on mains)", BATTERY
    )
    assert [f.spec for f in ups_only(found)] == [
        "hid://051d:0002",
        f"nut://127.0.0.1:{number}/myups",
        f"nut://127.0.0.1:{number}/rack",
    ]


def test_discover_never_raises_and_is_bounded(
    monkeypatch: pytest.MonkeyPatch, nut_server: Callable[..., int]
) -> None:
    def broken() -> list[object]:
        raise OSError("no such thing")

    monkeypatch.setattr(psutil, "sensors_battery", broken)
    monkeypatch.setattr(list_ports, "comports", broken)
    ups = apc()
    ups.unplugged = True
    started = time.monotonic()
    found = discover(
        usb_backend=FakeBackend(ups), nut_address=("127.0.0.1", nut_server(silent)), timeout_s=0.5
    )
    assert found == []
    assert time.monotonic() - started < 1.5


def test_without_libusb_usb_discovery_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from upsight.drivers.hid import transport_usb

    def no_backend(backend: object | None = None) -> list[object]:
        raise DriverUnavailable("libusb 1.0 is not installed")

    monkeypatch.setattr(transport_usb, "list_ups", no_backend)
    assert find_usb() == []
