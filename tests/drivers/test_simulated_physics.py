"""Tests for the simulated UPS's pure battery and mains physics."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upsight.drivers.simulated import physics
from upsight.drivers.simulated.profiles import PROFILES

# The default profile's battery: 400 W, 12 V, 1312 s at 27 % load.
BATTERY = physics.Battery.from_runtime(400.0, 12.0, 27.0, 1312.0)


def test_from_runtime_reproduces_the_reported_runtime() -> None:
    runtime = physics.runtime_s(BATTERY, BATTERY.capacity_wh, 27.0)
    assert runtime == pytest.approx(1312.0)


def test_charge_falls_faster_on_battery_at_higher_load() -> None:
    full = BATTERY.capacity_wh
    light = physics.discharge(BATTERY, full, 20.0, 60.0)
    heavy = physics.discharge(BATTERY, full, 80.0, 60.0)
    assert heavy < light < full


def test_runtime_falls_as_load_rises() -> None:
    loads = [0.0, 5.0, 10.0, 30.0, 60.0, 100.0, 120.0]
    runtimes = [physics.runtime_s(BATTERY, BATTERY.capacity_wh, load) for load in loads]
    assert runtimes == sorted(runtimes, reverse=True)
    assert len(set(runtimes)) == len(runtimes)


def test_runtime_at_zero_load_is_finite_and_a_few_hours() -> None:
    runtime = physics.runtime_s(BATTERY, BATTERY.capacity_wh, 0.0)
    assert 2 * 3600 < runtime < 12 * 3600


def test_high_load_delivers_less_energy_in_total() -> None:
    # Peukert: the same battery yields fewer watt-hours to the load at high load.
    def delivered_wh(load: float) -> float:
        seconds = physics.runtime_s(BATTERY, BATTERY.capacity_wh, load)
        return BATTERY.realpower_nominal_w * load / 100 * seconds / 3600

    assert delivered_wh(100.0) < delivered_wh(50.0) < delivered_wh(25.0)


@pytest.mark.parametrize("load", [10.0, 30.0, 75.0, 100.0])
def test_discharging_for_the_runtime_empties_the_battery(load: float) -> None:
    energy = BATTERY.capacity_wh
    runtime = physics.runtime_s(BATTERY, energy, load)
    one_step_wh = physics.drain_w(BATTERY, load) / 3600
    for _ in range(math.floor(runtime) - 2):
        energy = physics.discharge(BATTERY, energy, load, 1.0)
    assert energy > 0
    for _ in range(3):
        energy = physics.discharge(BATTERY, energy, load, 1.0)
    assert energy < one_step_wh
    assert physics.discharge(BATTERY, energy, load, 1.0) == 0.0


def test_recharge_from_empty_takes_three_to_four_hours_and_stops_at_full() -> None:
    energy = 0.0
    seconds = 0
    while energy < BATTERY.capacity_wh:
        energy = physics.recharge(BATTERY, energy, 1.0)
        seconds += 1
        assert seconds < 5 * 3600
    assert 3 * 3600 <= seconds <= 4 * 3600
    assert physics.charge_pct(BATTERY, energy) == 100.0
    assert physics.recharge(BATTERY, energy, 3600.0) == BATTERY.capacity_wh


def test_recharge_tapers_near_full() -> None:
    def gain(charge: float) -> float:
        energy = BATTERY.capacity_wh * charge / 100
        return physics.recharge(BATTERY, energy, 60.0) - energy

    assert gain(50.0) == pytest.approx(gain(20.0))
    assert gain(95.0) < gain(85.0) < gain(50.0)
    assert gain(99.9) > 0


def test_battery_voltage_sags_under_load_and_rises_on_the_charger() -> None:
    rest_full = physics.battery_voltage(BATTERY, 100.0, 0.0, on_battery=True)
    on_line = physics.battery_voltage(BATTERY, 100.0, 30.0, on_battery=False)
    light = physics.battery_voltage(BATTERY, 100.0, 20.0, on_battery=True)
    heavy = physics.battery_voltage(BATTERY, 100.0, 90.0, on_battery=True)
    empty = physics.battery_voltage(BATTERY, 5.0, 20.0, on_battery=True)
    assert on_line == pytest.approx(13.6)
    assert heavy < light < rest_full < on_line
    assert empty < light


def test_battery_voltage_scales_with_the_nominal_voltage() -> None:
    battery_24 = PROFILES["cyberpower-cp850"].battery()
    v12 = physics.battery_voltage(BATTERY, 60.0, 40.0, on_battery=True)
    v24 = physics.battery_voltage(battery_24, 60.0, 40.0, on_battery=True)
    assert v24 == pytest.approx(2 * v12)


def test_temperature_rises_with_load_and_more_on_battery() -> None:
    idle = physics.temperature_target_c(0.0, on_battery=False, charging=False)
    loaded = physics.temperature_target_c(80.0, on_battery=False, charging=False)
    inverter = physics.temperature_target_c(80.0, on_battery=True, charging=False)
    assert 15 < idle < loaded < inverter < 50


def test_settle_approaches_the_target() -> None:
    value = 20.0
    for _ in range(5 * 60):
        value = physics.settle(value, 30.0, tau_s=60.0, dt_s=1.0)
    assert 29.9 < value < 30.0


def test_wander_keeps_its_long_run_spread_and_returns_to_zero() -> None:
    rng = random.Random(1)
    value = 0.0
    samples = []
    for _ in range(20_000):
        value = physics.wander(value, sigma=2.0, tau_s=10.0, dt_s=1.0, z=rng.gauss())
        samples.append(value)
    assert abs(statistics.fmean(samples)) < 0.3
    assert 1.8 < statistics.pstdev(samples) < 2.2
    assert physics.wander(5.0, sigma=2.0, tau_s=10.0, dt_s=0.0, z=3.0) == 5.0


batteries = st.sampled_from([p.battery() for p in PROFILES.values()])
loads = st.floats(min_value=0.0, max_value=150.0)
charges = st.floats(min_value=0.0, max_value=100.0)
steps = st.floats(min_value=0.0, max_value=3600.0)


@given(battery=batteries, load=loads, charge=charges, dt_s=steps, on_battery=st.booleans())
def test_values_stay_in_physical_ranges(
    battery: physics.Battery, load: float, charge: float, dt_s: float, on_battery: bool
) -> None:
    energy = battery.capacity_wh * charge / 100
    if on_battery:
        after = physics.discharge(battery, energy, load, dt_s)
        assert 0.0 <= after <= energy
    else:
        after = physics.recharge(battery, energy, dt_s)
        assert energy <= after <= battery.capacity_wh
    assert 0.0 <= physics.charge_pct(battery, after) <= 100.0
    runtime = physics.runtime_s(battery, after, load)
    assert math.isfinite(runtime)
    assert runtime >= 0.0
    volts = physics.battery_voltage(battery, physics.charge_pct(battery, after), load, on_battery)
    assert 0.8 * battery.voltage_nominal_v <= volts <= 1.2 * battery.voltage_nominal_v
