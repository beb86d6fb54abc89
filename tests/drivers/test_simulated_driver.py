"""Tests for the simulated UPS driver: specs, values, speed, seeds, commands and failures."""

from __future__ import annotations

import statistics

import pytest

from tests.fakes import FakeClock
from upsight.drivers import open_device
from upsight.drivers.errors import DeviceSpecError, Disconnected, UnsupportedCommand
from upsight.drivers.model import Reading, UpsFlag
from upsight.drivers.simulated.driver import SimDriver, open_simulator
from upsight.drivers.simulated.profiles import PROFILES
from upsight.drivers.simulated.scenarios import FAILED, SCENARIOS
from upsight.drivers.spec import DeviceSpec
from upsight.drivers.variables import is_numeric


def open_sim(spec: str, clock: FakeClock | None = None) -> SimDriver:
    driver = open_device(spec, clock or FakeClock())
    assert isinstance(driver, SimDriver)
    return driver


def read_at(driver: SimDriver, clock: FakeClock, seconds: float) -> Reading:
    clock.advance(seconds)
    return driver.read()


def num(reading: Reading, name: str) -> float:
    value = reading.number(name)
    assert value is not None, name
    return value


def test_open_device_gives_a_simulator_with_its_identity() -> None:
    info = open_sim("sim://normal").info()
    assert info.simulated
    assert info.driver == "sim"
    assert (info.mfr, info.model, info.serial, info.vid, info.pid) == (
        "Upsight",
        "Simulated UPS",
        None,
        None,
        None,
    )
    assert info.firmware
    assert info.label() == "Simulated UPS"


def test_unknown_scenario_names_every_scenario() -> None:
    with pytest.raises(DeviceSpecError) as caught:
        open_device("sim://meltdown", FakeClock())
    message = str(caught.value)
    assert "meltdown" in message
    assert "\n" not in message
    for name in SCENARIOS:
        assert name in message


def test_unknown_profile_names_every_profile() -> None:
    with pytest.raises(DeviceSpecError) as caught:
        open_device("sim://normal?profile=acme-9000", FakeClock())
    message = str(caught.value)
    assert "acme-9000" in message
    assert "\n" not in message
    for name in PROFILES:
        assert name in message


@pytest.mark.parametrize("params", [{"speed": "fast"}, {"speed": "-2"}, {"seed": "x"}])
def test_bad_parameters_in_a_hand_made_spec_are_spec_errors(params: dict[str, str]) -> None:
    with pytest.raises(DeviceSpecError):
        open_simulator(DeviceSpec("sim", "normal", params, "sim://normal"), FakeClock())


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_value_has_the_type_its_name_calls_for(scenario: str, profile: str) -> None:
    clock = FakeClock()
    driver = open_sim(f"sim://{scenario}?profile={profile}", clock)
    for _ in range(5):
        reading = read_at(driver, clock, 1.0)
        assert (UpsFlag.OL in reading.status) != (UpsFlag.OB in reading.status)
        for name, value in reading.values.items():
            if is_numeric(name):
                assert isinstance(value, float), name
            else:
                assert isinstance(value, str), name
                assert value, name


def test_default_profile_reports_the_apc_figures() -> None:
    clock = FakeClock()
    reading = open_sim("sim://normal", clock).read()
    assert reading.at == clock.time()
    assert reading.status.flags == UpsFlag.OL
    expected = {
        "device.mfr": "Upsight",
        "ups.mfr": "Upsight",
        "device.model": "Simulated UPS",
        "ups.model": "Simulated UPS",
        "device.type": "ups",
        "input.voltage.nominal": 230.0,
        "battery.voltage.nominal": 12.0,
        "ups.realpower.nominal": 400.0,
        "battery.charge.low": 10.0,
        "battery.runtime.low": 120.0,
        "ups.beeper.status": "disabled",
        "ups.test.result": "No test initiated",
        "battery.charge": 100.0,
    }
    assert {name: reading.values.get(name) for name in expected} == expected
    # The real APC reports neither real power nor input frequency.
    assert "ups.realpower" not in reading.values
    assert "input.frequency" not in reading.values
    assert 1000 < num(reading, "battery.runtime") < 1400


