"""Display metadata as tables: which variables to show, their units, and status wording."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QLocale

from upsight.agent.events import Event, EventKind, Severity
from upsight.agent.monitor import DeviceState, Link
from upsight.drivers.model import Reading, UpsFlag, Value

# The variable in which a driver lists the names of values it estimated rather than
# measured, space-separated (drivers/serial/megatec_driver.py ESTIMATED).
ESTIMATED_VAR: Final = "upsight.estimated"
RUNTIME_VAR: Final = "battery.runtime"
CHARGE_VAR: Final = "battery.charge"
# Runtimes from this many minutes on read better in hours.
HOURS_FROM_MIN: Final = 90


def tr_noop(context: str, text: str) -> str:
    """Mark ``text`` for translation in ``context``; it is translated where shown."""
    return str(QT_TRANSLATE_NOOP(context, text))


@dataclass(frozen=True)
class Metric:
    """How one NUT variable is shown.

    Attributes:
        label: untranslated label, translated in the ``Metric`` context.
        unit: the unit printed after the number; empty for text values.
        precision: digits after the decimal point.
        group: untranslated group heading, translated in the ``Metric`` context.
    """

    label: str
    unit: str
    precision: int
    group: str


_BATTERY = tr_noop("Metric", "Battery")
_INPUT = tr_noop("Metric", "Mains input")
_OUTPUT = tr_noop("Metric", "Output")
_UPS = tr_noop("Metric", "UPS")

# A variable is shown only when it is in this table and in the reading; order is display order.
METRICS: Final[Mapping[str, Metric]] = {
    CHARGE_VAR: Metric(tr_noop("Metric", "Charge"), "%", 0, _BATTERY),
    RUNTIME_VAR: Metric(tr_noop("Metric", "Runtime left"), "s", 0, _BATTERY),
    "battery.voltage": Metric(tr_noop("Metric", "Battery voltage"), "V", 1, _BATTERY),
    "battery.temperature": Metric(tr_noop("Metric", "Battery temperature"), "°C", 1, _BATTERY),
    "battery.date": Metric(tr_noop("Metric", "Battery installed"), "", 0, _BATTERY),
    "input.voltage": Metric(tr_noop("Metric", "Input voltage"), "V", 0, _INPUT),
    "input.frequency": Metric(tr_noop("Metric", "Input frequency"), "Hz", 1, _INPUT),
    "output.voltage": Metric(tr_noop("Metric", "Output voltage"), "V", 0, _OUTPUT),
    "output.frequency": Metric(tr_noop("Metric", "Output frequency"), "Hz", 1, _OUTPUT),
    "ups.load": Metric(tr_noop("Metric", "Load"), "%", 0, _OUTPUT),
    "ups.realpower": Metric(tr_noop("Metric", "Power"), "W", 0, _OUTPUT),
    "ups.power": Metric(tr_noop("Metric", "Apparent power"), "VA", 0, _OUTPUT),
    "ups.realpower.nominal": Metric(tr_noop("Metric", "Rated power"), "W", 0, _UPS),
    "ups.power.nominal": Metric(tr_noop("Metric", "Rated apparent power"), "VA", 0, _UPS),
    "ups.temperature": Metric(tr_noop("Metric", "UPS temperature"), "°C", 1, _UPS),
    "ups.test.result": Metric(tr_noop("Metric", "Last self-test"), "", 0, _UPS),
    "ups.beeper.status": Metric(tr_noop("Metric", "Beeper"), "", 0, _UPS),
}


def translate(context: str, text: str) -> str:
    return QCoreApplication.translate(context, text)


# Titles by EventKind value, translated where shown; every kind has one.
KIND_TITLES: Final[Mapping[str, str]] = {
    "ONLINE": tr_noop("Event", "Power restored"),
    "ONBATT": tr_noop("Event", "Power lost: on battery"),
    "LOWBATT": tr_noop("Event", "Low battery"),
    "FSD": tr_noop("Event", "Forced shutdown"),
    "COMMOK": tr_noop("Event", "Communication restored"),
    "COMMBAD": tr_noop("Event", "Communication lost"),
    "NOCOMM": tr_noop("Event", "No communication"),
    "REPLBATT": tr_noop("Event", "Replace battery"),
    "OVERLOAD": tr_noop("Event", "Overload"),
    "BATTERY_OK": tr_noop("Event", "Battery no longer low"),
    "REPLBATT_CLEARED": tr_noop("Event", "Battery replacement warning cleared"),
    "OVERLOAD_CLEARED": tr_noop("Event", "Overload cleared"),
    "CHARGING": tr_noop("Event", "Charging"),
    "CHARGED": tr_noop("Event", "Fully charged"),
    "SHUTDOWN_SCHEDULED": tr_noop("Event", "Shutdown scheduled"),
    "SHUTDOWN_POSTPONED": tr_noop("Event", "Shutdown postponed"),
    "SHUTDOWN_CANCELLED": tr_noop("Event", "Shutdown cancelled"),
    "SHUTDOWN_EXECUTING": tr_noop("Event", "Shutting down now"),
    "SHUTDOWN_FAILED": tr_noop("Event", "Shutdown failed"),
}

SEVERITY_NAMES: Final[Mapping[Severity, str]] = {
    Severity.INFO: tr_noop("Event", "Information"),
    Severity.WARNING: tr_noop("Event", "Warning"),
    Severity.CRITICAL: tr_noop("Event", "Critical"),
}


def kind_title(kind: EventKind) -> str:
    """The translated title of an event kind; its name for kinds this table does not list."""
    text = KIND_TITLES.get(kind.value)
    return translate("Event", text) if text is not None else kind.value


def event_title(event: Event) -> str:
    """The translated title of an event, e.g. "Power lost: on battery"."""
    text = KIND_TITLES.get(event.kind.value)
    return translate("Event", text) if text is not None else event.title


def severity_name(severity: Severity) -> str:
    return translate("Event", SEVERITY_NAMES[severity])


def format_duration(seconds: float) -> str:
    """A runtime as people say it: "14 min", or "2 h 5 min" from 90 min on."""
    minutes = round(max(seconds, 0.0) / 60)
    if minutes < HOURS_FROM_MIN:
        return translate("Metric", "{minutes} min").format(minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return translate("Metric", "{hours} h").format(hours=hours)
    return translate("Metric", "{hours} h {minutes} min").format(hours=hours, minutes=rest)


def format_number(value: float, precision: int) -> str:
    return QLocale().toString(value, "f", precision)


def format_metric(name: str, value: Value) -> str:
    """One value with its unit, e.g. "87 %", "230 V", "50.0 Hz"; text values as they are."""
    metric = METRICS.get(name)
    if isinstance(value, str) or metric is None or not metric.unit:
        return value if isinstance(value, str) else format_number(value, 1)
    if name == RUNTIME_VAR:
        return format_duration(value)
    return f"{format_number(value, metric.precision)} {metric.unit}"


def estimated(reading: Reading) -> frozenset[str]:
    """Names of the values the driver estimated rather than measured."""
    listed = reading.values.get(ESTIMATED_VAR)
    return frozenset(listed.split()) if isinstance(listed, str) else frozenset()


@dataclass(frozen=True)
class Row:
    """One shown value."""

    name: str
    label: str
    group: str
    text: str
    estimated: bool


def rows(reading: Reading) -> Iterator[Row]:
    """The values of ``reading`` that the table knows, in display order, translated."""
    guessed = estimated(reading)
    for name, metric in METRICS.items():
        value = reading.values.get(name)
        if value is None:
            continue
        yield Row(
            name,
            translate("Metric", metric.label),
            translate("Metric", metric.group),
            format_metric(name, value),
            name in guessed,
        )


class Condition(enum.Enum):
    """What a device is doing, at a glance; the order is from calm to urgent."""

    ONLINE = 0
    CONNECTING = 1
    NO_COMMUNICATION = 2
    ON_BATTERY = 3
    LOW_BATTERY = 4


def condition(state: DeviceState) -> Condition:
    """The device's condition, from the agent's link state and the reading's status."""
    if state.reading is None:
        return Condition.CONNECTING if state.link is Link.CONNECTING else Condition.NO_COMMUNICATION
    status = state.reading.status
    if status.critical:
        return Condition.LOW_BATTERY
    if status.on_battery:
        return Condition.ON_BATTERY
    return Condition.ONLINE


