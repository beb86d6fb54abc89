"""The apcsmart:PORT driver against the emulated Smart-UPS over a real socat pty."""

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
    DataStale,
    Disconnected,
    NotFound,
    ProtocolError,
    TransportTimeout,
    UnsupportedCommand,
)
from upsight.drivers.model import Reading, Status
from upsight.drivers.serial.apcsmart import COMMANDS as PROTOCOL_COMMANDS

from .emulators import ApcSmartEmulator, ApcState

pytestmark = pytest.mark.skipif(not socat_available(), reason="socat is installed by test.sh")


class CommandEmulator(ApcSmartEmulator):
    """A Smart-UPS that also carries out instant commands.

    ``W`` and ``A`` answer OK; ``S`` answers ``*`` as older units do; ``Z``
    answers OK only when it is the second ``Z`` at least 1.5 s after the first.
    """

    def __init__(self, state: ApcState | None = None) -> None:
        super().__init__(state)
        self.z_times: list[float] = []

    def handle(self, command: bytes) -> bytes:
        if not self.state.smart or command not in b"WASZ":
            return super().handle(command)
        self.received.append(command)
        if command == b"S":
            return b"*"
        if command == b"Z":
            self.z_times.append(time.monotonic())
            if len(self.z_times) < 2 or self.z_times[-1] - self.z_times[-2] < 1.5:
                return b""
        return b"OK\r\n"


class AlertingEmulator(ApcSmartEmulator):
    """Puts ``alerts`` into the middle of every reply to ``query``."""

    def __init__(self, query: bytes, alerts: str) -> None:
        super().__init__()
        self.query = query
        self.alerts = alerts

    def handle(self, command: bytes) -> bytes:
        if command == self.query and self.state.smart:
            self.inject(self.alerts, at=2)
        return super().handle(command)


@dataclass
class Peer:
    server: EmulatorServer
    emulator: ApcSmartEmulator

    @property
    def spec(self) -> str:
        return f"apcsmart:{self.server.pair.ups}"

    def update(self, **changes: object) -> None:
        self.server.call(lambda: self.emulator.update(**changes))


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[Peer]:
    emulator = CommandEmulator()
    with served(tmp_path, emulator, "apc") as server:
        yield Peer(server, emulator)


@pytest.fixture
def driver(peer: Peer) -> Iterator[Driver]:
    with open_device(peer.spec) as opened:
        yield opened


def expected_values(state: ApcState) -> dict[str, object]:
    return {
        "battery.charge": state.charge_pct,
        "battery.runtime": state.runtime_min * 60.0,
        "input.voltage": state.input_v if state.mains else 0.0,
        "output.voltage": state.output_v,
        "battery.voltage": state.battery_v,
        "ups.load": state.load_pct,
        "ups.temperature": state.temperature_c,
        "input.frequency": state.frequency_hz,
        "device.mfr": "APC",
        "device.model": state.model,
        "device.serial": state.serial,
        "ups.firmware": state.firmware,
    }


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "OL"),
        ({"mains": False, "charge_pct": 64.0, "runtime_min": 12, "battery_v": 25.1}, "OB"),
        ({"mains": False, "low_battery": True, "charge_pct": 9.0, "runtime_min": 2}, "OB LB"),
    ],
)
def test_reading_equals_the_emulated_unit(
    peer: Peer, driver: Driver, changes: dict[str, object], status: str
) -> None:
    peer.update(**changes)
    reading = driver.read()
    assert reading.status == Status.parse(status)
    assert dict(reading.values) == expected_values(peer.emulator.state)
    info = driver.info()
    assert (info.mfr, info.model, info.serial, info.firmware, info.driver) == (
        "APC",
        "Smart-UPS 1000",
        "AS0123456789",
        "50.9.D",
        "apcsmart",
    )


def test_old_firmware_query_is_the_fallback(tmp_path: Path) -> None:
    class OldFirmware(ApcSmartEmulator):
        def handle(self, command: bytes) -> bytes:
            return b"NA\r\n" if command == b"b" and self.state.smart else super().handle(command)

    with (
        served(tmp_path, OldFirmware(), "old") as server,
        open_device(f"apcsmart:{server.pair.ups}") as driver,
    ):
        assert driver.info().firmware == "GWD"
        assert driver.read().values["ups.firmware"] == "GWD"