def test_ippon_reports_no_runtime_and_no_real_power() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage?profile=ippon-850", clock)
    for reading in (driver.read(), read_at(driver, clock, 20.0)):
        for name in ("battery.runtime", "battery.runtime.low", "ups.realpower"):
            assert name not in reading.values
        assert "ups.realpower.nominal" not in reading.values
        assert "ups.temperature" in reading.values
        assert "battery.charge" in reading.values


def test_eaton_reports_real_power_from_the_load() -> None:
    reading = open_sim("sim://normal?profile=eaton-ellipse650").read()
    load = num(reading, "ups.load")
    assert reading.values["ups.realpower"] == pytest.approx(load * 4, abs=1.0)
    assert reading.values["ups.power"] == pytest.approx(load * 6.5, abs=1.0)


def test_mains_and_inverter_values_follow_the_outage() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage?profile=eaton-ellipse650", clock)
    on_line = read_at(driver, clock, 5.0)
    on_battery = read_at(driver, clock, 10.0)
    assert on_line.status.flags == UpsFlag.OL | UpsFlag.CHRG
    assert on_battery.status.flags == UpsFlag.OB | UpsFlag.DISCHRG
    assert 220 < num(on_line, "input.voltage") < 240
    assert on_line.values["output.voltage"] == on_line.values["input.voltage"]
    assert 49.5 < num(on_line, "input.frequency") < 50.5
    assert on_battery.values["input.voltage"] == 0.0
    assert "input.frequency" not in on_battery.values
    assert on_battery.values["output.voltage"] == pytest.approx(230.0, abs=2.0)
    assert on_battery.values["output.frequency"] == 50.0
    assert num(on_battery, "battery.charge") < num(on_line, "battery.charge")


def test_battery_voltage_drops_on_battery() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage", clock)
    on_line = num(read_at(driver, clock, 5.0), "battery.voltage")
    on_battery = num(read_at(driver, clock, 10.0), "battery.voltage")
    assert 10.5 < on_battery < on_line < 14.0


def test_outage_shows_low_battery_on_line_until_the_charge_recovers() -> None:
    clock = FakeClock()
    driver = open_sim("sim://outage?speed=10", clock)
    statuses = []
    for _ in range(200):
        statuses.append(read_at(driver, clock, 1.0).status.flags)
    on_line_low = UpsFlag.OL | UpsFlag.CHRG | UpsFlag.LB
    assert UpsFlag.OB | UpsFlag.DISCHRG | UpsFlag.LB in statuses
    assert on_line_low in statuses
    assert statuses.count(on_line_low) > 1
    assert statuses[-1] == UpsFlag.OL | UpsFlag.CHRG


def test_low_runtime_raises_low_battery_before_low_charge() -> None:
    # The CyberPower calls the battery low at 300 s of runtime, well above 10 % charge.
    clock = FakeClock()
    driver = open_sim("sim://outage?profile=cyberpower-cp850&speed=10", clock)
    readings = [read_at(driver, clock, 1.0) for _ in range(60)]
    reading = next(r for r in readings if UpsFlag.LB in r.status)
    assert num(reading, "battery.runtime") <= 300
    assert num(reading, "battery.charge") > 20


def test_load_and_mains_wander_around_their_nominal_values() -> None:
    clock = FakeClock()
    driver = open_sim("sim://normal", clock)
    readings = [read_at(driver, clock, 1.0) for _ in range(300)]
    volts = [num(r, "input.voltage") for r in readings]
    loads = [num(r, "ups.load") for r in readings]
    assert abs(statistics.fmean(volts) - 230.0) < 4.0
    assert 0.5 < statistics.stdev(volts) < 4.0
    assert abs(statistics.fmean(loads) - 30.0) < 4.0
    assert len(set(loads)) > 10


def test_overload_raises_over_and_shortens_the_runtime() -> None:
    clock = FakeClock()
    driver = open_sim("sim://overload", clock)
    before = read_at(driver, clock, 5.0)
    during = read_at(driver, clock, 10.0)
    after = read_at(driver, clock, 30.0)
    assert UpsFlag.OVER not in before.status
    assert UpsFlag.OVER in during.status
    assert UpsFlag.OVER not in after.status
    assert num(during, "ups.load") > 100
    assert num(during, "battery.runtime") < num(before, "battery.runtime") / 3


