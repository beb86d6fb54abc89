"""Eaton / MGE UPS Systems: usage names and the rows of their PowerConverter/Flow layout."""

from __future__ import annotations

from typing import Final

from upsight.drivers.hid.mapping import HidFlag, HidVar, Poll, Row, Vendor, lookup, scaled
from upsight.drivers.model import UpsFlag

# MGE's vendor ID, kept by Eaton: 0x0001 older MGE units, 0xffff current ones
# (5SC, 5P, 9PX, Ellipse). The Linux kernel needs usbhid.quirks=0x0463:0xffff:0x08
# for them, which is a transport matter (protocols.md 6.2).
VENDOR_ID: Final = 0x0463

# Eaton/MGE page 0xFFFF, as NUT names the usages.
USAGES: Final[dict[int, str]] = {
    0xFFFF0014: "Inverter",
    0xFFFF002D: "ConfigurationFailure",
    0xFFFF002E: "CompatibilityFailure",
    0xFFFF0040: "SwitchType",
    0xFFFF0041: "ConverterType",
    0xFFFF0043: "AutomaticRestart",
    0xFFFF0044: "ForcedReboot",
    0xFFFF0045: "TestPeriod",
    0xFFFF0046: "EnergySaving",
    0xFFFF0047: "StartOnBattery",
    0xFFFF0048: "Schedule",
    0xFFFF0049: "DeepDischargeProtection",
    0xFFFF004A: "ShortCircuit",
    0xFFFF004C: "SensitivityMode",
    0xFFFF004D: "RemainingCapacityLimitSetting",
    0xFFFF0050: "LowVoltageBoostTransfer",
    0xFFFF0053: "HighVoltageBuckTransfer",
    0xFFFF005D: "ShutdownTimer",
    0xFFFF005F: "RestartLevel",
    0xFFFF0068: "EmergencyStop",
    0xFFFF0069: "PowerFactor",
    0xFFFF006B: "ChargerType",
    0xFFFF0072: "ControlStandby",
    0xFFFF0074: "VoltageTooHigh",
    0xFFFF0075: "VoltageTooLow",
    0xFFFF0077: "FanFailure",
    0xFFFF0079: "Floating",
    0xFFFF0086: "Efficiency",
    0xFFFF0087: "ABMEnable",
    0xFFFF0090: "Count",
    0xFFFF0091: "Timer",
    0xFFFF0094: "Mode",
    0xFFFF0095: "Country",
    0xFFFF0098: "Code",
    0xFFFF00AE: "WatchdogReset",
    0xFFFF00E9: "Status",
    0xFFFF00F0: "iModel",
    0xFFFF00F1: "iVersion",
    0xFFFF00F3: "iPartNumber",
    0xFFFF00F4: "iReferenceNumber",
}

_CONVERTER_TYPE: Final = {
    1: "offline / line interactive",
    2: "online",
    3: "online - unitary/parallel",
    4: "online - parallel with hot standby",
    5: "online - hot standby redundancy",
}
_SENSITIVITY: Final = {0: "normal", 1: "high", 2: "low"}
# Advanced Battery Monitoring charger states (BatterySystem.Charger.Mode);
# 5 means ABM is not active and gives no reading.
_CHARGER_MODE: Final = {1: "charging", 2: "discharging", 3: "floating", 4: "resting", 6: "off"}
_AMPERE_SECONDS_PER_AH: Final = 3600.0
_PERCENT: Final = 100.0


def claim(vid: int, pid: int) -> bool:
    """True for the MGE/Eaton vendor ID."""
    return vid == VENDOR_ID


_CONVERTER = "UPS.PowerConverter"

ROWS: Final[tuple[Row, ...]] = (
    # The settable low-battery level; PowerSummary.RemainingCapacityLimit is a
    # read-only copy on 5SC and 9PX.
    HidVar("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimitSetting"),
    HidVar("battery.charge.restart", "UPS.PowerSummary.RestartLevel"),
    # DesignCapacity is in ampere-seconds here (5SC: 25200 As = 7 Ah).
    HidVar(
        "battery.capacity",
        "UPS.BatterySystem.Battery.DesignCapacity",
        scaled(1 / _AMPERE_SECONDS_PER_AH),
        Poll.STATIC,
    ),
    HidVar("battery.charger.status", "UPS.BatterySystem.Charger.Mode", lookup(_CHARGER_MODE)),
    HidVar("input.transfer.boost.low", f"{_CONVERTER}.Output.LowVoltageBoostTransfer"),
    HidVar("input.transfer.trim.high", f"{_CONVERTER}.Output.HighVoltageBuckTransfer"),
    HidVar("input.sensitivity", f"{_CONVERTER}.Output.SensitivityMode", lookup(_SENSITIVITY)),
    # Power factor in percent (5SC: 80 = 0.80).
    HidVar("output.powerfactor", f"{_CONVERTER}.Output.PowerFactor", scaled(1 / _PERCENT)),
    HidVar("ups.efficiency", f"{_CONVERTER}.Output.Efficiency"),
    HidVar("ups.test.interval", "UPS.BatterySystem.Battery.TestPeriod"),
    HidVar("ups.type", f"{_CONVERTER}.ConverterType", lookup(_CONVERTER_TYPE), Poll.STATIC),
    # Inputs of the power converter: [1] mains, [2] automatic bypass, [3] the
    # battery, [4] manual bypass; "Used" says which one feeds the output.
    HidFlag(f"{_CONVERTER}.Input.[3].PresentStatus.Used", UpsFlag.OB, when=1),
    HidFlag(f"{_CONVERTER}.Input.[2].PresentStatus.Used", UpsFlag.BYPASS, when=1),
    HidFlag(f"{_CONVERTER}.Input.[4].PresentStatus.Used", UpsFlag.BYPASS, when=1),
    # Overload thresholds: level 1 and 2 (level 3 is PresentStatus.Overload).
    HidFlag(
        f"{_CONVERTER}.Output.Overload.[1].PresentStatus.OverThreshold",
        UpsFlag.OVER,
        poll=Poll.SLOW,
    ),
    HidFlag(
        f"{_CONVERTER}.Output.Overload.[2].PresentStatus.OverThreshold",
        UpsFlag.OVER,
        poll=Poll.SLOW,
    ),
)

VENDOR: Final = Vendor(name="Eaton", claim=claim, usages=USAGES, rows=ROWS)
