"""Pure physics of the simulated UPS: battery energy, runtime, voltages and slow wander."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# Runtime scales as load**-PEUKERT, so high loads cost more energy per watt, as
# lead-acid batteries do at high discharge rates (Peukert's law, k ≈ 1.1-1.3).
PEUKERT: Final = 1.15
# The inverter draws this fraction of the rated power even with no load, which is
# also what keeps the runtime at zero load finite.
IDLE_FRACTION: Final = 0.02
# Small-UPS chargers take 3-4 h from empty to full; the model is tuned to 3.5 h.
RECHARGE_S: Final = 3.5 * 3600

# The charger runs at full current until the deficit falls to _TAPER_DEFICIT, then the
# current shrinks in proportion to the deficit (the absorption phase), but never
# below _TAPER_FLOOR of full current, so that the battery reaches 100 % in finite time.
_TAPER_DEFICIT: Final = 0.2
_TAPER_FLOOR: Final = 0.05
# Empty-to-full time in units of capacity / full current, integrated over the three phases.
_RECHARGE_FACTOR: Final = 1 + _TAPER_DEFICIT * math.log(1 / _TAPER_FLOOR)

# Lead-acid voltages per 12 V block: rest voltage from empty to full, the sag at
# full load on battery, and the rise above rest voltage while the charger is on
# (13.6 V at full charge on line, as the APC and Ippon dumps show).
_BLOCK_V: Final = 12.0
_REST_EMPTY_V: Final = 11.5
_REST_SPAN_V: Final = 1.3
_SAG_FULL_LOAD_V: Final = 0.9
_CHARGER_RISE_V: Final = 0.8

# Internal temperature: room temperature plus heat from the electronics.
_AMBIENT_C: Final = 23.0
_HEAT_C_PER_LOAD: Final = 15.0
_INVERTER_HEAT_C_PER_LOAD: Final = 10.0
_CHARGER_HEAT_C: Final = 2.0


@dataclass(frozen=True)
class Battery:
    """The fixed properties of one UPS's battery and inverter.

    Attributes:
        capacity_wh: usable energy from full to empty.
        realpower_nominal_w: the rated output power, the power at 100 % load.
        voltage_nominal_v: nominal battery voltage (12, 24, ...).
        idle_w: what the inverter itself draws from the battery.
        recharge_s: time the charger takes from empty to full.
    """

    capacity_wh: float
    realpower_nominal_w: float
    voltage_nominal_v: float
    idle_w: float
    recharge_s: float = RECHARGE_S

    @classmethod
    def from_runtime(
        cls, realpower_nominal_w: float, voltage_nominal_v: float, load_pct: float, runtime_s: float
    ) -> Battery:
        """The battery that lasts ``runtime_s`` from full at ``load_pct``, as a dump reports."""
        idle_w = realpower_nominal_w * IDLE_FRACTION
        capacity_wh = _drain_w(realpower_nominal_w, idle_w, load_pct) * runtime_s / 3600
        return cls(capacity_wh, realpower_nominal_w, voltage_nominal_v, idle_w)


def _drain_w(rated_w: float, idle_w: float, load_pct: float) -> float:
    fraction = max(load_pct, 0.0) / 100
    return rated_w * math.pow(fraction, PEUKERT) + idle_w


def drain_w(battery: Battery, load_pct: float) -> float:
    """Power taken from the battery at ``load_pct``, with the Peukert penalty and idle draw."""
    return _drain_w(battery.realpower_nominal_w, battery.idle_w, load_pct)


def discharge(battery: Battery, energy_wh: float, load_pct: float, dt_s: float) -> float:
    """Energy left after running the load from the battery for ``dt_s``."""
    return max(0.0, energy_wh - drain_w(battery, load_pct) * dt_s / 3600)


def recharge(battery: Battery, energy_wh: float, dt_s: float) -> float:
    """Energy after charging for ``dt_s``: constant current, then a taper, stopping at full."""
    capacity = battery.capacity_wh
    full_rate_wh_per_s = capacity * _RECHARGE_FACTOR / battery.recharge_s
    deficit = 1 - energy_wh / capacity
    taper = max(min(1.0, deficit / _TAPER_DEFICIT), _TAPER_FLOOR)
    return min(capacity, energy_wh + full_rate_wh_per_s * taper * dt_s)


def charge_pct(battery: Battery, energy_wh: float) -> float:
    """State of charge in percent of usable energy."""
    return min(100.0, max(0.0, 100 * energy_wh / battery.capacity_wh))


def runtime_s(battery: Battery, energy_wh: float, load_pct: float) -> float:
    """Seconds the remaining energy lasts at ``load_pct``."""
    return 3600 * max(energy_wh, 0.0) / drain_w(battery, load_pct)


def energy_for_runtime(battery: Battery, load_pct: float, seconds: float) -> float:
    """The energy that lasts ``seconds`` at ``load_pct``; the inverse of runtime_s."""
    return drain_w(battery, load_pct) * seconds / 3600


def battery_voltage(battery: Battery, charge: float, load_pct: float, on_battery: bool) -> float:
    """Terminal voltage: rest voltage by charge, sagging under load or lifted by the charger."""
    blocks = battery.voltage_nominal_v / _BLOCK_V
    rest = _REST_EMPTY_V + _REST_SPAN_V * min(100.0, max(0.0, charge)) / 100
    if on_battery:
        return blocks * (rest - _SAG_FULL_LOAD_V * max(load_pct, 0.0) / 100)
    return blocks * (rest + _CHARGER_RISE_V)


def temperature_target_c(load_pct: float, on_battery: bool, charging: bool) -> float:
    """The temperature the UPS settles at under the given conditions."""
    fraction = max(load_pct, 0.0) / 100
    target = _AMBIENT_C + _HEAT_C_PER_LOAD * fraction
    if on_battery:
        target += _INVERTER_HEAT_C_PER_LOAD * fraction
    elif charging:
        target += _CHARGER_HEAT_C
    return target


def settle(value: float, target: float, tau_s: float, dt_s: float) -> float:
    """First-order approach of ``value`` to ``target`` with time constant ``tau_s``."""
    return target + (value - target) * math.exp(-dt_s / tau_s)


def wander(value: float, *, sigma: float, tau_s: float, dt_s: float, z: float) -> float:
    """One exact Ornstein-Uhlenbeck step: slow random drift around zero.

    Args:
        value: the current offset.
        sigma: the long-run standard deviation.
        tau_s: how slowly the drift forgets (correlation time).
        dt_s: the step length.
        z: a standard normal draw, supplied by the caller so this stays pure.
    """
    decay = math.exp(-dt_s / tau_s)
    return value * decay + sigma * math.sqrt(1 - decay * decay) * z