def worst(states: list[DeviceState]) -> Condition:
    """The most urgent condition among devices; CONNECTING when there are none yet."""
    return max((condition(s) for s in states), key=lambda c: c.value, default=Condition.CONNECTING)


_HEADLINES: Final[Mapping[Condition, str]] = {
    Condition.ONLINE: tr_noop("Status", "On line"),
    Condition.CONNECTING: tr_noop("Status", "Connecting…"),
    Condition.NO_COMMUNICATION: tr_noop("Status", "No communication"),
    Condition.ON_BATTERY: tr_noop("Status", "On battery"),
    Condition.LOW_BATTERY: tr_noop("Status", "Low battery"),
}

# Further flags worth a word beside the headline, in this order.
_NOTES: Final[tuple[tuple[UpsFlag, str], ...]] = (
    (UpsFlag.FSD, tr_noop("Status", "Shutdown forced")),
    (UpsFlag.RB, tr_noop("Status", "Replace the battery")),
    (UpsFlag.OVER, tr_noop("Status", "Overloaded")),
    (UpsFlag.BYPASS, tr_noop("Status", "On bypass")),
    (UpsFlag.OFF, tr_noop("Status", "Output off")),
    (UpsFlag.CAL, tr_noop("Status", "Self-test running")),
    (UpsFlag.TRIM, tr_noop("Status", "Reducing high mains voltage")),
    (UpsFlag.BOOST, tr_noop("Status", "Raising low mains voltage")),
    (UpsFlag.CHRG, tr_noop("Status", "Charging")),
)


def headline(state: DeviceState) -> str:
    """The translated one-word-or-so summary, e.g. "On battery"."""
    return translate("Status", _HEADLINES[condition(state)])


def notes(state: DeviceState) -> list[str]:
    """Translated remarks on further status flags, e.g. "Replace the battery"."""
    if state.reading is None:
        return []
    status = state.reading.status
    return [translate("Status", text) for flag, text in _NOTES if flag in status]


def device_label(state: DeviceState) -> str:
    """The device's human name; "Simulated UPS" for the simulator."""
    if state.info is None:
        return translate("Status", "UPS")
    if state.info.simulated:
        return translate("Status", "Simulated UPS")
    return state.info.label()


def summary(state: DeviceState) -> str:
    """One line with the numbers that matter, e.g. "On battery: 87 %, about 14 min left"."""
    title = headline(state)
    reading = state.reading
    if reading is None:
        return title
    charge = reading.number(CHARGE_VAR)
    runtime = reading.number(RUNTIME_VAR)
    if charge is not None and runtime is not None:
        return translate("Status", "{status}: {charge}, about {runtime} left").format(
            status=title,
            charge=format_metric(CHARGE_VAR, charge),
            runtime=format_duration(runtime),
        )
    if charge is not None:
        return translate("Status", "{status}: {charge}").format(
            status=title, charge=format_metric(CHARGE_VAR, charge)
        )
    return title
