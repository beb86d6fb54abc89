"""The desktop app's entry point: find or start an agent, then show the window and tray icon."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from upsight.agent.api.errors import ApiError
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.settings_policy import Locks
from upsight.drivers.errors import UpsError
from upsight.gui import i18n
from upsight.gui import preferences as prefs
from upsight.gui.background import Task
from upsight.gui.bridge import Bridge
from upsight.gui.first_run import FirstRunDialog, needs_first_run
from upsight.gui.icons import Glyph, icon
from upsight.gui.notifications import DBusSink, Notifier, Sink, TraySink
from upsight.gui.privacy_link import PrivacyLink
from upsight.gui.tray import Tray
from upsight.gui.window import MainWindow

if TYPE_CHECKING:
    from upsight.agent.service import Agent

log = logging.getLogger(__name__)

SIMULATOR: Final = "sim://normal"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upsight", description="Show your UPS and protect this computer during power cuts."
    )
    parser.add_argument(
        "--device",
        metavar="SPEC",
        action="append",
        help="monitor this device in the app (repeatable) instead of using the Upsight service",
    )
    parser.add_argument(
        "--minimized", action="store_true", help="start in the tray, without the window"
    )
    parser.add_argument(
        "--lang",
        metavar="LOCALE",
        help=f"speak this language (e.g. zh_CN, en) instead of the system's or ${i18n.LANG_ENV}",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    return parser


def ask_simulator() -> bool:
    """Ask whether to try the app with the simulated UPS, as no real one was found."""
    box = QMessageBox()
    box.setWindowTitle(QCoreApplication.translate("App", "No UPS found"))
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(
        QCoreApplication.translate(
            "App",
            "Upsight found no UPS on this computer: none on USB or serial ports, no NUT "
            "server on this computer.\n\nYou can try Upsight with a Simulated UPS. Its "
            "readings are made up and it is labelled “Simulated UPS” everywhere.",
        )
    )
    use = box.addButton(
        QCoreApplication.translate("App", "Use a &Simulated UPS"), QMessageBox.ButtonRole.AcceptRole
    )
    box.addButton(QCoreApplication.translate("App", "&Quit"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(use)
    box.exec()
    return box.clickedButton() is use


def service_bridge() -> Bridge | None:
    """A bridge to the user's own running agent, else to the machine's service, if one answers."""
    from upsight.agent.api.client import ApiClient

    for paths in (AppPaths.default(), AppPaths.system()):
        if ApiClient.is_running(paths.api_socket):
            return Bridge.over_api(ApiClient(paths.api_socket), AppPaths.default())
    return None


@dataclass(frozen=True)
class Plan:
    """What a personal agent will monitor and with which settings; ``devices`` may be empty."""

    paths: AppPaths
    config: Config
    locks: Locks
    devices: tuple[str, ...]


def plan_personal(devices: Sequence[str], paths: AppPaths | None = None) -> Plan:
    """Settings and devices for an agent of this app alone, as ``upsight run`` picks them.

    Without named or configured devices, every UPS discovery finds; blocking.
    """
    from upsight.agent import cli

    paths = paths or AppPaths.default()
    loaded, locks = cli._effective_config(paths)
    for problem in loaded.problems:
        log.warning("%s", problem)
    chosen = list(devices or loaded.config.devices)
    if not chosen:
        _, found = cli._found_ups()
        chosen = [item.spec for item in found]
    return Plan(paths, loaded.config, locks, tuple(chosen))


def build_agent(plan: Plan) -> Agent:
    """The agent of ``plan``, with its privacy center; not started. Blocking."""
    from upsight.agent import cli
    from upsight.agent.service import Agent

    center = cli._privacy_center(plan.paths)
    return Agent(plan.paths, plan.config, plan.devices, privacy=center, locks=plan.locks)


def notification_sink(tray: Tray) -> Sink:
    """Desktop notifications over D-Bus where a server runs, else the tray's balloon."""
    if sys.platform.startswith("linux") and DBusSink.available():
        return DBusSink()
    return TraySink(tray.icon)


