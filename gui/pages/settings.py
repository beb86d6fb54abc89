"""The Settings page: devices, polling, notifications, protection and the desktop app itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.api.errors import ApiError, UnknownMethod
from upsight.drivers.discovery import Found
from upsight.drivers.errors import UpsError
from upsight.gui import preferences as prefs
from upsight.gui.autostart import Autostart, for_this_system, launch_command
from upsight.gui.background import Task
from upsight.gui.bridge import Bridge
from upsight.gui.display import translate
from upsight.gui.pages.settings_fields import (
    MONITORING,
    NOTIFICATIONS,
    Editor,
    Field,
    present,
    protection_fields,
)

log = logging.getLogger(__name__)

DEVICES_KEY = "agent.devices"


def find_devices() -> list[Found]:
    """The UPSes discovery finds on this machine (``upsight devices``)."""
    from upsight.drivers.discovery import discover, ups_only

    return ups_only(discover())


def simulators() -> list[tuple[str, str]]:
    """(spec, summary) of every built-in simulated UPS."""
    from upsight.drivers.simulated.scenarios import SCENARIOS

    return [(f"sim://{name}", scenario.summary) for name, scenario in SCENARIOS.items()]


def locks_of(bridge: Bridge) -> dict[str, str]:
    """Config keys managed by admin policy, each with the policy source that sets it.

    The in-process agent holds its locks; a service reports them on ``config.locks``.
    An agent that knows no locks has none.
    """
    agent = bridge.agent
    if agent is not None:
        return dict(agent.locks.sources)
    try:
        found = bridge.call("config.locks")
    except UnknownMethod:
        return {}
    return {str(k): str(v) for k, v in (found or {}).items()}


class LockNote(QLabel):
    """ "Managed by your organization", with the policy source as its tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Managed by your organization"), parent)
        self.setVisible(False)

    def show_source(self, source: str | None) -> None:
        self.setVisible(source is not None)
        tip = self.tr("Set by policy: {source}").format(source=source) if source else ""
        self.setToolTip(tip)
        self.setAccessibleDescription(tip)