def test_queries_answered_na_are_absent_and_not_asked_again(tmp_path: Path) -> None:
    class NoSensor(ApcSmartEmulator):
        def handle(self, command: bytes) -> bytes:
            return b"NA\r\n" if command == b"C" and self.state.smart else super().handle(command)

    emulator = NoSensor(ApcState(capabilities="NA"))  # no capability list: ask everything
    with (
        served(tmp_path, emulator, "nocaps") as server,
        open_device(f"apcsmart:{server.pair.ups}") as driver,
    ):
        first = driver.read()
        with server.lock:
            emulator.received.clear()
        second = driver.read()
        with server.lock:
            asked = list(emulator.received)
        assert driver.commands() == frozenset(PROTOCOL_COMMANDS)
    for reading in (first, second):
        assert reading.status == Status.parse("OL")
        assert "ups.temperature" not in reading.values
        assert reading.number("battery.charge") == 100.0
    assert asked == [b"Q", b"f", b"j", b"L", b"O", b"B", b"P", b"F"]


# --- Alerts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "alerts", "status"),
    [
        (b"B", "!", "OB"),  # line fail in the middle of "27.00"
        (b"Q", "!", "OB"),  # in the middle of the status reply itself: newer than it
        (b"P", "%", "OL LB"),
        (b"C", "?", "OL OVER"),
        (b"L", "#", "OL RB"),
        (b"F", "|&", "OL"),  # EEPROM changed, check alarms: no status change
    ],
)
def test_alerts_inside_replies_change_the_status_and_never_the_values(
    tmp_path: Path, query: bytes, alerts: str, status: str
) -> None:
    emulator = AlertingEmulator(query, alerts)
    with (
        served(tmp_path, emulator, "alert") as server,
        open_device(f"apcsmart:{server.pair.ups}") as driver,
    ):
        for _ in range(3):
            reading = driver.read()
            assert reading.status == Status.parse(status)
            assert dict(reading.values) == expected_values(emulator.state)


def test_bytes_between_polls_do_not_upset_the_next_replies(peer: Peer, driver: Driver) -> None:
    assert driver.read().status == Status.parse("OL")
    # The unit loses mains and sends '!' unprompted while the driver is idle,
    # followed by a stray line (say, a reply that came too late).
    peer.update(mains=False)
    peer.server.send(peer.emulator.unsolicited() + b"042.0\r\n")
    time.sleep(0.05)
    reading = driver.read()
    assert reading.status == Status.parse("OB")
    assert dict(reading.values) == expected_values(peer.emulator.state)
    # Mains back: '$' comes with the next reply.
    peer.update(mains=True)
    assert driver.read().status == Status.parse("OL")


def test_every_reply_laced_with_alerts_reads_the_same(tmp_path: Path) -> None:
    class Noisy(ApcSmartEmulator):
        def handle(self, command: bytes) -> bytes:
            if self.state.smart and command != b"a":
                self.inject("$", at=1)
                self.inject("|", at=3)
            return super().handle(command)

    emulator = Noisy()
    with (
        served(tmp_path, emulator, "noisy") as server,
        open_device(f"apcsmart:{server.pair.ups}") as driver,
    ):
        reading = driver.read()
        assert driver.info().model == "Smart-UPS 1000"
    assert reading.status == Status.parse("OL")
    assert dict(reading.values) == expected_values(emulator.state)


# --- Commands ------------------------------------------------------------------------------


def test_commands_follow_the_capability_list(driver: Driver) -> None:
    offered = driver.commands()
    assert {"test.battery.start", "load.off", "shutdown.return"} <= offered
    # DEL (0x7f) is not among the realistic unit's command characters.
    assert "shutdown.stop" not in offered
    with pytest.raises(UnsupportedCommand, match="not offered"):
        driver.run("shutdown.stop")


def test_accepted_commands(peer: Peer, driver: Driver) -> None:
    driver.run("test.battery.start")  # W -> OK
    driver.run("shutdown.return")  # S -> '*' as older units answer
    assert peer.emulator.received[-2:] == [b"W", b"S"]


def test_command_answered_na_is_unsupported(peer: Peer, driver: Driver) -> None:
    with pytest.raises(UnsupportedCommand, match="NA"):
        driver.run("calibrate.start")  # D: this unit answers NA
    assert driver.read().status == Status.parse("OL")