class DesktopApp(QObject):
    """The running app: bridge, window, tray icon and notifications, and their shutdown."""

    def __init__(self, bridge: Bridge, *, minimized: bool) -> None:
        super().__init__()
        self.bridge = bridge
        self.agent: Agent | None = None
        self.closed = False
        self._ask: Callable[[], bool] = ask_simulator
        self._task: Task | None = None
        self.first_run: FirstRunDialog | None = None
        self._asked = False
        self._privacy: PrivacyLink | None = None
        tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        preferences = prefs.load(prefs.preferences_file(bridge.paths()))
        self.window = MainWindow(bridge, preferences=preferences, tray_available=tray_available)
        self.tray = Tray(bridge, self)
        self.notifier = Notifier(bridge, notification_sink(self.tray), parent=self)
        self.tray.set_notifier(self.notifier)
        bridge.link_changed.connect(self.on_link_changed)
        if bridge.connected:
            self._load_notification_settings()
        self.window.config_changed.connect(self.notifier.apply_config)
        self.window.quit_requested.connect(self.quit)
        self.tray.open_requested.connect(self.window.bring_up)
        self.tray.quit_requested.connect(self.quit)
        if tray_available:
            self.tray.show()
        if not (minimized or preferences.start_minimized):
            self.window.show()
        elif not tray_available:
            # Without a tray the window is the only way back in.
            self.window.showMinimized()

    @Slot(bool, str)
    def on_link_changed(self, connected: bool, _: str) -> None:
        if connected:
            self._load_notification_settings()
            if not self.bridge.personal:
                self.ask_first_run()

    def ask_first_run(self) -> None:
        """Show the first-start consent questions, once per run, if a purpose awaits an answer.

        Policy may decide every purpose or switch the questions off (``needs_first_run``).
        """
        if self._asked or self.closed:
            return
        self._asked = True
        try:
            link = PrivacyLink(self.bridge)
        except (OSError, ValueError, UpsError) as exc:
            log.warning("privacy choices unavailable, so nothing is uploaded: %s", exc)
            return
        if not needs_first_run(link.center):
            link.close()
            return
        self._privacy = link
        self.first_run = FirstRunDialog(self.bridge, self.window, center=link.center)
        self.first_run.finished.connect(self.on_first_run_finished)
        self.first_run.open()

    @Slot(int)
    def on_first_run_finished(self, _: int) -> None:
        self._close_privacy()

    def _close_privacy(self) -> None:
        if self._privacy is not None:
            self._privacy.close()
            self._privacy = None

    def _load_notification_settings(self) -> None:
        try:
            self.notifier.apply_config(self.bridge.call("config.get"))
        except ApiError as exc:
            log.warning("notification settings unavailable: %s", exc)

    def start_personal(self, devices: Sequence[str], ask: Callable[[], bool]) -> None:
        """Build and start this app's own agent off the GUI thread; the window shows meanwhile.

        Args:
            devices: device specs to monitor; empty means configured or found ones.
            ask: whether to use the simulator when no UPS is found; False quits.
        """
        self._ask = ask
        self._run(lambda: plan_personal(devices), self._on_planned)

    def _run(self, work: Callable[[], object], done: Callable[[object], None]) -> None:
        self._task = Task(work, self)
        self._task.succeeded.connect(done)
        self._task.failed.connect(self._on_start_failed)
        self._task.start()

    @Slot(object)
    def _on_planned(self, plan: object) -> None:
        assert isinstance(plan, Plan)
        if self.closed:
            return
        if not plan.devices:
            if not self._ask():
                self.quit()
                return
            plan = replace(plan, devices=(SIMULATOR,))
        self._run(lambda: build_agent(plan), self._on_built)

    @Slot(object)
    def _on_built(self, agent: object) -> None:
        from upsight.agent.service import Agent

        assert isinstance(agent, Agent)
        if self.closed:
            agent.stop()
            return
        self.agent = agent
        self.bridge.attach(agent)
        try:
            agent.start()
        except (OSError, UpsError) as exc:
            self._on_start_failed(exc)
            return
        self.ask_first_run()

    @Slot(object)
    def _on_start_failed(self, error: object) -> None:
        log.error("could not start monitoring: %s", error)
        self.window.on_link_changed(
            False,
            QCoreApplication.translate("App", "Upsight could not start monitoring: {error}").format(
                error=error
            ),
        )

    @Slot()
    def quit(self) -> None:
        """Stop everything and end the event loop; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        if self.first_run is not None and self.first_run.isVisible():
            self.first_run.reject()
        self._close_privacy()
        self.window.shutdown()
        self.window.quit()
        self.tray.hide()
        self.notifier.close()
        self.bridge.close()
        if self.agent is not None:
            self.agent.stop()
        QCoreApplication.quit()


def start(argv: Sequence[str] | None = None, ask: Callable[[], bool] = ask_simulator) -> DesktopApp:
    """Parse arguments and bring the app up; a QApplication must exist.

    With a running agent the app shows it. Otherwise the window appears at once
    and the app's own agent is built behind it (see ``DesktopApp.start_personal``).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = QCoreApplication.instance()
    assert app is not None
    i18n.install(app, i18n.requested_locale(args.lang))
    bridge = None if args.device else service_bridge()
    if bridge is not None:
        return DesktopApp(bridge, minimized=args.minimized)
    desktop = DesktopApp(Bridge.starting(AppPaths.default()), minimized=args.minimized)
    desktop.start_personal(args.device or (), ask)
    return desktop


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``upsight`` without a command: the desktop app."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Upsight")
    app.setDesktopFileName("upsight")
    app.setWindowIcon(icon(Glyph.APP))
    # The tray keeps the app alive with the window closed; Quit ends it.
    app.setQuitOnLastWindowClosed(False)
    desktop = start(argv)
    if desktop.closed:
        return 0
    try:
        return app.exec()
    finally:
        desktop.quit()


if __name__ == "__main__":
    sys.exit(main())
