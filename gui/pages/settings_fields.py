"""Agent settings as a table of fields, and the editor widget each kind of field gets."""

from __future__ import annotations

import enum
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from upsight.gui.display import tr_noop, translate


class Kind(enum.Enum):
    """How a setting is edited."""

    FLAG = "flag"
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    WORDS = "words"  # a list of strings, typed as shell-style words
    TEXT = "text"


@dataclass(frozen=True)
class Field:
    """One agent setting on the Settings page.

    Attributes:
        key: the config key, e.g. ``agent.poll_interval_s``.
        label: untranslated label, translated in the ``Settings`` context.
        kind: the editor.
        low, high: the accepted range of numbers (the agent checks again).
        suffix: the unit shown after numbers, e.g. " s".
        decimals: digits after the point for numbers.
        choices: for CHOICE, (value, untranslated label) pairs.
    """

    key: str
    label: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    suffix: str = ""
    decimals: int = 0
    choices: tuple[tuple[str, str], ...] = ()


def _seconds(key: str, label: str, low: float, high: float, decimals: int = 0) -> Field:
    return Field(key, label, Kind.NUMBER, low, high, " s", decimals)


MONITORING: Final = (
    _seconds("agent.poll_interval_s", tr_noop("Settings", "Read the UPS every"), 0.2, 60, 1),
    _seconds(
        "agent.onbatt_debounce_s", tr_noop("Settings", "Ignore power blips shorter than"), 0, 600
    ),
    _seconds(
        "agent.nocomm_warn_s", tr_noop("Settings", "Warn when the UPS is silent for"), 10, 86400
    ),
)

NOTIFICATIONS: Final = (
    Field("notifications.enabled", tr_noop("Settings", "Show notifications"), Kind.FLAG),
    Field(
        "notifications.min_severity",
        tr_noop("Settings", "Notify about"),
        Kind.CHOICE,
        choices=(
            ("info", tr_noop("Settings", "Every event")),
            ("warning", tr_noop("Settings", "Warnings and critical events")),
            ("critical", tr_noop("Settings", "Critical events only")),
        ),
    ),
)

PROTECTION: Final = (
    Field(
        "protection.action",
        tr_noop("Settings", "When the battery runs low"),
        Kind.CHOICE,
        choices=(
            ("shutdown", tr_noop("Settings", "Shut down this computer")),
            ("hibernate", tr_noop("Settings", "Hibernate this computer")),
            ("command", tr_noop("Settings", "Run a command")),
            ("notify", tr_noop("Settings", "Only notify me")),
            ("none", tr_noop("Settings", "Do nothing (monitor only)")),
        ),
    ),
    _seconds(
        "protection.on_battery_s", tr_noop("Settings", "Act after on battery (0: off)"), 0, 86400
    ),
    _seconds(
        "protection.runtime_below_s", tr_noop("Settings", "Act below runtime (0: off)"), 0, 7200
    ),
    Field(
        "protection.charge_below_pct",
        tr_noop("Settings", "Act below charge (0: off)"),
        Kind.NUMBER,
        0,
        95,
        " %",
    ),
    Field(
        "protection.on_low_battery",
        tr_noop("Settings", "Act when the UPS says the battery is low"),
        Kind.FLAG,
    ),
    _seconds("protection.delay_s", tr_noop("Settings", "Warning before acting"), 0, 3600),
    Field(
        "protection.allow_postpone", tr_noop("Settings", "Let users postpone a shutdown"), Kind.FLAG
    ),
    _seconds("protection.postpone_s", tr_noop("Settings", "Each postponement adds"), 10, 3600),
    Field(
        "protection.max_postpones",
        tr_noop("Settings", "Postponements allowed"),
        Kind.INTEGER,
        0,
        10,
    ),
    Field("protection.command", tr_noop("Settings", "Command to run"), Kind.WORDS),
    _seconds(
        "protection.command_timeout_s", tr_noop("Settings", "Stop the command after"), 1, 3600
    ),
    Field(
        "protection.ups_power_off",
        tr_noop("Settings", "Then turn the UPS off until mains returns"),
        Kind.FLAG,
    ),
    _seconds(
        "protection.ups_power_off_delay_s",
        tr_noop("Settings", "UPS turns off after"),
        10,
        600,
    ),
    Field(
        "protection.devices",
        tr_noop("Settings", "UPSes powering this computer (empty: all real ones)"),
        Kind.WORDS,
    ),
)

