"""The nut:// driver against a real upsd serving dummy-ups, as installed by the test setup."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector import Collector
from tests.peers.nut import NutServer, nut_available
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceMonitor, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers import open_device
from upsight.drivers.clock import SYSTEM_CLOCK
from upsight.drivers.errors import (
    DataStale,
    Disconnected,
    NotFound,
    PermissionDenied,
    UnsupportedCommand,
)
from upsight.drivers.model import Status
from upsight.drivers.variables import is_numeric

pytestmark = pytest.mark.skipif(not nut_available(), reason="NUT is installed by scripts/test.sh")

DDL = Path(__file__).resolve().parents[1] / "fixtures" / "ddl"
SIMPLE = (
    "ups.status: OL\nbattery.charge: 100\nbattery.runtime: 1800\ndevice.model: Test\n"
    "ups.model: Test\ninput.voltage: 230.0\n"
)


@pytest.fixture
def nut(tmp_path: Path) -> Iterator[NutServer]:
    server = NutServer(tmp_path / "nut", SIMPLE).start()
    yield server
    server.stop()


def spec(server: NutServer, user: str = "") -> str:
    return f"nut://{user}127.0.0.1:{server.port}/{server.name}"


def file_values(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or ": " not in line:
            continue
        name, value = line.split(": ", 1)
        out[name] = value.split("\t#", 1)[0].strip()
    return out


@pytest.mark.parametrize("dump", sorted(DDL.glob("*.dev")), ids=lambda p: p.name)
def test_every_dump_comes_back_through_upsd(tmp_path: Path, dump: Path) -> None:
    server = NutServer(tmp_path / "nut", dump.read_text()).start()
    try:
        with open_device(spec(server)) as driver:
            reading = driver.read()
    finally:
        server.stop()
    expected = file_values(dump)
    assert reading.status == Status.parse(expected.pop("ups.status"))
    for name, text in expected.items():
        # dummy-ups reports its own driver.* values and, on its first read, fills
        # device.mfr/model/serial itself (a documented dummy-ups behaviour).
        if name.startswith("driver.") or name in {"device.mfr", "device.model", "device.serial"}:
            continue
        if is_numeric(name):
            assert reading.number(name) == float(text), name
        else:
            assert reading.values[name] == text, name


def test_stopped_driver_is_a_disconnect_and_unknown_ups_not_found(nut: NutServer) -> None:
    with pytest.raises(NotFound, match="does not know this UPS"):
        open_device(f"nut://127.0.0.1:{nut.port}/nosuchups")
    with open_device(spec(nut)) as driver:
        assert driver.read().status == Status.parse("OL")
        nut.stop_driver()
        # upsd first answers WAIT (DataStale here), then DRIVER-NOT-CONNECTED.
        deadline = time.monotonic() + 15
        lost: Disconnected | None = None
        while lost is None and time.monotonic() < deadline:
            try:
                driver.read()
            except DataStale:
                time.sleep(0.2)
            except Disconnected as exc:
                lost = exc
        assert lost is not None
        assert "not connected to the UPS driver" in str(lost)


def test_no_server_is_not_found() -> None:
    from tests.peers.nut import free_port

    with pytest.raises(NotFound, match="connection refused"):
        open_device(f"nut://127.0.0.1:{free_port()}/ups")


def test_stale_driver_data_is_data_stale(tmp_path: Path) -> None:
    server = NutServer(tmp_path / "nut", SIMPLE, max_age_s=3).start()
    try:
        with open_device(spec(server)) as driver:
            driver.read()
            assert server.driver is not None
            server.driver.send_signal(19)  # SIGSTOP: the driver stops answering upsd
            deadline = time.monotonic() + 30
            stale: DataStale | None = None
            while stale is None and time.monotonic() < deadline:
                try:
                    driver.read()
                except DataStale as exc:
                    stale = exc
                time.sleep(0.5)
            assert stale is not None, "upsd never reported DATA-STALE"
            assert "stale" in str(stale)
            server.driver.send_signal(18)  # SIGCONT
    finally:
        server.stop()


def test_commands_need_the_right_credentials(nut: NutServer) -> None:
    with open_device(spec(nut, "admin:adminpass@")) as driver:
        assert "load.off" in driver.commands()
        driver.run("load.off")
        with pytest.raises(UnsupportedCommand):
            driver.run("beeper.mute")
    with open_device(spec(nut, "admin:wrong@")) as driver:
        with pytest.raises(PermissionDenied, match="denied access") as info:
            driver.run("load.off")
        assert "wrong" not in str(info.value)
    with (
        open_device(spec(nut, "monuser:monpass@")) as driver,
        pytest.raises(PermissionDenied, match="denied"),
    ):
        driver.run("load.off")


def test_dump_changes_show_up(nut: NutServer) -> None:
    with open_device(spec(nut)) as driver:
        nut.write_dump(SIMPLE.replace("ups.status: OL", "ups.status: OB DISCHRG LB"))
        deadline = time.monotonic() + 10
        while driver.read().status != Status.parse("OB DISCHRG LB"):
            assert time.monotonic() < deadline, "dummy-ups change never arrived"
            time.sleep(0.2)


def test_poller_survives_an_upsd_restart(nut: NutServer) -> None:
    collector = Collector()
    monitor = DeviceMonitor("ups", spec(nut), MonitorSettings(interval_s=0.3), SYSTEM_CLOCK)
    poller = Poller(monitor, spec(nut), collector, SYSTEM_CLOCK)
    poller.start()
    try:
        time.sleep(1.0)
        nut.stop_upsd()
        assert collector.wait(lambda: EventKind.COMMBAD in collector.kinds(), 10)
        restarted = time.monotonic()
        nut.start_upsd()
        assert collector.wait(lambda: EventKind.COMMOK in collector.kinds(), 20)
        assert time.monotonic() - restarted < 10
        assert collector.kinds() == [EventKind.COMMBAD, EventKind.COMMOK]
        state = poller.state()
        assert state.reading is not None
        assert state.reading.number("battery.charge") == 100
    finally:
        poller.stop()
