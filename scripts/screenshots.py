"""Render the desktop app's pages and tray menu against the simulator into docs/screenshots/.

The app runs offscreen in personal mode with its own temporary files. The History and
Events pages show a day the simulator played beforehand: on line, then a 12-minute power
cut five hours ago, then recharging. A memory keychain stands in for the desktop's, so the
Privacy page and the first-start questions look as they do on a desktop that has one;
nothing is stored.

Run: python scripts/screenshots.py [--out docs/screenshots] [--lang en]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import keyring
from keyring.backend import KeyringBackend
from PySide6.QtCore import QLocale, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from upsight.agent.events import diff, make_event
from upsight.agent.history.store import HistoryStore
from upsight.agent.paths import AppPaths
from upsight.drivers.clock import SteppedClock
from upsight.drivers.model import Reading
from upsight.drivers.simulated.driver import SimDriver
from upsight.drivers.simulated.profiles import DEFAULT_PROFILE, PROFILES
from upsight.drivers.simulated.scenarios import Phase, Scenario
from upsight.gui.bridge import Bridge
from upsight.gui.window import MainWindow

WINDOW: Final = (1000, 700)
DEVICE: Final = "ups"
LIVE_SPEC: Final = "sim://normal"
DAY_S: Final = 86_400
STEP_S: Final = 10.0
WAIT_S: Final = 30.0
# The day the History and Events pages show, ending now.
DAY: Final = Scenario(
    "screenshots",
    "on line, a 12-minute power cut 5 h ago, then recharging",
    (Phase(DAY_S - 5 * 3600.0), Phase(12 * 60.0, mains=False), Phase()),
)
PAGES: Final = ("status", "history", "events", "settings", "privacy")


class MemoryKeyring(KeyringBackend):
    """A keychain that forgets everything when the script ends."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def play_day(paths: AppPaths, now: float) -> None:
    """Record the simulator's day into the history, with the events it raised."""
    clock = SteppedClock(now - DAY_S)
    driver = SimDriver(DAY, PROFILES[DEFAULT_PROFILE], clock)
    store = HistoryStore(paths.history_db)
    previous: Reading | None = None
    try:
        while clock.time() < now:
            reading = driver.read()
            store.record(DEVICE, reading)
            before = previous.status if previous is not None else None
            for kind in diff(before, reading.status):
                store.record_event(make_event(reading.at, DEVICE, kind, reading))
            previous = reading
            clock.advance(STEP_S)
        store.flush()
    finally:
        driver.close()
        store.close()


def settle(ready: Callable[[], bool], what: str) -> None:
    """Let Qt run until ``ready()``; stop the script if it does not happen in time."""
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if time.monotonic() > deadline:
            sys.exit(f"screenshots: gave up waiting for {what}")
        QTest.qWait(50)
    # One more round so the last change is painted.
    QTest.qWait(200)


def save(widget: QWidget, path: Path) -> None:
    # 256 colours without dithering keep the files small; the UI's flat colours survive it.
    flags = Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_Indexed8, flags)
    if not image.save(str(path), b"PNG", 9):
        sys.exit(f"screenshots: could not write {path}")
    print(f"{path} ({path.stat().st_size // 1024} KiB)")


def ready(page: QWidget, bridge: Bridge) -> Callable[[], bool]:
    """When ``page`` shows what it is for: a reading, the history, the events."""
    from upsight.gui.pages.events import EventsPage
    from upsight.gui.pages.history import HistoryPage
    from upsight.gui.pages.status import StatusPage

    if isinstance(page, StatusPage):
        return lambda: any(s.reading is not None for s in bridge.states())
    if isinstance(page, HistoryPage):
        shown: list[object] = []
        page.history_shown.connect(shown.append)
        return lambda: bool(shown)
    if isinstance(page, EventsPage):
        model = page.table.model()
        return lambda: model.rowCount() > 0
    return lambda: True


def shoot_window(window: MainWindow, bridge: Bridge, out: Path) -> None:
    window.resize(*WINDOW)
    window.show()
    for index, name in enumerate(PAGES):
        window.nav.setCurrentRow(index)
        page = window.page(index)
        # A page wider than the window at its smallest widens it; the next one shrinks back.
        window.resize(*WINDOW)
        settle(ready(page, bridge), name)
        save(window, out / f"{name}.png")


def shoot_tray(bridge: Bridge, out: Path) -> None:
    from upsight.gui.tray import Tray

    tray = Tray(bridge)
    tray.refresh()
    tray.menu.popup(QPoint(0, 0))
    settle(tray.menu.isVisible, "the tray menu")
    save(tray.menu, out / "tray-menu.png")
    tray.menu.hide()


def shoot_first_run(window: MainWindow, bridge: Bridge, out: Path) -> None:
    from upsight.gui.first_run import FirstRunDialog

    dialog = FirstRunDialog(bridge, window)
    dialog.resize(*WINDOW)
    dialog.show()
    settle(dialog.isVisible, "the first-start questions")
    save(dialog, out / "first-run.png")
    dialog.reject()


def shoot(out: Path, lang: str) -> None:
    from upsight.gui import i18n
    from upsight.gui.app import build_agent, plan_personal
    from upsight.gui.window import MainWindow

    paths = AppPaths.default()
    play_day(paths, time.time())
    app = QApplication([sys.argv[0]])
    app.setApplicationName("Upsight")
    i18n.install(app, QLocale(lang))
    agent = build_agent(plan_personal([LIVE_SPEC], paths))
    bridge = Bridge.in_process(agent)
    agent.start()
    window = MainWindow(bridge, tray_available=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        shoot_window(window, bridge, out)
        shoot_tray(bridge, out)
        shoot_first_run(window, bridge, out)
    finally:
        window.shutdown()
        bridge.close()
        agent.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--lang", default="en_US", help="language of the screenshots")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="upsight-shots-", dir="/tmp"))
    try:
        os.environ["UPSIGHT_CONFIG_DIR"] = str(scratch / "config")
        os.environ["UPSIGHT_DATA_DIR"] = str(scratch / "data")
        os.environ["UPSIGHT_RUNTIME_DIR"] = str(scratch / "run")
        keyring.set_keyring(MemoryKeyring())
        shoot(args.out.resolve(), args.lang)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
