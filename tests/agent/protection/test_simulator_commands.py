"""The simulated UPS's turn-off commands and delays, which protection sends when it acts."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock
from upsight.drivers import open_device
from upsight.drivers.base import VarKind
from upsight.drivers.errors import InvalidValue, UnsupportedCommand
from upsight.drivers.model import Reading, UpsFlag
from upsight.drivers.simulated.driver import SimDriver
from upsight.drivers.simulated.output import Output


def open_sim(spec: str, clock: FakeClock) -> SimDriver:
    driver = open_device(spec, clock)
    assert isinstance(driver, SimDriver)
    return driver


def statuses(driver: SimDriver, clock: FakeClock, seconds: int) -> list[str]:
    """``ups.status`` once per second for ``seconds`` seconds, starting one second from now."""
    seen = []
    for _ in range(seconds):
        clock.advance(1.0)
        seen.append(str(driver.read().status))
    return seen


def first(seen: list[str], status: str) -> int:
    """The second (from 1) at which ``status`` is first seen."""
    return seen.index(status) + 1


def test_the_simulator_offers_the_shutdown_commands_and_delays() -> None:
    driver = open_sim("sim://normal", FakeClock())
    assert {"shutdown.return", "shutdown.stayoff", "shutdown.stop", "load.off.delay"} <= (
        driver.commands()
    )
    assert set(driver.writable()) == {"ups.delay.shutdown", "ups.delay.start"}
    assert driver.writable()["ups.delay.shutdown"].kind is VarKind.RANGE
    values = driver.read().values
    assert (values["ups.delay.shutdown"], values["ups.delay.start"]) == (20.0, 30.0)
    assert (values["ups.timer.shutdown"], values["ups.timer.start"]) == (-1.0, -1.0)


def test_shutdown_return_on_battery_cuts_the_output_and_restores_it_after_mains() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage", clock)
    clock.advance(20.0)
    assert driver.read().status.flags == UpsFlag.OB | UpsFlag.DISCHRG
    driver.run("shutdown.return", "15")
    assert driver.read().values["ups.timer.shutdown"] == 15.0
    seen = statuses(driver, clock, 200)
    # Off 15 s after the command; the outage goes on 60 s more; back 30 s after mains.
    assert first(seen, "OFF") == 15
    assert first(seen, "OL CHRG OFF") == 75
    assert first(seen, "OL CHRG") == 105
    assert "OB DISCHRG" not in seen[14:]


def test_the_battery_does_not_drain_while_the_output_is_off() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage", clock)
    clock.advance(20.0)
    driver.run("shutdown.return", "0")
    clock.advance(1.0)
    off = driver.read()
    clock.advance(30.0)
    later = driver.read()
    assert off.status.flags == UpsFlag.OFF
    assert later.values["battery.charge"] == off.values["battery.charge"]
    assert (later.values["ups.load"], later.values["output.voltage"]) == (0.0, 0.0)


def test_shutdown_return_on_mains_power_cycles_the_load() -> None:
    clock = FakeClock()
    driver = open_sim("sim://normal", clock)
    driver.set_variable("ups.delay.shutdown", "5")
    driver.set_variable("ups.delay.start", "10")
    driver.run("shutdown.return")
    seen = statuses(driver, clock, 20)
    assert seen == ["OL"] * 4 + ["OL OFF"] * 10 + ["OL"] * 6


def test_shutdown_stayoff_and_load_off_delay_leave_the_output_off() -> None:
    for command in ("shutdown.stayoff", "load.off.delay"):
        clock = FakeClock()
        driver = open_sim("sim://normal", clock)
        driver.run(command, "2")
        assert statuses(driver, clock, 60)[1:] == ["OL OFF"] * 59, command


def test_shutdown_stop_cancels_a_pending_turn_off() -> None:
    clock = FakeClock()
    driver = open_sim("sim://normal", clock)
    driver.run("shutdown.return", "10")
    clock.advance(5.0)
    driver.run("shutdown.stop")
    assert set(statuses(driver, clock, 30)) == {"OL"}
    assert driver.read().values["ups.timer.shutdown"] == -1.0


def test_bad_delays_and_variables_are_refused() -> None:
    driver = open_sim("sim://normal", FakeClock())
    with pytest.raises(InvalidValue, match=r"shutdown\.return takes seconds from 0 to 600"):
        driver.run("shutdown.return", "soon")
    with pytest.raises(InvalidValue, match="601"):
        driver.set_variable("ups.delay.start", "601")
    with pytest.raises(UnsupportedCommand, match=r"battery\.charge"):
        driver.set_variable("battery.charge", "50")


def test_an_outage_that_waits_for_low_battery_ends_when_the_output_goes_off() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage", clock)
    clock.advance(20.0)
    driver.run("shutdown.stayoff", "0")
    readings: list[Reading] = []
    for _ in range(70):
        clock.advance(1.0)
        readings.append(driver.read())
    assert [str(r.status) for r in readings[:59]] == ["OFF"] * 59
    assert str(readings[60].status) == "OL CHRG OFF"


def test_the_output_switch_is_pure_and_clock_driven() -> None:
    pending = Output().turn_off(100.0, 20.0, returns=True)
    assert pending.next_change_s() == 120.0
    off = pending.advance(120.0, mains=False)
    assert not off.on
    assert off.next_change_s() is None
    back = off.advance(150.0, mains=True)
    assert back.next_change_s() == 180.0
    assert back.timer_start_s(170.0) == 10.0
    assert back.advance(160.0, mains=False).mains_since_s is None
    assert back.advance(180.0, mains=True).on
    assert pending.stop() == Output()
