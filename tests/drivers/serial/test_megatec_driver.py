"""The megatec:PORT driver against the emulated Megatec unit over a real socat pty."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers.pty import EmulatorServer, Fault, served, socat_available
from upsight.agent.bus import Message
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceMonitor, DeviceState, Link, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers import open_device
from upsight.drivers.base import Driver
from upsight.drivers.clock import SYSTEM_CLOCK
from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    NotFound,
    ProtocolError,
    TransportError,
    TransportTimeout,
    UnsupportedCommand,
)
from upsight.drivers.model import Status
from upsight.drivers.serial.megatec_driver import ESTIMATED

from .emulators import MegatecEmulator

pytestmark = pytest.mark.skipif(not socat_available(), reason="socat is installed by test.sh")


@dataclass
class Peer:
    server: EmulatorServer
    emulator: MegatecEmulator

    @property
    def spec(self) -> str:
        return f"megatec:{self.server.pair.ups}"

    def update(self, **changes: object) -> None:
        self.server.call(lambda: self.emulator.update(**changes))

    def commands(self) -> list[bytes]:
        with self.server.lock:
            return list(self.emulator.received)


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[Peer]:
    emulator = MegatecEmulator()
    with served(tmp_path, emulator, "qx") as server:
        yield Peer(server, emulator)


@pytest.fixture
def driver(peer: Peer) -> Iterator[Driver]:
    with open_device(peer.spec) as opened:
        yield opened


def charge(battery_v: float) -> float:
    # No battery.voltage.low/high from a 12 V unit: 10.40 V is empty, 13.00 V full.
    return 100 * min(1.0, max(0.0, (battery_v - 10.4) / 2.6))


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "OL"),
        ({"mains": False, "battery_v": 12.5, "load_pct": 40}, "OB"),
        ({"mains": False, "low_battery": True, "battery_v": 10.9, "temperature_c": 31.5}, "OB LB"),
    ],
)
def test_reading_equals_the_emulated_unit(
    peer: Peer, driver: Driver, changes: dict[str, object], status: str
) -> None:
    peer.update(**changes)
    reading = driver.read()
    state = peer.emulator.state
    assert reading.status == Status.parse(status)
    values = dict(reading.values)
    assert values.pop("battery.charge") == pytest.approx(charge(state.battery_v), abs=0.05)
    assert values == {
        "input.voltage": state.input_v if state.mains else 0.0,
        "input.voltage.fault": state.input_fault_v,
        "output.voltage": state.output_v,
        "ups.load": float(state.load_pct),
        "input.frequency": state.frequency_hz,
        "battery.voltage": state.battery_v,
        "ups.temperature": state.temperature_c,
        "ups.type": "offline / line interactive",
        "ups.beeper.status": "enabled",
        # From F, read once at connect.
        "input.voltage.nominal": 230.0,
        "input.current.nominal": 4.0,
        "battery.voltage.nominal": 12.0,
        "input.frequency.nominal": 50.0,
        # From I.
        "device.mfr": "ACME",
        "device.model": "UPS-1000",
        "ups.firmware": "V1.0",
        "ups.delay.shutdown": 30.0,
        "ups.delay.start": 180.0,
        # Estimated (as is battery.charge), and said so.
        "battery.voltage.low": 10.4,
        "battery.voltage.high": 13.0,
        ESTIMATED: "battery.charge battery.voltage.high battery.voltage.low",
    }
    info = driver.info()
    assert (info.mfr, info.model, info.firmware, info.serial, info.driver) == (
        "ACME",
        "UPS-1000",
        "V1.0",
        None,
        "megatec",
    )
    # Connect asks Q1, F and I once; each read asks Q1 only.
    assert peer.commands() == [b"Q1", b"F", b"I", b"Q1"]


def test_per_cell_battery_voltage_is_scaled_to_the_whole_battery(peer: Peer) -> None:
    peer.update(battery_v=2.10)
    with open_device(peer.spec) as driver:
        reading = driver.read()
    # 2.10 V per cell x 6 cells of a 12 V battery.
    assert reading.number("battery.voltage") == 12.6
    assert reading.number("battery.charge") == pytest.approx(charge(12.6), abs=0.05)


def test_blank_identity_is_absent_not_empty(peer: Peer) -> None:
    peer.update(mfr="", model="", firmware="")
    with open_device(peer.spec) as driver:
        reading = driver.read()
        info = driver.info()
    assert (info.mfr, info.model, info.firmware) == (None, None, None)
    assert not {"device.mfr", "device.model", "ups.firmware"} & set(reading.values)


class LockingEmulator(MegatecEmulator):
    """A unit that stops answering anything once it has been sent ``I``."""

    locked = False

    def handle(self, command: bytes) -> bytes:
        reply = super().handle(command)
        if command.removesuffix(b"\r") == b"I":
            self.locked = True
        return b"" if self.locked else reply


def test_a_unit_that_locks_up_on_i_is_never_sent_i_again(tmp_path: Path) -> None:
    emulator = LockingEmulator()
    with served(tmp_path, emulator, "lock") as server:
        spec = f"megatec:{server.pair.ups}"
        with pytest.raises(TransportTimeout, match="stopped answering after"):
            open_device(spec)
        # Power-cycled by its owner, it answers again; the driver now leaves I out.
        with server.lock:
            emulator.locked = False
            emulator.received.clear()
        with open_device(spec) as driver:
            reading = driver.read()
            assert driver.info().model is None
        assert reading.status == Status.parse("OL")
        assert b"I" not in emulator.received


def test_unit_echoing_i_and_f_still_reads_without_estimates(tmp_path: Path) -> None:
    class Bare(MegatecEmulator):
        def handle(self, command: bytes) -> bytes:
            body = command.removesuffix(b"\r")
            if body in (b"I", b"F"):
                self.received.append(body)
                return body + b"\r"  # the echo of a command the unit does not know
            return super().handle(command)

    with served(tmp_path, Bare(), "bare") as server, open_device(f"megatec:{server.pair.ups}") as d:
        reading = d.read()
    assert reading.number("battery.voltage") == 13.6
    # Without F's nominal voltage there is nothing to estimate the charge from.
    assert "battery.charge" not in reading.values
    assert ESTIMATED not in reading.values


# --- Commands ---------------------------------------------------------------------------


@pytest.mark.parametrize("ack", [False, True])
def test_accepted_command_acts_on_the_unit(peer: Peer, driver: Driver, ack: bool) -> None:
    peer.update(ack=ack)
    driver.run("test.battery.start.quick")
    assert peer.emulator.state.testing
    driver.run("test.battery.start", "120")
    assert peer.commands()[-2:] == [b"T", b"T02"]
    assert driver.read().status == Status.parse("OL CAL")


def test_command_the_unit_echoes_is_unsupported(peer: Peer, driver: Driver) -> None:
    peer.update(instant_commands=False)
    with pytest.raises(UnsupportedCommand, match="echoed"):
        driver.run("shutdown.stop")
    with pytest.raises(UnsupportedCommand, match="not a Megatec command"):
        driver.run("outlet.1.load.off")
    with pytest.raises(UnsupportedCommand, match="duration"):
        driver.run("test.battery.start")
    assert driver.read().status == Status.parse("OL")


def test_beeper_enable_and_disable_toggle_only_when_needed(peer: Peer, driver: Driver) -> None:
    assert {"beeper.enable", "beeper.disable", "beeper.toggle"} <= driver.commands()
    driver.run("beeper.enable")  # already beeping: Q1 only, no toggle
    assert b"Q" not in peer.commands()
    driver.run("beeper.disable")
    assert not peer.emulator.state.beeper
    assert driver.read().values["ups.beeper.status"] == "disabled"
    driver.run("beeper.disable")
    assert peer.commands().count(b"Q") == 1
    driver.run("beeper.enable")
    assert peer.emulator.state.beeper


# --- Faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault.GARBAGE, ProtocolError, "3 bad replies"),
        (Fault.HALF, ProtocolError, "3 bad replies"),
        (Fault.ECHO, ProtocolError, "3 bad replies"),
        (Fault.SILENT, TransportTimeout, "no answer to Q1"),
        (Fault.UNPLUG, TransportTimeout, "no answer to Q1"),
    ],
)
def test_faults_are_errors_within_about_a_second(
    peer: Peer, driver: Driver, fault: Fault, error: type[Exception], message: str
) -> None:
    peer.server.fault = fault
    started = time.monotonic()
    with pytest.raises(error, match=message):
        driver.read()
    # Half lines end after a 0.25 s gap, not at the 1 s deadline, so even three tries fit.
    assert time.monotonic() - started < 1.5
    peer.server.fault = Fault.NONE
    peer.server.plug()
    assert driver.read().status == Status.parse("OL")


def test_port_that_goes_away_is_a_disconnect_then_not_found(peer: Peer, driver: Driver) -> None:
    peer.server.pair.stop()
    with pytest.raises(Disconnected, match="went away"):
        driver.read()
    with pytest.raises(NotFound, match="no such serial port"):
        open_device(peer.spec)


def test_two_drivers_cannot_share_a_port(peer: Peer, driver: Driver) -> None:
    with pytest.raises(TransportError, match="in use by another program"):
        open_device(peer.spec)


def test_nothing_on_the_port_is_a_timeout(tmp_path: Path) -> None:
    with served(tmp_path, MegatecEmulator(), "none") as server:
        server.unplug()
        with pytest.raises(TransportTimeout):
            open_device(f"megatec:{server.pair.ups}")


# --- Through a real poller --------------------------------------------------------------


class Recorder:
    """Collects what a poller publishes."""

    def __init__(self) -> None:
        self.kinds: list[EventKind] = []
        self.states: list[DeviceState] = []
        self.changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self.changed:
            if isinstance(message, Event):
                self.kinds.append(message.kind)
            elif isinstance(message, DeviceState):
                self.states.append(message)
            self.changed.notify_all()

    def wait_for(self, kind: EventKind, timeout_s: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: kind in self.kinds, timeout_s)


@pytest.mark.parametrize("pull", ["cable", "adapter"])
def test_poller_goes_stale_and_reconnects_without_a_false_onbatt(peer: Peer, pull: str) -> None:
    recorder = Recorder()
    monitor = DeviceMonitor("ups", peer.spec, MonitorSettings(interval_s=0.3), SYSTEM_CLOCK)
    poller = Poller(monitor, peer.spec, recorder, SYSTEM_CLOCK)
    poller.start()
    try:
        with recorder.changed:
            assert recorder.changed.wait_for(lambda: bool(recorder.states), 5)
        if pull == "cable":
            peer.server.unplug()  # the UPS side stays, nothing answers
        else:
            peer.server.pair.stop()  # the port itself disappears
        assert recorder.wait_for(EventKind.COMMBAD, 10)
        stale = poller.state()
        assert stale.link is Link.STALE
        assert stale.reading is None
        assert stale.error is not None
        if pull == "adapter":
            peer.server.pair.start()
        returned = time.monotonic()
        peer.server.plug()
        assert recorder.wait_for(EventKind.COMMOK, 10)
        assert time.monotonic() - returned < 6
        state = poller.state()
        assert state.link is Link.OK
        assert state.reading is not None
        assert state.reading.status == Status.parse("OL")
    finally:
        poller.stop()
    assert recorder.kinds == [EventKind.COMMBAD, EventKind.COMMOK]


def test_pyserial_urls_are_ports_too() -> None:
    # loop:// sends every command straight back: the echo of a unit that knows no Q1.
    with pytest.raises(ProtocolError, match="3 bad replies"):
        open_device("megatec:loop://")
    with pytest.raises(DeviceSpecError, match="not a serial port or pyserial URL"):
        open_device("megatec:nosuch://port")
