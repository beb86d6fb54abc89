"""Plain-English one-line descriptions of NUT variables and instant commands (data).

Served by ``GET DESC`` and ``GET CMDDESC``; clients such as ``upsrw`` and
``upscmd -l`` print them next to the names. The wording is Upsight's own.
A name not in the tables gets :data:`UNAVAILABLE`, the text upsd sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

UNAVAILABLE: Final = "Description unavailable"

VARIABLES: Final[Mapping[str, str]] = {
    "battery.charge": "Battery charge, in percent of full",
    "battery.charge.low": "Charge in percent below which the UPS reports a low battery",
    "battery.charge.restart": "Charge in percent needed before the UPS powers the load again",
    "battery.charge.warning": "Charge in percent below which the UPS warns",
    "battery.date": "Date the battery was installed or last replaced",
    "battery.mfr.date": "Date the battery was made",
    "battery.packs": "Number of battery packs",
    "battery.packs.bad": "Number of battery packs that need replacing",
    "battery.runtime": "Estimated time left on battery, in seconds",
    "battery.runtime.low": "Runtime in seconds below which the UPS reports a low battery",
    "battery.temperature": "Battery temperature, in degrees Celsius",
    "battery.type": "Battery chemistry",
    "battery.voltage": "Battery voltage, in volts",
    "battery.voltage.high": "Battery voltage in volts taken as fully charged",
    "battery.voltage.low": "Battery voltage in volts taken as empty",
    "battery.voltage.nominal": "Rated battery voltage, in volts",
    "device.mfr": "Maker of the device",
    "device.model": "Model of the device",
    "device.serial": "Serial number of the device",
    "device.type": "Kind of device (ups, pdu, ...)",
    "driver.name": "Name of the driver serving this device",
    "driver.parameter.pollfreq": "How often the driver polls for slow-changing values, in seconds",
    "driver.parameter.pollinterval": "How often the driver polls the device, in seconds",
    "driver.parameter.port": "Where the driver reaches the device",
    "driver.version": "Version of the driver software",
    "driver.version.internal": "Internal version of the driver",
    "input.current": "Current drawn from the mains, in amperes",
    "input.frequency": "Mains frequency, in hertz",
    "input.frequency.nominal": "Rated mains frequency, in hertz",
    "input.sensitivity": "How readily the UPS reacts to poor mains power",
    "input.transfer.high": "Mains voltage in volts above which the UPS switches to battery",
    "input.transfer.low": "Mains voltage in volts below which the UPS switches to battery",
    "input.transfer.reason": "Why the UPS last switched to battery",
    "input.voltage": "Mains voltage, in volts",
    "input.voltage.nominal": "Rated mains voltage, in volts",
    "output.current": "Current supplied to the load, in amperes",
    "output.frequency": "Output frequency, in hertz",
    "output.frequency.nominal": "Rated output frequency, in hertz",
    "output.voltage": "Output voltage, in volts",
    "output.voltage.nominal": "Rated output voltage, in volts",
    "ups.alarm": "Alarms the UPS is raising",
    "ups.beeper.status": "Whether the beeper is enabled, disabled or muted",
    "ups.delay.shutdown": "Seconds the UPS waits before cutting power after a shutdown command",
    "ups.delay.start": "Seconds the UPS waits before restoring power after a restart command",
    "ups.firmware": "Firmware version of the UPS",
    "ups.firmware.aux": "Version of the UPS's secondary firmware",
    "ups.id": "Name the user has given the UPS",
    "ups.load": "Load on the UPS, in percent of its capacity",
    "ups.mfr": "Maker of the UPS",
    "ups.mfr.date": "Date the UPS was made",
    "ups.model": "Model of the UPS",
    "ups.power": "Apparent power drawn by the load, in volt-amperes",
    "ups.power.nominal": "Rated apparent power, in volt-amperes",
    "ups.productid": "USB product id of the UPS",
    "ups.realpower": "Real power drawn by the load, in watts",
    "ups.realpower.nominal": "Rated real power, in watts",
    "ups.serial": "Serial number of the UPS",
    "ups.status": "Status flags of the UPS (OL on mains, OB on battery, LB low battery, ...)",
    "ups.temperature": "Temperature inside the UPS, in degrees Celsius",
    "ups.test.interval": "Seconds between automatic battery self-tests",
    "ups.test.result": "Outcome of the last self-test",
    "ups.timer.reboot": "Seconds until the UPS restarts the load, or -1 when none is pending",
    "ups.timer.shutdown": "Seconds until the UPS cuts power, or -1 when none is pending",
    "ups.timer.start": "Seconds until the UPS powers the load on, or -1 when none is pending",
    "ups.type": "Kind of UPS (online, line-interactive, ...)",
    "ups.vendorid": "USB vendor id of the UPS",
}

COMMANDS: Final[Mapping[str, str]] = {
    "beeper.disable": "Turn the beeper off",
    "beeper.enable": "Turn the beeper on",
    "beeper.mute": "Silence the beeper until the next alarm",
    "beeper.off": "Turn the beeper off (older name)",
    "beeper.on": "Turn the beeper on (older name)",
    "beeper.toggle": "Switch the beeper between on and off",
    "bypass.start": "Put the load on bypass",
    "bypass.stop": "Take the load off bypass",
    "calibrate.start": "Start a runtime calibration",
    "calibrate.stop": "Stop a runtime calibration",
    "load.off": "Cut power to the load now",
    "load.off.delay": "Cut power to the load after the shutdown delay",
    "load.on": "Power the load now",
    "load.on.delay": "Power the load after the start delay",
    "reset.input.minmax": "Clear the recorded minimum and maximum input voltages",
    "reset.watchdog": "Restart the UPS's watchdog timer",
    "shutdown.reboot": "Cut power to the load, then restore it",
    "shutdown.reboot.graceful": "Cut power to the load after a delay, then restore it",
    "shutdown.return": "Cut power to the load and restore it when mains power returns",
    "shutdown.stayoff": "Cut power to the load and keep it off when mains power returns",
    "shutdown.stop": "Cancel a pending shutdown",
    "test.battery.start": "Start a battery self-test",
    "test.battery.start.deep": "Start a deep battery self-test",
    "test.battery.start.quick": "Start a quick battery self-test",
    "test.battery.stop": "Stop the battery self-test",
    "test.failure.start": "Simulate a mains failure",
    "test.failure.stop": "End a simulated mains failure",
    "test.panel.start": "Start a test of the front panel",
    "test.panel.stop": "Stop the front panel test",
}


def variable(name: str) -> str:
    """The description of variable ``name`` (case-insensitive), or :data:`UNAVAILABLE`."""
    return VARIABLES.get(name.lower(), UNAVAILABLE)


def command(name: str) -> str:
    """The description of instant command ``name`` (case-insensitive), or :data:`UNAVAILABLE`."""
    return COMMANDS.get(name.lower(), UNAVAILABLE)
