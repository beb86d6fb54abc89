"""The simulated UPS driver: a profile played through a scenario in simulated time."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final, TypeVar

from upsight.drivers.base import Driver, VarKind, WritableVar
from upsight.drivers.clock import Clock
from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    InvalidValue,
    UnsupportedCommand,
)
from upsight.drivers.model import Reading, Status, UpsFlag, UpsInfo, Value
from upsight.drivers.simulated import physics
from upsight.drivers.simulated.output import MAX_DELAY_S, Output
from upsight.drivers.simulated.profiles import DEFAULT_PROFILE, PROFILES, Profile
from upsight.drivers.simulated.scenarios import (
    FAILED,
    IN_PROGRESS,
    PASSED,
    SCENARIOS,
    Phase,
    Scenario,
    Timeline,
)
from upsight.drivers.spec import DeviceSpec

MFR: Final = "Upsight"
MODEL: Final = "Simulated UPS"
FIRMWARE: Final = "upsight-sim 1"

# The model integrates in steps no longer than this, so that low battery and phase
# changes land within a simulated second whatever the poll interval or speed.
MAX_STEP_S: Final = 1.0
# Below this charge on line the charger shows CHRG; a full battery floats at 100.
CHARGED_PCT: Final = 99.5
SELF_TEST_S: Final = 10.0
NO_TEST: Final = "No test initiated"
ABORTED: Final = "Aborted"

# Slow wander (Ornstein-Uhlenbeck: long-run sigma, correlation time) and measurement
# noise (sigma per read); mains figures suit a domestic supply.
_LOAD_SIGMA_PCT: Final = 1.5
_LOAD_TAU_S: Final = 120.0
_MAINS_SIGMA_V: Final = 2.0
_MAINS_TAU_S: Final = 600.0
_MAINS_NOISE_V: Final = 1.0
_FREQ_SIGMA_HZ: Final = 0.03
_FREQ_TAU_S: Final = 60.0
_FREQ_NOISE_HZ: Final = 0.02
_INVERTER_NOISE_V: Final = 0.3
_BATTERY_NOISE_V: Final = 0.02
# A UPS case warms up or cools down over a quarter of an hour.
_TEMPERATURE_TAU_S: Final = 900.0

_BEEPER: Final[Mapping[str, str]] = {
    "beeper.enable": "enabled",
    "beeper.disable": "disabled",
    "beeper.mute": "muted",
}
_START_TEST: Final = "test.battery.start.quick"
_STOP_TEST: Final = "test.battery.stop"
# Turn-off commands, and whether the output comes back when mains returns.
_TURN_OFF: Final[Mapping[str, bool]] = {
    "shutdown.return": True,
    "shutdown.stayoff": False,
    "load.off.delay": False,
}
_STOP_SHUTDOWN: Final = "shutdown.stop"
COMMANDS: Final = frozenset({*_BEEPER, _START_TEST, _STOP_TEST, *_TURN_OFF, _STOP_SHUTDOWN})
_DELAY: Final = WritableVar(VarKind.RANGE, ranges=((0.0, MAX_DELAY_S),))
WRITABLE: Final[Mapping[str, WritableVar]] = {
    "ups.delay.shutdown": _DELAY,
    "ups.delay.start": _DELAY,
}

_T = TypeVar("_T")


class SimDriver(Driver):
    """A simulated UPS whose clock runs ``speed`` times faster than ``clock``.

    Each read advances the model to the present, so the cost of a read grows
    with the simulated time since the previous one (a few microseconds per
    simulated second).

    Besides its profile's variables, every simulated UPS reports and accepts the
    shutdown delays (``ups.delay.*``) and shows the timers (``ups.timer.*``) of
    its turn-off commands. Delays and command values are in simulated seconds.
    """

    def __init__(
        self,
        scenario: Scenario,
        profile: Profile,
        clock: Clock,
        speed: float = 1.0,
        seed: int = 0,
    ) -> None:
        self._scenario = scenario
        self._profile = profile
        self._clock = clock
        self._speed = speed
        self._rng = random.Random(seed)
        self._battery = profile.battery()
        self._timeline = Timeline(scenario)
        self._origin_mono = clock.monotonic()
        self._now_s = 0.0
        self._closed = False
        self._beeper = profile.beeper
        self._test_result = NO_TEST if "ups.test.result" in profile.reports else None
        self._test_end_s: float | None = None
        self._output = Output()
        self._load_offset_pct = 0.0
        self._load_pct = self._phase_load(self._timeline.phase)
        self._energy_wh = self._start_energy_wh()
        self._mains_wander_v = 0.0
        self._freq_wander_hz = 0.0
        self._temperature_c = physics.temperature_target_c(
            self._load_pct, on_battery=False, charging=self._charge() < CHARGED_PCT
        )
        self._low_battery = self._below_limits()
        self._enter([self._timeline.phase])
        self._static = self._static_values()

    def info(self) -> UpsInfo:
        return UpsInfo(
            mfr=MFR,
            model=MODEL,
            serial=None,
            firmware=FIRMWARE,
            vid=None,
            pid=None,
            driver="sim",
            simulated=True,
        )

    def read(self) -> Reading:
        phase = self._sync()
        return Reading(self._clock.time(), self._status(phase), self._values(phase))

    def commands(self) -> frozenset[str]:
        return COMMANDS

    def run(self, name: str, value: str | None = None) -> None:
        """Run a command; turn-off commands take an optional delay in simulated seconds.

        Raises:
            UnsupportedCommand: not a command of the simulated UPS.
            InvalidValue: a delay that is not a number from 0 to 600.
        """
        if name not in COMMANDS:
            raise UnsupportedCommand(f"{name} is not supported by the simulated UPS")
        self._sync()
        if name in _BEEPER:
            self._beeper = _BEEPER[name]
        elif name == _START_TEST:
            self._test_end_s = self._now_s + SELF_TEST_S
            self._test_result = IN_PROGRESS
        elif name == _STOP_TEST:
            if self._test_end_s is not None:
                self._test_end_s = None
                self._test_result = ABORTED
        elif name == _STOP_SHUTDOWN:
            self._output = self._output.stop()
        else:
            delay = None if value is None else _delay(name, value)
            self._output = self._output.turn_off(self._now_s, delay, _TURN_OFF[name])

    def writable(self) -> Mapping[str, WritableVar]:
        return WRITABLE

    def set_variable(self, name: str, value: str) -> None:
        if name not in WRITABLE:
            raise UnsupportedCommand(f"{name} cannot be changed on the simulated UPS")
        self._sync()
        delay = _delay(name, value)
        if name == "ups.delay.shutdown":
            self._output = replace(self._output, off_delay_s=delay)
        else:
            self._output = replace(self._output, on_delay_s=delay)

    def close(self) -> None:
        self._closed = True

    def _sync(self) -> Phase:
        """Advance to the present and return the phase in force, or fail as the scenario says."""
        if self._closed:
            raise Disconnected("the simulated UPS is closed")
        self._advance_to((self._clock.monotonic() - self._origin_mono) * self._speed)
        phase = self._timeline.phase
        if not phase.comm:
            raise Disconnected("simulated communication loss")
        return phase

    def _advance_to(self, target_s: float) -> None:
        while self._now_s < target_s:
            step_end = min(self._now_s + MAX_STEP_S, target_s)
            # End steps exactly at phase changes, the end of a self-test and output switching.
            boundaries = (self._timeline.end_s, self._test_end_s, self._output.next_change_s())
            for boundary in boundaries:
                if boundary is not None:
                    step_end = min(step_end, boundary)
            self._step(step_end - self._now_s, self._timeline.phase)
            self._now_s = step_end
            self._output = self._output.advance(step_end, self._timeline.phase.mains)
            # An outage that lasts "until low battery" also ends when the load loses power:
            # with the output off the battery no longer drains, so LB would never come.
            entered = self._timeline.advance(step_end, self._low_battery or not self._output.on)
            if entered:
                self._enter(entered)
                # A new phase's load applies at once, not from the next step.
                self._load_pct = max(0.0, self._phase_load(entered[-1]) + self._load_offset_pct)
                self._output = self._output.advance(step_end, self._timeline.phase.mains)
            if self._test_end_s is not None and self._test_end_s <= step_end:
                self._test_end_s = None
                self._test_result = FAILED if self._timeline.phase.replace_battery else PASSED

    def _step(self, dt_s: float, phase: Phase) -> None:
        rng = self._rng
        on_battery = not phase.mains
        self._load_offset_pct = physics.wander(
            self._load_offset_pct,
            sigma=_LOAD_SIGMA_PCT,
            tau_s=_LOAD_TAU_S,
            dt_s=dt_s,
            z=rng.gauss(),
        )
        self._load_pct = max(0.0, self._phase_load(phase) + self._load_offset_pct)
        if on_battery and self._output.on:
            self._energy_wh = physics.discharge(
                self._battery, self._energy_wh, self._load_pct, dt_s
            )
        elif not on_battery:
            self._energy_wh = physics.recharge(self._battery, self._energy_wh, dt_s)
        self._mains_wander_v = physics.wander(
            self._mains_wander_v, sigma=_MAINS_SIGMA_V, tau_s=_MAINS_TAU_S, dt_s=dt_s, z=rng.gauss()
        )
        self._freq_wander_hz = physics.wander(
            self._freq_wander_hz, sigma=_FREQ_SIGMA_HZ, tau_s=_FREQ_TAU_S, dt_s=dt_s, z=rng.gauss()
        )
        charging = not on_battery and self._charge() < CHARGED_PCT
        target_c = physics.temperature_target_c(self._output_load(), on_battery, charging)
        self._temperature_c = physics.settle(
            self._temperature_c, target_c, _TEMPERATURE_TAU_S, dt_s
        )
        # On battery LB latches, as real firmware does, so a wandering load cannot
        # flap it; on line it only clears, once charge and runtime are above the limits.
        if on_battery:
            self._low_battery = self._low_battery or self._below_limits()
        else:
            self._low_battery = self._low_battery and self._below_limits()

    def _enter(self, phases: Iterable[Phase]) -> None:
        for phase in phases:
            if phase.test_result is not None:
                self._test_result = phase.test_result

    def _output_load(self) -> float:
        return self._load_pct if self._output.on else 0.0

    def _phase_load(self, phase: Phase) -> float:
        return self._scenario.base_load_pct if phase.load_pct is None else phase.load_pct

    def _charge(self) -> float:
        return physics.charge_pct(self._battery, self._energy_wh)

    def _runtime_s(self) -> float:
        return physics.runtime_s(self._battery, self._energy_wh, self._load_pct)

    def _below_limits(self) -> bool:
        runtime_low = self._profile.runtime_low_s
        return self._charge() <= self._profile.charge_low_pct or (
            runtime_low is not None and self._runtime_s() <= runtime_low
        )

    def _start_energy_wh(self) -> float:
        battery = self._battery
        seconds = self._scenario.start_s_above_low
        if seconds is None:
            return battery.capacity_wh
        load = self._scenario.base_load_pct
        low_wh = max(
            battery.capacity_wh * self._profile.charge_low_pct / 100,
            physics.energy_for_runtime(battery, load, self._profile.runtime_low_s or 0.0),
        )
        return min(battery.capacity_wh, low_wh + physics.energy_for_runtime(battery, load, seconds))

    def _status(self, phase: Phase) -> Status:
        if phase.mains:
            flags = UpsFlag.OL
            if self._charge() < CHARGED_PCT:
                flags |= UpsFlag.CHRG
        elif self._output.on:
            flags = UpsFlag.OB | UpsFlag.DISCHRG
        else:
            # Output off without mains: nothing runs from the battery.
            flags = UpsFlag.NONE
        if not self._output.on:
            flags |= UpsFlag.OFF
        if self._low_battery:
            flags |= UpsFlag.LB
        if self._output_load() > 100:
            flags |= UpsFlag.OVER
        if phase.replace_battery:
            flags |= UpsFlag.RB
        if phase.self_test or self._test_end_s is not None:
            flags |= UpsFlag.CAL
        return Status(flags)

    def _static_values(self) -> dict[str, Value]:
        profile = self._profile
        nominal: dict[str, Value] = {
            "input.voltage.nominal": profile.input_voltage_nominal_v,
            "input.frequency.nominal": profile.input_frequency_nominal_hz,
            "output.voltage.nominal": profile.input_voltage_nominal_v,
            "output.frequency.nominal": profile.input_frequency_nominal_hz,
            "battery.voltage.nominal": profile.battery_voltage_nominal_v,
            "ups.realpower.nominal": profile.realpower_nominal_w,
            "ups.power.nominal": profile.power_nominal_va,
            "battery.charge.low": profile.charge_low_pct,
        }
        if profile.runtime_low_s is not None:
            nominal["battery.runtime.low"] = profile.runtime_low_s
        values: dict[str, Value] = {
            "device.mfr": MFR,
            "device.model": MODEL,
            "device.type": "ups",
            "ups.mfr": MFR,
            "ups.model": MODEL,
            "ups.firmware": FIRMWARE,
        }
        values.update({k: v for k, v in nominal.items() if k in profile.reports})
        values.update(profile.extra)
        return values

    def _values(self, phase: Phase) -> dict[str, Value]:
        profile = self._profile
        rng = self._rng
        load = self._output_load()
        charge = self._charge()
        if phase.mains:
            input_v = profile.input_voltage_nominal_v + self._mains_wander_v
            input_v += rng.gauss(0.0, _MAINS_NOISE_V)
            input_hz = profile.input_frequency_nominal_hz + self._freq_wander_hz
            input_hz += rng.gauss(0.0, _FREQ_NOISE_HZ)
            output_v, output_hz = input_v, input_hz
        else:
            input_v = 0.0
            output_v = profile.input_voltage_nominal_v + rng.gauss(0.0, _INVERTER_NOISE_V)
            output_hz = profile.input_frequency_nominal_hz
        battery_v = physics.battery_voltage(self._battery, charge, load, not phase.mains)
        temperature = round(self._temperature_c, 1)
        measured: dict[str, Value] = {
            "battery.charge": round(charge, 1),
            "battery.runtime": float(round(self._runtime_s())),
            "battery.voltage": round(battery_v + rng.gauss(0.0, _BATTERY_NOISE_V), 2),
            "battery.temperature": temperature,
            "ups.temperature": temperature,
            "input.voltage": round(input_v, 1),
            "output.voltage": round(output_v, 1),
            "output.frequency": round(output_hz, 1),
            "ups.load": round(load, 1),
            "ups.realpower": float(round(load * profile.realpower_nominal_w / 100)),
            "ups.power": float(round(load * profile.power_nominal_va / 100)),
            "ups.beeper.status": self._beeper,
        }
        if phase.mains:
            measured["input.frequency"] = round(input_hz, 1)
        if not self._output.on:
            measured["output.voltage"] = 0.0
            del measured["output.frequency"]
        values = dict(self._static)
        values.update({k: v for k, v in measured.items() if k in profile.reports})
        # A result appears once known, even on models that report none before a test.
        if self._test_result is not None:
            values["ups.test.result"] = self._test_result
        output = self._output
        values["ups.delay.shutdown"] = output.off_delay_s
        values["ups.delay.start"] = output.on_delay_s
        values["ups.timer.shutdown"] = float(round(output.timer_shutdown_s(self._now_s)))
        values["ups.timer.start"] = float(round(output.timer_start_s(self._now_s)))
        return values


def _delay(name: str, value: str) -> float:
    try:
        delay = float(value)
    except ValueError:
        delay = math.nan
    if not 0 <= delay <= MAX_DELAY_S:
        raise InvalidValue(f"{name} takes seconds from 0 to {MAX_DELAY_S:g}, not {value!r}")
    return delay


def open_simulator(spec: DeviceSpec, clock: Clock) -> SimDriver:
    """Open ``sim://SCENARIO[?speed=N&profile=P&seed=S]``.

    Raises:
        DeviceSpecError: unknown scenario or profile, or a bad speed or seed.
    """
    scenario = _choose(SCENARIOS, spec.target, "scenario")
    profile = _choose(PROFILES, spec.params.get("profile", DEFAULT_PROFILE), "profile")
    try:
        speed = float(spec.params.get("speed", "1"))
        seed = int(spec.params.get("seed", "0"))
    except ValueError:
        raise DeviceSpecError(
            f"bad simulator spec {spec}: speed and seed must be numbers"
        ) from None
    if not (math.isfinite(speed) and speed > 0):
        raise DeviceSpecError(f"bad simulator spec {spec}: speed must be above 0")
    return SimDriver(scenario, profile, clock, speed=speed, seed=seed)


def _choose(table: Mapping[str, _T], name: str, what: str) -> _T:
    try:
        return table[name]
    except KeyError:
        choices = ", ".join(table)
        raise DeviceSpecError(
            f"unknown simulator {what} {name!r}; choose one of: {choices}"
        ) from None