def test_load_off_is_sent_twice_at_least_1_5_s_apart(peer: Peer, driver: Driver) -> None:
    assert isinstance(peer.emulator, CommandEmulator)
    driver.run("load.off")
    times = peer.emulator.z_times
    assert len(times) == 2
    assert times[1] - times[0] >= 1.5


# --- Faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault.GARBAGE, ProtocolError, "3 bad replies"),
        (Fault.HALF, ProtocolError, "3 bad replies"),
        (Fault.ECHO, ProtocolError, "3 bad replies"),
        (Fault.SILENT, TransportTimeout, "no answer"),
        (Fault.UNPLUG, TransportTimeout, "no answer"),
    ],
)
def test_faults_are_errors_within_about_a_second(
    peer: Peer, driver: Driver, fault: Fault, error: type[Exception], message: str
) -> None:
    peer.server.fault = fault
    started = time.monotonic()
    with pytest.raises(error, match=message):
        driver.read()
    assert time.monotonic() - started < 1.5
    peer.server.fault = Fault.NONE
    peer.server.plug()
    assert dict(driver.read().values) == expected_values(peer.emulator.state)


def test_status_not_ready_yet_is_stale_data(peer: Peer, driver: Driver) -> None:
    peer.update(status_ready=False)
    with pytest.raises(DataStale, match="no status yet"):
        driver.read()
    peer.update(status_ready=True)
    assert driver.read().status == Status.parse("OL")


def test_handshake_is_retried(tmp_path: Path) -> None:
    class Sleepy(ApcSmartEmulator):
        def handle(self, command: bytes) -> bytes:
            if command == b"Y" and self.received.count(b"Y") == 0:
                self.received.append(command)
                return b"?!x\r\n"  # noise, not SM
            return super().handle(command)

    emulator = Sleepy()
    with (
        served(tmp_path, emulator, "sleepy") as server,
        open_device(f"apcsmart:{server.pair.ups}") as driver,
    ):
        assert driver.read().status == Status.parse("OL")
    assert emulator.received[:2] == [b"Y", b"Y"]


def test_port_that_goes_away_is_a_disconnect_then_not_found(peer: Peer, driver: Driver) -> None:
    peer.server.pair.stop()
    with pytest.raises(Disconnected):
        driver.read()
    driver.close()  # tries to send R on a dead port: must stay quiet
    with pytest.raises(NotFound):
        open_device(peer.spec)


def test_close_returns_the_unit_to_dumb_mode(peer: Peer) -> None:
    with open_device(peer.spec):
        assert peer.emulator.state.smart
    deadline = time.monotonic() + 2
    while peer.emulator.state.smart and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not peer.emulator.state.smart


# --- Through a real poller ------------------------------------------------------------------


def test_poller_goes_stale_and_reconnects_without_a_false_onbatt(peer: Peer) -> None:
    kinds: list[EventKind] = []
    readings: list[Reading] = []
    changed = threading.Condition()

    def collect(message: Message) -> None:
        with changed:
            if isinstance(message, Event):
                kinds.append(message.kind)
            elif isinstance(message, DeviceState) and message.reading is not None:
                readings.append(message.reading)
            changed.notify_all()

    monitor = DeviceMonitor("ups", peer.spec, MonitorSettings(interval_s=0.3), SYSTEM_CLOCK)
    poller = Poller(monitor, peer.spec, collect, SYSTEM_CLOCK)
    poller.start()
    try:
        with changed:
            assert changed.wait_for(lambda: bool(readings), 5)
        peer.server.fault = Fault.GARBAGE  # a noisy line first: errors, but no status
        with changed:
            assert changed.wait_for(lambda: EventKind.COMMBAD in kinds, 10)
        peer.server.fault = Fault.NONE
        peer.server.unplug()
        assert poller.state().link is Link.STALE
        time.sleep(1.0)  # a reconnect attempt or two against the pulled cable
        peer.server.plug()
        with changed:
            assert changed.wait_for(lambda: EventKind.COMMOK in kinds, 10)
        assert poller.state().link is Link.OK
    finally:
        poller.stop()
    assert kinds == [EventKind.COMMBAD, EventKind.COMMOK]
    assert all(reading.status == Status.parse("OL") for reading in readings)
