"""AgentBackend over a real Agent, and the dummy driver's writable variables behind it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.agent.nut_server.serving import (
    DUMP,
    quiet_agent,
    quiet_config,
    serving_agent,
    wait_until,
    write_dump,
)
from tests.fakes import FakeClock
from upsight.agent.monitor import Link
from upsight.agent.nut_server.agent_backend import AgentBackend
from upsight.agent.nut_server.backend import NutError, NutServerError, Writable
from upsight.agent.paths import AppPaths
from upsight.drivers.base import VarKind, WritableVar
from upsight.drivers.dummy import DummyDriver
from upsight.drivers.errors import UnsupportedCommand
from upsight.drivers.model import UpsFlag


def _error(call: object, *args: object) -> NutError:
    with pytest.raises(NutServerError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.code


def test_variables_are_exactly_what_upsight_status_prints(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        reading = agent.states()[0].reading
        assert reading is not None
        served = dict(backend.variables("ups"))
    assert served == reading.as_nut()
    file_vars = {line.split(":")[0] for line in DUMP.splitlines() if not line.startswith("#")}
    assert set(served) == file_vars
    assert served["battery.voltage"] == "13.6"
    assert served["ups.status"] == "OL"


def test_names_and_descriptions_follow_the_agent(tmp_path: Path) -> None:
    second = tmp_path / "second.dev"
    write_dump(second, "ups.status: OB\ndevice.mfr: Other\ndevice.model: Box\n")
    missing = tmp_path / "missing.dev"
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    agent = quiet_agent(
        paths, quiet_config(poll_interval_s=0.2), [f"dummy:{second}", f"dummy:{missing}"]
    )
    agent.start()
    try:
        backend = AgentBackend(agent)
        assert wait_until(lambda: agent.states()[0].link is Link.OK)
        assert list(backend.names()) == ["ups", "ups2"]
        assert backend.description("ups") == "Other Box"
        assert backend.variables("ups")["ups.status"] == "OB"
        # A device that never answered has no label and no data yet.
        assert backend.description("ups2") == "Unavailable"
        assert _error(backend.variables, "ups2") is NutError.DRIVER_NOT_CONNECTED
        assert _error(backend.commands, "ups2") is NutError.DRIVER_NOT_CONNECTED
        assert _error(backend.variables, "ups3") is NutError.UNKNOWN_UPS
        assert _error(backend.description, "ups3") is NutError.UNKNOWN_UPS
    finally:
        agent.stop()


def test_stale_device_reports_data_stale(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        (tmp_path / "ups.dev").unlink()

        def stale() -> bool:
            try:
                backend.variables("ups")
            except NutServerError as exc:
                return exc.code is NutError.DATA_STALE
            return False

        assert wait_until(stale), agent.states()


def test_fsd_latches_on_the_served_status(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        backend.set_fsd("ups", "admin@127.0.0.1")
        assert backend.variables("ups")["ups.status"] == "FSD OL"
        # Later polls keep it: the latch holds until the agent restarts.
        write_dump(tmp_path / "ups.dev", DUMP.replace("ups.status: OL", "ups.status: OB"))
        assert wait_until(lambda: backend.variables("ups")["ups.status"] == "FSD OB")
        assert _error(backend.set_fsd, "nope", "admin") is NutError.UNKNOWN_UPS


def test_commands_run_on_the_device(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        assert backend.commands("ups") == {"beeper.mute", "test.battery.start.quick"}
        with caplog.at_level(logging.INFO, logger="upsight.drivers.dummy"):
            backend.run_command("ups", "beeper.mute", None)
        assert "command beeper.mute accepted" in caplog.text
        assert _error(backend.run_command, "ups", "load.off", None) is NutError.CMD_NOT_SUPPORTED
        assert _error(backend.run_command, "ups9", "beeper.mute", None) is NutError.UNKNOWN_UPS


def test_every_dummy_variable_is_writable_until_the_file_changes(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        writable = backend.writable("ups")
        assert set(writable) == set(backend.variables("ups"))
        assert writable["battery.charge"] == Writable("100", VarKind.NUMBER)
        assert writable["ups.model"] == Writable("Test UPS 1000", VarKind.STRING, max_length=32)
        backend.set_variable("ups", "battery.charge", "55")
        assert wait_until(lambda: backend.variables("ups")["battery.charge"] == "55")
        backend.set_variable("ups", "ups.status", "OB LB")
        assert wait_until(lambda: backend.variables("ups")["ups.status"] == "OB LB")
        write_dump(tmp_path / "ups.dev", DUMP.replace("battery.charge: 100", "battery.charge: 90"))
        assert wait_until(lambda: backend.variables("ups")["battery.charge"] == "90")
        assert backend.variables("ups")["ups.status"] == "OL"


def test_refused_writes_carry_nut_errors(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        backend = AgentBackend(agent)
        set_variable = backend.set_variable
        assert _error(set_variable, "ups", "battery.charge", "lots") is NutError.INVALID_VALUE
        assert _error(set_variable, "ups", "ups.model", "x" * 33) is NutError.INVALID_VALUE
        assert _error(set_variable, "ups", "no.such.var", "1") is NutError.VAR_NOT_SUPPORTED
        assert _error(set_variable, "ups2", "battery.charge", "1") is NutError.UNKNOWN_UPS
        assert backend.variables("ups")["battery.charge"] == "100"


def test_a_measured_variable_is_read_only(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    agent = quiet_agent(paths, quiet_config(poll_interval_s=0.2), ["sim://normal"])
    agent.start()
    try:
        assert wait_until(lambda: agent.states()[0].link is Link.OK)
        backend = AgentBackend(agent)
        assert "battery.charge" in backend.variables("ups")
        assert "battery.charge" not in backend.writable("ups")
        assert backend.description("ups") == "Simulated UPS"
        code = _error(backend.set_variable, "ups", "battery.charge", "50")
        assert code is NutError.READONLY
    finally:
        agent.stop()


# The dummy driver on its own, with a clock that moves only when told.


def _dummy(tmp_path: Path, text: str = DUMP) -> tuple[DummyDriver, Path]:
    path = tmp_path / "unit.dev"
    write_dump(path, text)
    return DummyDriver(path, FakeClock()), path


def test_dummy_offers_every_variable_with_its_kind(tmp_path: Path) -> None:
    driver, _ = _dummy(tmp_path)
    writable = driver.writable()
    assert writable["ups.status"] == WritableVar(VarKind.STRING, max_length=32)
    assert writable["input.voltage"] == WritableVar(VarKind.NUMBER)
    assert set(writable) == set(driver.read().as_nut())


def test_dummy_change_shows_in_readings_until_the_file_changes(tmp_path: Path) -> None:
    driver, path = _dummy(tmp_path)
    driver.set_variable("ups.status", "OB LB")
    driver.set_variable("input.voltage", " 0 ")
    reading = driver.read()
    assert reading.status.flags == UpsFlag.OB | UpsFlag.LB
    assert reading.values["input.voltage"] == 0.0
    write_dump(path, DUMP.replace("ups.load: 15", "ups.load: 20"))
    reading = driver.read()
    assert reading.status.flags == UpsFlag.OL
    assert reading.values["input.voltage"] == 230.0
    assert reading.values["ups.load"] == 20.0


def test_dummy_refuses_unknown_variables_and_bad_values(tmp_path: Path) -> None:
    driver, _ = _dummy(tmp_path)
    with pytest.raises(UnsupportedCommand):
        driver.set_variable("ups.beeper.status", "enabled")
    for bad in ("", "   ", "12 V", "nan", "x" * 40):
        with pytest.raises(ValueError, match=r"battery\.charge"):
            driver.set_variable("battery.charge", bad)
    assert driver.read().values["battery.charge"] == 100.0