PROTECTION_PREFIX: Final = "protection."


def generic(key: str, value: Any) -> Field:
    """A field for a setting this table does not know yet, judged by its current value."""
    if isinstance(value, bool):
        kind = Kind.FLAG
    elif isinstance(value, int):
        kind = Kind.INTEGER
    elif isinstance(value, float):
        kind = Kind.NUMBER
    elif isinstance(value, list):
        kind = Kind.WORDS
    else:
        kind = Kind.TEXT
    return Field(key, key, kind, 0, 1e9, decimals=1 if kind is Kind.NUMBER else 0)


def present(fields: tuple[Field, ...], table: Mapping[str, Any]) -> list[Field]:
    """The fields whose keys the agent's config has."""
    return [f for f in fields if f.key in table]


def protection_fields(table: Mapping[str, Any]) -> list[Field]:
    """Every ``protection.*`` setting the agent has: known ones first, then any newer ones."""
    known = {f.key for f in PROTECTION}
    extra = [generic(k, v) for k, v in table.items() if k.startswith(PROTECTION_PREFIX)]
    return present(PROTECTION, table) + [f for f in extra if f.key not in known]


class Editor:
    """The widget of one field, reading and showing values in the agent's JSON form."""

    def __init__(self, field: Field, on_edited: Callable[[Field], None]) -> None:
        self.field = field
        self.widget = self._make(field, lambda: on_edited(field))
        self.widget.setAccessibleName(translate("Settings", field.label))

    @staticmethod
    def _make(field: Field, edited: Callable[[], None]) -> QWidget:
        kind = field.kind
        if kind is Kind.FLAG:
            box = QCheckBox(translate("Settings", field.label))
            box.toggled.connect(edited)
            return box
        if kind is Kind.CHOICE:
            combo = QComboBox()
            for value, label in field.choices:
                combo.addItem(translate("Settings", label), value)
            combo.activated.connect(edited)
            return combo
        if kind is Kind.INTEGER:
            spin = QSpinBox()
            spin.setRange(int(field.low), int(field.high))
            spin.setSuffix(field.suffix)
            spin.editingFinished.connect(edited)
            return spin
        if kind is Kind.NUMBER:
            number = QDoubleSpinBox()
            number.setRange(field.low, field.high)
            number.setDecimals(field.decimals)
            number.setSuffix(field.suffix)
            number.editingFinished.connect(edited)
            return number
        line = QLineEdit()
        line.editingFinished.connect(edited)
        return line

    def value(self) -> Any:
        """The edited value, in the form ``config.set`` takes.

        Raises:
            ValueError: the text cannot be split into words (an open quote).
        """
        widget = self.widget
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QSpinBox):
            return widget.value()
        if isinstance(widget, QDoubleSpinBox):
            return widget.value()
        assert isinstance(widget, QLineEdit)
        if self.field.kind is Kind.WORDS:
            return shlex.split(widget.text())
        return widget.text()

    def show(self, value: Any) -> None:
        """Show the agent's value without reporting it as an edit."""
        widget = self.widget
        blocked = widget.blockSignals(True)
        try:
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                index = widget.findData(value)
                if index < 0:
                    widget.addItem(str(value), value)
                    index = widget.count() - 1
                widget.setCurrentIndex(index)
            elif isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(value))
            elif isinstance(widget, QLineEdit):
                text = shlex.join(value) if isinstance(value, list) else str(value)
                widget.setText(text)
        finally:
            widget.blockSignals(blocked)
