"""The tray icon: a distinct glyph per condition, the tooltip, and the menu's commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from tests.fakes import FakeClock
from tests.gui.dumps import ON_BATTERY, write_dump
from upsight.agent.config import Config
from upsight.agent.events import Severity
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.display import Condition
from upsight.gui.icons import CONDITION_GLYPHS, Glyph, render
from upsight.gui.notifications import Notifier
from upsight.gui.tray import Tray

LOW_BATTERY = ON_BATTERY.replace("OB DISCHRG", "OB DISCHRG LB").replace("87", "9")


def running_tray(qtbot: QtBot, paths: AppPaths, spec: str) -> Iterator[Tray]:
    agent = Agent(paths, Config(poll_interval_s=0.1), [spec], serve_api=False)
    bridge = Bridge.in_process(agent)
    tray = Tray(bridge)
    agent.start()
    qtbot.wait_until(lambda: bridge.states()[0].reading is not None, timeout=5000)
    try:
        yield tray
    finally:
        bridge.close()
        agent.stop()


@pytest.fixture
def tray(qtbot: QtBot, paths: AppPaths, dump: Path) -> Iterator[Tray]:
    yield from running_tray(qtbot, paths, f"dummy:{dump}")


def pixels(image: QImage) -> bytes:
    return bytes(image.constBits())


def showing(tray: Tray, condition: Condition, simulated: bool = False) -> bool:
    return tray.icon.icon().cacheKey() == tray.state_icon(condition, simulated).cacheKey()


def test_every_condition_has_its_own_glyph(qapp: object) -> None:
    images = [pixels(render(glyph, 32)) for glyph in CONDITION_GLYPHS.values()]
    assert len(set(images)) == len(CONDITION_GLYPHS)
    plain = render(Glyph.ONLINE, 32)
    assert pixels(render(Glyph.ONLINE, 32, badge=True)) != pixels(plain)
    assert plain.size().width() == 32


def test_icon_and_tooltip_follow_the_device(qtbot: QtBot, tray: Tray, dump: Path) -> None:
    qtbot.wait_until(lambda: showing(tray, Condition.ONLINE), timeout=5000)
    assert tray.icon.toolTip().splitlines() == [
        "Upsight",
        f"UPS (ups) from dummy:{dump}",
        "On line: 100 %, about 30 min left",
    ]
    write_dump(dump, ON_BATTERY)
    qtbot.wait_until(lambda: showing(tray, Condition.ON_BATTERY), timeout=5000)
    assert tray.icon.toolTip().endswith("On battery: 87 %, about 14 min left")
    write_dump(dump, LOW_BATTERY)
    qtbot.wait_until(lambda: showing(tray, Condition.LOW_BATTERY), timeout=5000)
    assert tray.icon.toolTip().endswith("Low battery: 9 %, about 14 min left")
    dump.unlink()
    qtbot.wait_until(lambda: showing(tray, Condition.NO_COMMUNICATION), timeout=5000)
    assert tray.icon.toolTip().endswith("No communication")
    assert "%" not in tray.icon.toolTip()


def test_the_simulator_gets_the_badge(qtbot: QtBot, paths: AppPaths) -> None:
    for tray in running_tray(qtbot, paths, "sim://normal?speed=10"):
        assert showing(tray, Condition.ONLINE, simulated=True)
        assert "Simulated UPS (ups) from sim://normal?speed=10" in tray.icon.toolTip()


def test_commands_are_offered_only_where_the_device_has_them(qtbot: QtBot, tray: Tray) -> None:
    assert tray.mute_action.isEnabled()
    assert not tray.self_test_action.isEnabled()
    with qtbot.wait_signal(tray.command_finished, timeout=5000) as finished:
        tray.mute_action.trigger()
    assert finished.args == ["Beeper muted on ups"]


def test_a_failed_command_is_reported(qtbot: QtBot, tray: Tray, dump: Path) -> None:
    dump.unlink()
    qtbot.wait_until(lambda: showing(tray, Condition.NO_COMMUNICATION), timeout=5000)
    assert tray.mute_action.isEnabled()
    with qtbot.wait_signal(tray.command_finished, timeout=5000) as finished:
        tray.mute_action.trigger()
    assert finished.args[0].startswith("Could not mute the beeper: ")


class FakeSink:
    """Where the tray's notifier would show messages; records them instead."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, key: str, summary: str, body: str, severity: Severity) -> None:
        self.shown.append(summary)

    def close(self) -> None:
        self.shown.append("closed")


def test_pause_and_resume_from_the_menu(tray: Tray) -> None:
    assert not tray.pause_action.isVisible()
    clock = FakeClock()
    notifier = Notifier(tray._bridge, FakeSink(), clock=clock)
    tray.set_notifier(notifier)
    seen = []
    for _ in range(3):
        tray.pause_action.trigger()
        seen.append(notifier.paused)
    assert seen == [True, False, True]
    clock.advance(3601)
    tray.on_menu_shown()
    assert not tray.pause_action.isChecked()


def test_clicking_the_icon_asks_for_the_window(qtbot: QtBot, tray: Tray) -> None:
    with qtbot.wait_signal(tray.open_requested, timeout=1000):
        tray.on_activated(QSystemTrayIcon.ActivationReason.Trigger)
    with qtbot.wait_signal(tray.quit_requested, timeout=1000):
        tray.quit_action.trigger()
