"""The battery: driver, with psutil's OS query faked at that boundary."""

from __future__ import annotations

from collections import namedtuple

import psutil
import pytest

from tests.fakes import FakeClock
from upsight.drivers import open_device
from upsight.drivers.errors import Disconnected, NotFound
from upsight.drivers.model import Status, UpsFlag

# The shape psutil returns (psutil._common.sbattery).
sbattery = namedtuple("sbattery", ["percent", "secsleft", "power_plugged"])


@pytest.fixture
def os_battery(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What the OS reports on each call; the test sets ``[0]``."""
    reports: list[object] = [None]
    monkeypatch.setattr(psutil, "sensors_battery", lambda: reports[0])
    return reports


def test_no_battery_is_reported_clearly(os_battery: list[object]) -> None:
    with pytest.raises(NotFound, match="operating system reports no battery"):
        open_device("battery:")


def test_on_mains_and_charging(os_battery: list[object]) -> None:
    os_battery[0] = sbattery(87.0, psutil.POWER_TIME_UNLIMITED, True)
    clock = FakeClock()
    with open_device("battery:", clock) as driver:
        reading = driver.read()
        assert driver.info().model == "System battery"
    assert reading.at == clock.time()
    assert reading.status == Status.of(UpsFlag.OL, UpsFlag.CHRG)
    assert reading.values == {"battery.charge": 87.0}, "unlimited time is not a runtime"


def test_on_battery_reports_runtime(os_battery: list[object]) -> None:
    os_battery[0] = sbattery(40.0, 1200, False)
    with open_device("battery:", FakeClock()) as driver:
        reading = driver.read()
    assert reading.status == Status.of(UpsFlag.OB, UpsFlag.DISCHRG)
    assert reading.number("battery.runtime") == 1200.0


def test_unknown_plug_state_and_time_claim_nothing(os_battery: list[object]) -> None:
    os_battery[0] = sbattery(55.5, psutil.POWER_TIME_UNKNOWN, None)
    with open_device("battery:", FakeClock()) as driver:
        reading = driver.read()
    assert reading.status == Status()
    assert reading.values == {"battery.charge": 55.5}


def test_battery_gone_mid_session_is_a_disconnect(os_battery: list[object]) -> None:
    os_battery[0] = sbattery(100.0, psutil.POWER_TIME_UNLIMITED, True)
    with open_device("battery:", FakeClock()) as driver:
        driver.read()
        os_battery[0] = None
        with pytest.raises(Disconnected, match="no battery"):
            driver.read()