class SettingsPage(QWidget):
    """Changes the agent's settings through its API and the desktop app's own preferences.

    Signals:
        config_changed(dict): the agent's settings table after a change.
        preferences_changed(Preferences): the desktop preferences after a change.
    """

    config_changed = Signal(dict)
    preferences_changed = Signal(object)

    def __init__(
        self,
        bridge: Bridge,
        parent: QWidget | None = None,
        *,
        autostart: Autostart | None = None,
        preferences_path: Path | None = None,
        discover: Callable[[], list[Found]] = find_devices,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Settings"))
        self._bridge = bridge
        self._autostart = autostart if autostart is not None else for_this_system()
        self._prefs_path = preferences_path or prefs.preferences_file(bridge.paths())
        self._discover = discover
        self._table: dict[str, Any] = {}
        self._locks: dict[str, str] = {}
        self._editors: dict[str, Editor] = {}
        self._lock_notes: dict[str, LockNote] = {}
        self._finder: Task | None = None

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self._column = QVBoxLayout()
        body = QWidget()
        body.setLayout(self._column)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 1)
        self.reload()

    def reload(self) -> None:
        """Rebuild every section from the agent's current settings and locks."""
        try:
            self._table = dict(self._bridge.call("config.get"))
            self._locks = locks_of(self._bridge)
        except ApiError as exc:
            self._say(self.tr("Could not read the settings: {error}").format(error=exc))
            return
        while self._column.count():
            item = self._column.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._editors.clear()
        self._lock_notes.clear()
        self._column.addWidget(self._devices_group())
        sections = (
            (self.tr("Monitoring"), present(MONITORING, self._table)),
            (self.tr("Notifications"), present(NOTIFICATIONS, self._table)),
            (self.tr("Protection"), protection_fields(self._table)),
        )
        for title, fields in sections:
            if fields:
                self._column.addWidget(self._group(title, fields))
        self._column.addWidget(self._desktop_group())
        self._column.addStretch(1)

    def editor(self, key: str) -> Editor | None:
        return self._editors.get(key)

    def lock_note(self, key: str) -> LockNote | None:
        return self._lock_notes.get(key)

    def _group(self, title: str, fields: list[Field]) -> QGroupBox:
        group = QGroupBox(title)
        form = QFormLayout(group)
        for field in fields:
            editor = Editor(field, self.on_edited)
            editor.show(self._table[field.key])
            self._editors[field.key] = editor
            note = LockNote()
            self._lock_notes[field.key] = note
            self._apply_lock(field.key, [editor.widget])
            row = QHBoxLayout()
            row.addWidget(editor.widget, 1)
            row.addWidget(note)
            if isinstance(editor.widget, QCheckBox):
                form.addRow(row)
            else:
                label = QLabel(translate("Settings", field.label))
                label.setBuddy(editor.widget)
                form.addRow(label, row)
        return group

    def _apply_lock(self, key: str, widgets: list[QWidget]) -> None:
        source = self._locks.get(key)
        self._lock_notes[key].show_source(source)
        for widget in widgets:
            widget.setEnabled(source is None)
            widget.setToolTip(
                self.tr("Managed by your organization: {source}").format(source=source)
                if source
                else ""
            )

    def _devices_group(self) -> QGroupBox:
        group = QGroupBox(self.tr("Devices"))
        form = QFormLayout(group)
        self.monitored = QLabel()
        self.monitored.setWordWrap(True)
        self.monitored.setAccessibleName(self.tr("Monitored devices"))
        try:
            devices = self._bridge.call("devices")
        except ApiError as exc:
            devices = []
            self._say(self.tr("Could not list the devices: {error}").format(error=exc))
        self.monitored.setText(
            "\n".join(
                self.tr("{name}: {spec}").format(name=d["name"], spec=d["spec"]) for d in devices
            )
        )
        form.addRow(self.tr("Monitoring now:"), self.monitored)
        self.device_choice = QComboBox()
        self.device_choice.setAccessibleName(self.tr("Device to monitor"))
        self._fill_choices([])
        self.find_button = QPushButton(self.tr("&Find devices"))
        self.find_button.setAccessibleName(self.tr("Look for UPSes on this computer"))
        self.find_button.clicked.connect(self.on_find_clicked)
        self.use_button = QPushButton(self.tr("&Use this device"))
        self.use_button.setAccessibleName(self.tr("Monitor the chosen device"))
        self.use_button.clicked.connect(self.on_use_clicked)
        self.found_text = QLabel()
        self.found_text.setWordWrap(True)
        note = LockNote()
        self._lock_notes[DEVICES_KEY] = note
        self._apply_lock(DEVICES_KEY, [self.device_choice, self.find_button, self.use_button])
        row = QHBoxLayout()
        row.addWidget(self.device_choice, 1)
        row.addWidget(self.find_button)
        row.addWidget(self.use_button)
        row.addWidget(note)
        label = QLabel(self.tr("&Device:"))
        label.setBuddy(self.device_choice)
        form.addRow(label, row)
        form.addRow(self.found_text)
        return group

    def _fill_choices(self, found: list[Found]) -> None:
        self.device_choice.clear()
        for item in found:
            self.device_choice.addItem(
                self.tr("{description} ({spec})").format(
                    description=item.description, spec=item.spec
                ),
                item.spec,
            )
        for spec, summary in simulators():
            self.device_choice.addItem(
                self.tr("Simulated UPS: {summary} ({spec})").format(summary=summary, spec=spec),
                spec,
            )

    def _desktop_group(self) -> QGroupBox:
        group = QGroupBox(self.tr("Desktop app"))
        column = QVBoxLayout(group)
        current = prefs.load(self._prefs_path)
        self.autostart_box = QCheckBox(self.tr("Start Upsight when I &log in"))
        self.autostart_box.setChecked(self._autostart.enabled())
        self.autostart_box.toggled.connect(self.on_autostart_toggled)
        self.minimized_box = QCheckBox(self.tr("Start &minimized to the tray"))
        self.minimized_box.setChecked(current.start_minimized)
        self.minimized_box.toggled.connect(self.on_preferences_edited)
        self.tray_box = QCheckBox(self.tr("Keep running in the &tray when the window is closed"))
        self.tray_box.setChecked(current.close_to_tray)
        self.tray_box.toggled.connect(self.on_preferences_edited)
        for box in (self.autostart_box, self.minimized_box, self.tray_box):
            box.setAccessibleName(box.text().replace("&", ""))
            column.addWidget(box)
        return group

    @Slot(object)
    def on_edited(self, field: Field) -> None:
        editor = self._editors[field.key]
        try:
            value = editor.value()
        except ValueError as exc:
            self._say(self.tr("{setting}: {error}").format(setting=field.key, error=exc))
            editor.show(self._table[field.key])
            return
        if value != self._table.get(field.key):
            self._set(field.key, value)

    def _set(self, key: str, value: Any) -> bool:
        try:
            table = self._bridge.call("config.set", key=key, value=value)
        except (ApiError, UpsError) as exc:
            self._say(self.tr("Not saved: {error}").format(error=exc))
            editor = self._editors.get(key)
            if editor is not None:
                editor.show(self._table.get(key))
            return False
        self._table = dict(table)
        self._say("")
        self.config_changed.emit(self._table)
        return True

    @Slot()
    def on_find_clicked(self) -> None:
        if self._finder is not None:
            return
        self.find_button.setEnabled(False)
        self.found_text.setText(self.tr("Looking for UPSes…"))
        self._finder = Task(self._discover, self)
        self._finder.succeeded.connect(self.on_found)
        self._finder.failed.connect(self.on_find_failed)
        self._finder.start()

    @Slot(object)
    def on_found(self, found: list[Found]) -> None:
        self._end_find()
        self._fill_choices(found)
        if found:
            self.found_text.setText(self.tr("Found %n UPS(es).", None, len(found)))
        else:
            self.found_text.setText(
                self.tr("No UPS found on this computer. You can try a simulated UPS.")
            )

    @Slot(object)
    def on_find_failed(self, error: object) -> None:
        self._end_find()
        self.found_text.setText(self.tr("Could not look for UPSes: {error}").format(error=error))

    def _end_find(self) -> None:
        if self._finder is not None:
            self._finder.deleteLater()
            self._finder = None
        self.find_button.setEnabled(DEVICES_KEY not in self._locks)

    @Slot()
    def on_use_clicked(self) -> None:
        spec = self.device_choice.currentData()
        if spec and self._set(DEVICES_KEY, [spec]):
            self.found_text.setText(
                self.tr("Upsight will monitor {spec} from its next start.").format(spec=spec)
            )

    @Slot(bool)
    def on_autostart_toggled(self, enabled: bool) -> None:
        try:
            if enabled:
                self._autostart.enable(launch_command())
            else:
                self._autostart.disable()
        except OSError as exc:
            self._say(self.tr("Could not change starting at login: {error}").format(error=exc))
            blocked = self.autostart_box.blockSignals(True)
            self.autostart_box.setChecked(self._autostart.enabled())
            self.autostart_box.blockSignals(blocked)

    @Slot()
    def on_preferences_edited(self) -> None:
        updated = replace(
            prefs.load(self._prefs_path),
            start_minimized=self.minimized_box.isChecked(),
            close_to_tray=self.tray_box.isChecked(),
        )
        try:
            prefs.save(self._prefs_path, updated)
        except OSError as exc:
            self._say(self.tr("Could not save: {error}").format(error=exc))
            return
        self.preferences_changed.emit(updated)

    def settings_table(self) -> Mapping[str, Any]:
        """The agent's settings as last read or saved."""
        return self._table

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
