"""Simulator profiles: the ratings and reported variables of real UPS models, as a table.

Every figure comes from a real NUT DDL dump in ``tests/fixtures/ddl/`` (named
in each profile's ``source``) unless its comment says it is derived or assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from upsight.drivers.model import Value
from upsight.drivers.simulated.physics import Battery


@dataclass(frozen=True)
class Profile:
    """One UPS model as the simulator plays it.

    Attributes:
        name: the ``profile=`` value in a ``sim://`` spec.
        source: the dump file the figures come from.
        input_voltage_nominal_v: mains voltage.
        input_frequency_nominal_hz: mains frequency.
        realpower_nominal_w: rated output power (W).
        power_nominal_va: rated apparent power (VA).
        battery_voltage_nominal_v: nominal battery voltage.
        charge_low_pct: charge at which the UPS raises LB.
        runtime_low_s: runtime at which the UPS raises LB; None if it only watches charge.
        runtime_sample: (load %, runtime s) from full charge, which sizes the battery.
        beeper: ``ups.beeper.status`` at start.
        reports: the variables the real device reports; the simulator reports only
            these, besides its own identity.
        extra: other fixed values from the dump, reported as they are.
    """

    name: str
    source: str
    input_voltage_nominal_v: float
    input_frequency_nominal_hz: float
    realpower_nominal_w: float
    power_nominal_va: float
    battery_voltage_nominal_v: float
    charge_low_pct: float
    runtime_low_s: float | None
    runtime_sample: tuple[float, float]
    beeper: str
    reports: frozenset[str]
    extra: Mapping[str, Value] = field(default_factory=dict)

    def battery(self) -> Battery:
        """The battery this profile's runtime sample implies."""
        load_pct, seconds = self.runtime_sample
        return Battery.from_runtime(
            self.realpower_nominal_w, self.battery_voltage_nominal_v, load_pct, seconds
        )


APC_CS650: Final = Profile(
    name="apc-cs650",
    source="APC__Back-UPS_CS_650__usbhid-ups__2.7.2__01.dev",
    input_voltage_nominal_v=230.0,
    # output.frequency 50.0 (the device reports no input frequency).
    input_frequency_nominal_hz=50.0,
    realpower_nominal_w=400.0,
    # 650 VA is the model's rating, from its name; the dump has no VA figure.
    power_nominal_va=650.0,
    battery_voltage_nominal_v=12.0,
    charge_low_pct=10.0,
    runtime_low_s=120.0,
    # battery.runtime 1312 at ups.load 27.0; the model then gives 311 s at full load.
    runtime_sample=(27.0, 1312.0),
    beeper="disabled",
    reports=frozenset(
        {
            "battery.charge",
            "battery.charge.low",
            "battery.runtime",
            "battery.runtime.low",
            "battery.temperature",
            "battery.voltage",
            "battery.voltage.nominal",
            "input.voltage",
            "input.voltage.nominal",
            "output.frequency",
            "output.voltage",
            "output.voltage.nominal",
            "ups.beeper.status",
            "ups.load",
            "ups.realpower.nominal",
            "ups.test.result",
        }
    ),
    extra={
        "battery.charge.warning": 50.0,
        "battery.type": "PbAc",
        "input.sensitivity": "high",
        "input.transfer.high": 256.0,
        "input.transfer.low": 196.0,
    },
)

