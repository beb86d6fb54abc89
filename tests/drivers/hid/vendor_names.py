"""Vendor usage names as NUT printed them in the fixture logs, keyed by extended usage.

They let the path checks compare whole paths. Each was read off the fixtures
(the fixture's path gives the name, the descriptor the usage) and stands in for
the vendor tables of a later step; codes NUT logged as hex are absent here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# APC page 0xFF86 (apc-back-ups-*, apc-smart-ups-*).
APC: Final[Mapping[int, str]] = {
    0xFF860005: "APCGeneralCollection",
    0xFF860016: "APCBattReplaceDate",
    0xFF860019: "APCBattCapBeforeStartup",
    0xFF860042: "APC_UPS_FirmwareRevision",
    0xFF860052: "APCLineFailCause",
    0xFF860060: "APCStatusFlag",
    0xFF860061: "APCSensitivity",
    0xFF860072: "APCPanelTest",
    0xFF860076: "APCShutdownAfterDelay",
    0xFF860079: "APC_USB_FirmwareRevision",
    0xFF86007C: "APCDelayBeforeReboot",
    0xFF86007D: "APCDelayBeforeShutdown",
    0xFF86007E: "APCDelayBeforeStartup",
}

# Eaton/MGE page 0xFFFF (eaton-*).
EATON: Final[Mapping[int, str]] = {
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

# Delta-built Minuteman, page 0xFFFF: the same codes as Eaton and Tripp Lite,
# other names.
DELTA: Final[Mapping[int, str]] = {
    0xFFFF0056: "DELTA4",
    0xFFFF0075: "DeltaModelName",
    0xFFFF0076: "DELTA19",
    0xFFFF007C: "DeltaUPSType",
    0xFFFF007D: "DELTA21",
    0xFFFF0081: "DeltaConfigStartPowerRestoreDelay",
    0xFFFF0091: "DeltaOutputSource",
    0xFFFF0093: "DELTA25",
    0xFFFF0095: "DELTA27",
    0xFFFF0096: "DELTA28",
    0xFFFF0098: "DELTA30",
    0xFFFF0099: "DELTA31",
    0xFFFF009A: "DELTA32",
    0xFFFF009C: "DeltaConfigStartPowerRestore",
}

# Powercom, which borrows APC's page 0xFF86.
POWERCOM: Final[Mapping[int, str]] = {
    0xFF860080: "POWERCOM3",
}

# Tripp Lite page 0xFFFF.
TRIPP_LITE: Final[Mapping[int, str]] = {
    0xFFFF0010: "TLCustom",
    0xFFFF0056: "TLDelayBeforeStartup",
    0xFFFF0057: "TLLowVoltageTransferMax",
    0xFFFF0058: "TLLowVoltageTransferMin",
    0xFFFF0059: "TLHighVoltageTransferMax",
    0xFFFF005A: "TLHighVoltageTransferMin",
    0xFFFF007C: "UPSFirmwareVersion",
    0xFFFF007D: "CommunicationProtocolVersion",
    0xFFFF0092: "TLWatchdog",
    0xFFFF0095: "TLOutletsAvailableMask",
    0xFFFF0096: "TLOutletsStatusMask",
}

# Fixture file stem prefix → the vendor table NUT used for it. CyberPower,
# iDowell, Legrand and Vertiv got none: NUT printed their vendor usages as hex.
BY_FIXTURE_PREFIX: Final[Mapping[str, Mapping[int, str]]] = {
    "apc-": APC,
    "eaton-": EATON,
    "minuteman-": DELTA,
    "powercom-": POWERCOM,
    "tripplite-": TRIPP_LITE,
}