def test_speed_multiplies_simulated_time() -> None:
    slow_clock, fast_clock = FakeClock(), FakeClock()
    slow = open_sim("sim://outage?seed=3", slow_clock)
    fast = open_sim("sim://outage?seed=3&speed=10", fast_clock)
    slow_reading = read_at(slow, slow_clock, 10.0)
    fast_reading = read_at(fast, fast_clock, 1.0)
    assert fast_reading.as_nut() == slow_reading.as_nut()
    assert UpsFlag.OB in fast_reading.status


def test_same_seed_replays_the_same_readings() -> None:
    def run(seed: int) -> list[dict[str, str]]:
        clock = FakeClock()
        driver = open_sim(f"sim://outage?seed={seed}&speed=7", clock)
        return [read_at(driver, clock, 0.7).as_nut() for _ in range(50)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_beeper_commands_change_the_beeper_status() -> None:
    driver = open_sim("sim://normal")
    assert driver.commands() == {
        "beeper.enable",
        "beeper.disable",
        "beeper.mute",
        "test.battery.start.quick",
        "test.battery.stop",
        "shutdown.return",
        "shutdown.stayoff",
        "shutdown.stop",
        "load.off.delay",
    }
    for command, status in [
        ("beeper.enable", "enabled"),
        ("beeper.mute", "muted"),
        ("beeper.disable", "disabled"),
    ]:
        driver.run(command)
        assert driver.read().values["ups.beeper.status"] == status


def test_quick_test_shows_cal_then_passes() -> None:
    clock = FakeClock()
    driver = open_sim("sim://normal", clock)
    driver.run("test.battery.start.quick")
    running = read_at(driver, clock, 9.0)
    done = read_at(driver, clock, 1.0)
    assert UpsFlag.CAL in running.status
    assert running.values["ups.test.result"] == "In progress"
    assert UpsFlag.CAL not in done.status
    assert done.values["ups.test.result"] == "Done and passed"


def test_stopping_a_test_aborts_it() -> None:
    clock = FakeClock()
    driver = open_sim("sim://normal?profile=ippon-850", clock)
    assert "ups.test.result" not in driver.read().values
    driver.run("test.battery.start.quick")
    clock.advance(3.0)
    driver.run("test.battery.stop")
    reading = read_at(driver, clock, 20.0)
    assert UpsFlag.CAL not in reading.status
    assert reading.values["ups.test.result"] == "Aborted"


def test_replace_battery_fails_its_self_test_and_any_later_one() -> None:
    clock = FakeClock()
    driver = open_sim("sim://replace-battery", clock)
    testing = read_at(driver, clock, 5.0)
    failed = read_at(driver, clock, 5.0)
    assert testing.status.flags == UpsFlag.OL | UpsFlag.CAL
    assert testing.values["ups.test.result"] == "In progress"
    assert failed.status.flags == UpsFlag.OL | UpsFlag.RB
    assert failed.values["ups.test.result"] == FAILED
    driver.run("test.battery.start.quick")
    retest = read_at(driver, clock, 10.0)
    assert UpsFlag.RB in retest.status
    assert retest.values["ups.test.result"] == FAILED


def test_unknown_command_is_unsupported() -> None:
    with pytest.raises(UnsupportedCommand, match=r"load\.off"):
        open_sim("sim://normal").run("load.off")


def test_commloss_raises_disconnected_during_the_windows_only() -> None:
    clock = FakeClock()
    driver = open_sim("sim://commloss", clock)
    errors: dict[int, str] = {}
    for second in range(100):
        try:
            driver.read()
        except Disconnected as exc:
            errors[second] = str(exc)
        clock.advance(1.0)
    assert list(errors) == [*range(10, 30), *range(70, 90)]
    assert set(errors.values()) == {"simulated communication loss"}


def test_commands_fail_during_a_communication_loss() -> None:
    clock = FakeClock()
    driver = open_sim("sim://commloss", clock)
    clock.advance(15.0)
    with pytest.raises(Disconnected):
        driver.run("beeper.mute")
    clock.advance(20.0)
    driver.run("beeper.mute")
    assert driver.read().values["ups.beeper.status"] == "muted"


def test_close_ends_the_session() -> None:
    with open_sim("sim://normal") as driver:
        driver.read()
    with pytest.raises(Disconnected):
        driver.read()
    driver.close()