CYBERPOWER_CP850: Final = Profile(
    name="cyberpower-cp850",
    source="Cyber_Power_Systems__CP850PFCLCD__usbhid-ups__2.7.2__02.dev",
    input_voltage_nominal_v=120.0,
    # Assumed: a 120 V model sold for 60 Hz grids; the dump reports no frequency.
    input_frequency_nominal_hz=60.0,
    realpower_nominal_w=510.0,
    # 850 VA is the model's rating, from its name; the dump has no VA figure.
    power_nominal_va=850.0,
    battery_voltage_nominal_v=24.0,
    charge_low_pct=10.0,
    runtime_low_s=300.0,
    # battery.runtime 6630 at ups.load 3; the model then gives 245 s at full load.
    runtime_sample=(3.0, 6630.0),
    beeper="enabled",
    reports=frozenset(
        {
            "battery.charge",
            "battery.charge.low",
            "battery.runtime",
            "battery.runtime.low",
            "battery.voltage",
            "battery.voltage.nominal",
            "input.voltage",
            "input.voltage.nominal",
            "output.voltage",
            "ups.beeper.status",
            "ups.load",
            "ups.realpower.nominal",
            "ups.test.result",
        }
    ),
    extra={
        "battery.charge.warning": 20.0,
        "battery.type": "PbAcid",
        "input.transfer.high": 139.0,
        "input.transfer.low": 88.0,
    },
)

EATON_ELLIPSE650: Final = Profile(
    name="eaton-ellipse650",
    source="Eaton__Ellipse_PRO_650__usbhid-ups__2.7.2__01.dev",
    # output.voltage.nominal 230 (the device reports no input nominal).
    input_voltage_nominal_v=230.0,
    input_frequency_nominal_hz=50.0,
    # Derived: ups.power.nominal 650 VA x power factor 40/65, the ratio of the
    # dump's own ups.realpower (40 W) to ups.power (65 VA).
    realpower_nominal_w=650 * 40 / 65,
    power_nominal_va=650.0,
    # Assumed: one 12 V block; the dump reports no battery voltage.
    battery_voltage_nominal_v=12.0,
    charge_low_pct=20.0,
    runtime_low_s=None,
    # battery.runtime 2840 at ups.load 10; the model then gives 253 s at full load.
    runtime_sample=(10.0, 2840.0),
    beeper="enabled",
    reports=frozenset(
        {
            "battery.charge",
            "battery.charge.low",
            "battery.runtime",
            "input.frequency",
            "input.voltage",
            "output.frequency",
            "output.frequency.nominal",
            "output.voltage",
            "output.voltage.nominal",
            "ups.beeper.status",
            "ups.load",
            "ups.power",
            "ups.power.nominal",
            "ups.realpower",
        }
    ),
    extra={
        "battery.type": "PbAc",
        "input.transfer.high": 285.0,
        "input.transfer.low": 165.0,
    },
)

IPPON_850: Final = Profile(
    name="ippon-850",
    source="Ippon__Back_Basic_850_Euro__blazer_usb__2.7.4__01.dev",
    input_voltage_nominal_v=220.0,
    input_frequency_nominal_hz=50.0,
    # Derived: 850 VA (the model's name; the dump has no power figure) x an assumed
    # power factor of 0.6, usual for small line-interactive units.
    realpower_nominal_w=850 * 0.6,
    power_nominal_va=850.0,
    battery_voltage_nominal_v=12.0,
    # Assumed: Megatec devices raise LB themselves and report no threshold.
    charge_low_pct=20.0,
    runtime_low_s=None,
    # Assumed: the dump has no runtime; 3 min at full load suits one 12 V block.
    runtime_sample=(100.0, 180.0),
    beeper="enabled",
    reports=frozenset(
        {
            "battery.charge",
            "battery.voltage",
            "battery.voltage.nominal",
            "input.frequency",
            "input.frequency.nominal",
            "input.voltage",
            "input.voltage.nominal",
            "output.voltage",
            "ups.beeper.status",
            "ups.load",
            "ups.temperature",
        }
    ),
    extra={
        "battery.voltage.high": 13.0,
        "battery.voltage.low": 10.4,
        "input.current.nominal": 3.0,
        "ups.type": "offline / line interactive",
    },
)

PROFILES: Final[Mapping[str, Profile]] = MappingProxyType(
    {p.name: p for p in (APC_CS650, CYBERPOWER_CP850, EATON_ELLIPSE650, IPPON_850)}
)
DEFAULT_PROFILE: Final = APC_CS650.name
