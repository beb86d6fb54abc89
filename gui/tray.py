"""The tray icon: a glyph per condition, a tooltip with the numbers, and a short menu."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from upsight.agent.monitor import DeviceState
from upsight.drivers.errors import UpsError
from upsight.gui import display
from upsight.gui.background import Task
from upsight.gui.bridge import Bridge
from upsight.gui.icons import CONDITION_GLYPHS, icon
from upsight.gui.notifications import PAUSE_S, Notifier

MUTE_COMMAND: Final = "beeper.mute"
SELF_TEST_COMMAND: Final = "test.battery.start.quick"


def focus(states: list[DeviceState]) -> DeviceState | None:
    """The device the icon stands for: the one in the most urgent condition."""
    ranked = sorted(states, key=lambda s: display.condition(s).value, reverse=True)
    return ranked[0] if ranked else None


class Tray(QObject):
    """The system tray icon and its menu.

    Signals:
        open_requested(): the user wants the main window.
        quit_requested(): the user chose Quit.
        command_finished(str): a sentence on how a menu command went.
    """

    open_requested = Signal()
    quit_requested = Signal()
    command_finished = Signal(str)

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._notifier: Notifier | None = None
        self._icons: dict[tuple[display.Condition, bool], QIcon] = {}
        self._link_text = ""
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.open_action = self._action(self.tr("&Open Upsight"), self.open_requested.emit)
        self.menu.addSeparator()
        self.mute_action = self._action(self.tr("&Mute the beeper"), self.on_mute)
        self.self_test_action = self._action(self.tr("Run a battery &self-test"), self.on_self_test)
        self.pause_action = self._action(self.tr("&Pause notifications for 1 hour"), self.on_pause)
        self.pause_action.setCheckable(True)
        self.pause_action.setVisible(False)
        self.menu.addSeparator()
        self.quit_action = self._action(self.tr("&Quit"), self.quit_requested.emit)
        self.menu.aboutToShow.connect(self.on_menu_shown)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self.on_activated)
        self._tasks: list[Task] = []
        bridge.state_changed.connect(self.on_state_changed)
        bridge.link_changed.connect(self.on_link_changed)
        self.refresh()

    def _action(self, text: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    def set_notifier(self, notifier: Notifier) -> None:
        """Offer pausing ``notifier`` from the menu."""
        self._notifier = notifier
        self.pause_action.setVisible(True)

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def state_icon(self, condition: display.Condition, simulated: bool) -> QIcon:
        """The icon for a condition, with the simulated badge when the device is simulated."""
        key = (condition, simulated)
        if key not in self._icons:
            self._icons[key] = icon(CONDITION_GLYPHS[condition], badge=simulated)
        return self._icons[key]

    def tooltip(self) -> str:
        """Every device's name, source and numbers, and the link to the service if lost."""
        lines = [self.tr("Upsight")]
        if self._link_text:
            lines.append(self._link_text)
        for state in self._bridge.states():
            lines.append(
                self.tr("{label} ({device}) from {spec}").format(
                    label=display.device_label(state), device=state.device, spec=state.spec
                )
            )
            lines.append(display.summary(state))
        return "\n".join(lines)

    def refresh(self) -> None:
        """Redraw the icon and tooltip and enable the commands the devices offer."""
        states = self._bridge.states()
        state = focus(states)
        if state is None:
            condition, simulated = display.Condition.CONNECTING, False
        else:
            condition = display.condition(state)
            simulated = state.info is not None and state.info.simulated
        if not self._bridge.connected:
            condition = display.Condition.NO_COMMUNICATION
        self.icon.setIcon(self.state_icon(condition, simulated))
        self.icon.setToolTip(self.tooltip())
        self.mute_action.setEnabled(bool(self._offering(MUTE_COMMAND)))
        self.self_test_action.setEnabled(bool(self._offering(SELF_TEST_COMMAND)))

    def _offering(self, command: str) -> list[str]:
        return [s.device for s in self._bridge.states() if command in s.commands]

    @Slot(object)
    def on_state_changed(self, _: DeviceState) -> None:
        self.refresh()

    @Slot(bool, str)
    def on_link_changed(self, connected: bool, text: str) -> None:
        self._link_text = "" if connected else text
        self.refresh()

    @Slot(QSystemTrayIcon.ActivationReason)
    def on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()

    @Slot()
    def on_menu_shown(self) -> None:
        # A pause ends by itself after an hour; the check mark follows.
        if self._notifier is not None:
            self.pause_action.setChecked(self._notifier.paused)

    @Slot()
    def on_pause(self) -> None:
        if self._notifier is None:
            return
        if self.pause_action.isChecked():
            self._notifier.pause(PAUSE_S)
        else:
            self._notifier.resume()

    @Slot()
    def on_mute(self) -> None:
        self._run(
            MUTE_COMMAND,
            self.tr("Beeper muted on {devices}"),
            self.tr("Could not mute the beeper: {error}"),
        )

    @Slot()
    def on_self_test(self) -> None:
        self._run(
            SELF_TEST_COMMAND,
            self.tr("Battery self-test started on {devices}"),
            self.tr("Could not start the self-test: {error}"),
        )

    def _run(self, command: str, done: str, failed: str) -> None:
        devices = self._offering(command)
        if not devices:
            return
        bridge = self._bridge

        def work() -> None:
            for device in devices:
                bridge.run_command(device, command)

        task = Task(work, self)
        task.succeeded.connect(
            partial(self._on_done, task, done.format(devices=", ".join(devices)))
        )
        task.failed.connect(partial(self._on_failed, task, failed))
        self._tasks.append(task)
        task.start()

    def _on_done(self, task: Task, text: str, _: object) -> None:
        self._forget(task)
        self._report(text, QSystemTrayIcon.MessageIcon.Information)

    def _on_failed(self, task: Task, template: str, error: object) -> None:
        self._forget(task)
        if not isinstance(error, UpsError):
            error = self.tr("unexpected error ({error})").format(error=error)
        self._report(template.format(error=error), QSystemTrayIcon.MessageIcon.Warning)

    def _forget(self, task: Task) -> None:
        self._tasks.remove(task)
        task.deleteLater()

    def _report(self, text: str, kind: QSystemTrayIcon.MessageIcon) -> None:
        self.icon.showMessage(self.tr("Upsight"), text, kind)
        self.command_finished.emit(text)
