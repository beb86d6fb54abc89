"""The main window: pages built on first view, the connection banner, and close to tray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from upsight.agent.api.client import ApiClient
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.pages.events import EventsPage
from upsight.gui.pages.status import StatusPage
from upsight.gui.preferences import Preferences
from upsight.gui.window import MainWindow, PageSpec

built: list[str] = []


def counted(title: str) -> PageSpec:
    def factory(bridge: Bridge, parent: QWidget | None) -> QWidget:
        built.append(title)
        page = QLabel(title, parent)
        page.setAccessibleName(title)
        return page

    return PageSpec(title, factory)


@pytest.fixture
def agent(paths: AppPaths) -> Iterator[Agent]:
    running = Agent(paths, Config(poll_interval_s=0.2), ["sim://normal"], serve_api=True)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def bridge(agent: Agent) -> Iterator[Bridge]:
    bridge = Bridge.in_process(agent)
    yield bridge
    bridge.close()


def test_pages_are_built_when_first_shown(qtbot: QtBot, bridge: Bridge) -> None:
    built.clear()
    window = MainWindow(bridge, [counted("One"), counted("Two"), counted("Three")])
    qtbot.add_widget(window)
    assert built == ["One"]
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [
        "One",
        "Two",
        "Three",
    ]
    window.nav.setCurrentRow(2)
    assert built == ["One", "Three"]
    current = window.stack.currentWidget()
    assert isinstance(current, QLabel)
    assert current.text() == "Three"
    window.nav.setCurrentRow(0)
    window.nav.setCurrentRow(2)
    assert built == ["One", "Three"]


def test_real_pages_get_the_bridge(qtbot: QtBot, bridge: Bridge) -> None:
    from upsight.gui.window import _events, _status

    window = MainWindow(bridge, [PageSpec("Status", _status), PageSpec("Events", _events)])
    qtbot.add_widget(window)
    assert isinstance(window.page(0), StatusPage)
    assert isinstance(window.page(1), EventsPage)
    assert window.statusBar().currentMessage() == "Monitoring in this app"


def test_close_hides_to_the_tray_only_when_there_is_one(qtbot: QtBot, bridge: Bridge) -> None:
    window = MainWindow(bridge, [counted("One")], tray_available=True)
    qtbot.add_widget(window)
    window.show()
    window.close()
    assert window.isHidden()
    window.bring_up()
    assert window.isVisible()
    window.on_preferences_changed(Preferences(close_to_tray=False))
    with qtbot.wait_signal(window.quit_requested, timeout=1000):
        window.close()

    no_tray = MainWindow(bridge, [counted("One")], tray_available=False)
    qtbot.add_widget(no_tray)
    no_tray.show()
    with qtbot.wait_signal(no_tray.quit_requested, timeout=1000):
        no_tray.close()


def test_the_banner_shows_while_the_service_is_away(
    qtbot: QtBot, agent: Agent, paths: AppPaths
) -> None:
    bridge = Bridge.over_api(ApiClient(paths.api_socket), paths)
    try:
        window = MainWindow(bridge, [counted("One")])
        qtbot.add_widget(window)
        assert not window.banner.isHidden()
        qtbot.wait_until(window.banner.isHidden, timeout=10_000)
        assert window.statusBar().currentMessage() == "Showing the Upsight service"
        agent.stop()
        qtbot.wait_until(lambda: not window.banner.isHidden(), timeout=10_000)
        assert window.banner.text() == "Lost the connection to the service; retrying"
    finally:
        bridge.close()
