"""The Settings page against a real agent: saving, locks, discovery, and the desktop options."""

from __future__ import annotations

import plistlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit
from pytestqt.qtbot import QtBot

from tests.peers.nut import NutServer
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.agent.settings_policy import Locks
from upsight.drivers.discovery import discover, ups_only
from upsight.gui import preferences as prefs
from upsight.gui.autostart import DesktopEntry, LaunchAgent, RunKey, for_this_system
from upsight.gui.bridge import Bridge
from upsight.gui.pages.settings import SettingsPage

POLICY_FILE = "/etc/upsight/policy.json"


@pytest.fixture
def agent(paths: AppPaths) -> Iterator[Agent]:
    running = Agent(paths, Config(poll_interval_s=0.5), ["sim://normal"], serve_api=False)
    running.locks = Locks({"agent.onbatt_debounce_s": POLICY_FILE})
    running.start()
    yield running
    running.stop()


@pytest.fixture
def bridge(agent: Agent) -> Iterator[Bridge]:
    bridge = Bridge.in_process(agent)
    yield bridge
    bridge.close()


@pytest.fixture
def page(qtbot: QtBot, bridge: Bridge, paths: AppPaths) -> SettingsPage:
    autostart = DesktopEntry(paths.config_dir / "xdg")
    page = SettingsPage(bridge, autostart=autostart)
    qtbot.add_widget(page)
    return page


def widget(page: SettingsPage, key: str) -> Any:
    editor = page.editor(key)
    assert editor is not None, key
    return editor.widget


def test_a_changed_setting_is_saved_by_the_agent(
    qtbot: QtBot, page: SettingsPage, agent: Agent
) -> None:
    spin = widget(page, "agent.poll_interval_s")
    assert isinstance(spin, QDoubleSpinBox)
    assert spin.value() == 0.5
    spin.setValue(2.0)
    with qtbot.wait_signal(page.config_changed, timeout=2000) as changed:
        spin.editingFinished.emit()
    assert changed.args[0]["agent.poll_interval_s"] == 2.0
    assert agent.config.poll_interval_s == 2.0
    assert not page.message.isVisibleTo(page)


def test_notification_and_protection_settings_are_offered(page: SettingsPage, agent: Agent) -> None:
    severity = widget(page, "notifications.min_severity")
    assert isinstance(severity, QComboBox)
    severity.setCurrentIndex(severity.findData("critical"))
    severity.activated.emit(severity.currentIndex())
    assert agent.config.notifications_min_severity == "critical"
    action = widget(page, "protection.action")
    assert action.currentData() == "shutdown"
    command = widget(page, "protection.command")
    assert isinstance(command, QLineEdit)
    command.setText("/usr/local/bin/ups-down --now 'two words'")
    command.editingFinished.emit()
    assert agent.config.protection_command == ("/usr/local/bin/ups-down", "--now", "two words")
    enabled = widget(page, "notifications.enabled")
    assert isinstance(enabled, QCheckBox)
    enabled.setChecked(False)
    assert agent.config.notifications_enabled is False


def test_a_refused_value_is_explained_and_undone(page: SettingsPage, agent: Agent) -> None:
    devices = widget(page, "protection.devices")
    devices.setText("kitchen")
    devices.editingFinished.emit()
    assert page.message.text().startswith("Not saved: ")
    assert "protection.devices" in page.message.text()
    assert devices.text() == ""
    assert agent.config.protection_devices == ()


def test_locked_settings_are_disabled_with_their_source(page: SettingsPage) -> None:
    locked = widget(page, "agent.onbatt_debounce_s")
    assert not locked.isEnabled()
    assert POLICY_FILE in locked.toolTip()
    note = page.lock_note("agent.onbatt_debounce_s")
    assert note is not None
    assert not note.isHidden()
    assert note.text() == "Managed by your organization"
    assert POLICY_FILE in note.toolTip()
    free = widget(page, "agent.poll_interval_s")
    assert free.isEnabled()
    free_note = page.lock_note("agent.poll_interval_s")
    assert free_note is not None
    assert free_note.isHidden()


def test_discovery_offers_found_devices_and_saves_the_choice(
    qtbot: QtBot, bridge: Bridge, agent: Agent, paths: AppPaths, tmp_path: Path
) -> None:
    server = NutServer(tmp_path / "nut", "ups.status: OL\nbattery.charge: 100\n").start()
    try:
        address = ("127.0.0.1", server.port)
        page = SettingsPage(
            bridge,
            autostart=DesktopEntry(tmp_path / "xdg"),
            discover=lambda: ups_only(discover(nut_address=address)),
        )
        qtbot.add_widget(page)
        assert page.monitored.text() == "ups: sim://normal"
        page.find_button.click()
        qtbot.wait_until(lambda: page.found_text.text().startswith("Found"), timeout=10_000)
    finally:
        server.stop()
    spec = f"nut://127.0.0.1:{server.port}/myups"
    index = page.device_choice.findData(spec)
    assert index == 0
    assert page.device_choice.findData("sim://outage") > index
    page.device_choice.setCurrentIndex(index)
    page.use_button.click()
    assert agent.config.devices == (spec,)
    assert page.found_text.text() == f"Upsight will monitor {spec} from its next start."


def test_desktop_options_are_kept(qtbot: QtBot, page: SettingsPage, paths: AppPaths) -> None:
    with qtbot.wait_signal(page.preferences_changed, timeout=1000) as changed:
        page.minimized_box.setChecked(True)
    assert changed.args[0] == prefs.Preferences(start_minimized=True, close_to_tray=True)
    page.tray_box.setChecked(False)
    assert prefs.load(prefs.preferences_file(paths)) == prefs.Preferences(True, False)
    entry = paths.config_dir / "xdg" / "autostart" / "upsight.desktop"
    page.autostart_box.setChecked(True)
    assert "--minimized" in entry.read_text()
    page.autostart_box.setChecked(False)
    assert not entry.exists()


def test_a_desktop_entry_quotes_its_command(tmp_path: Path) -> None:
    entry = DesktopEntry(tmp_path)
    assert not entry.enabled()
    entry.enable(["/opt/my apps/python", "-m", "upsight.gui.app", "100%"])
    lines = entry.path.read_text().splitlines()
    assert 'Exec="/opt/my apps/python" -m upsight.gui.app 100%%' in lines
    assert "[Desktop Entry]" in lines
    assert entry.enabled()


def test_a_launch_agent_runs_the_command_at_login(tmp_path: Path) -> None:
    agent = LaunchAgent(tmp_path)
    agent.enable(["/usr/bin/python3", "-m", "upsight.gui.app"])
    plist = plistlib.loads(agent.path.read_bytes())
    assert plist["ProgramArguments"] == ["/usr/bin/python3", "-m", "upsight.gui.app"]
    assert plist["RunAtLoad"] is True
    agent.disable()
    assert not agent.enabled()


class FakeWinreg:
    """The part of Windows' winreg module the Run key uses, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def OpenKey(self, root: str, path: str, *_: int) -> FakeWinreg:  # noqa: N802
        return self

    CreateKey = OpenKey

    def __enter__(self) -> FakeWinreg:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def QueryValueEx(self, key: object, name: str) -> tuple[str, int]:  # noqa: N802
        if name not in self.values:
            raise FileNotFoundError(name)
        return self.values[name], self.REG_SZ

    def SetValueEx(self, key: object, name: str, _: int, kind: int, value: str) -> None:  # noqa: N802
        self.values[name] = value

    def DeleteValue(self, key: object, name: str) -> None:  # noqa: N802
        if name not in self.values:
            raise FileNotFoundError(name)
        del self.values[name]


def test_the_run_key_holds_a_quoted_command_line() -> None:
    registry = FakeWinreg()
    run = RunKey(registry)
    run.enable([r"C:\Program Files\Upsight\python.exe", "-m", "upsight.gui.app"])
    assert registry.values == {
        "Upsight": r'"C:\Program Files\Upsight\python.exe" -m upsight.gui.app'
    }
    assert run.enabled()
    run.disable()
    run.disable()
    assert not run.enabled()


def test_each_system_gets_its_mechanism(tmp_path: Path) -> None:
    linux = for_this_system("Linux", tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "conf")})
    assert isinstance(linux, DesktopEntry)
    assert linux.path == tmp_path / "conf" / "autostart" / "upsight.desktop"
    mac = for_this_system("Darwin", tmp_path, {})
    assert isinstance(mac, LaunchAgent)
    assert mac.path.parent == tmp_path / "Library" / "LaunchAgents"


def test_bad_preference_values_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "desktop.toml"
    path.write_text('start_minimized = "yes"\nclose_to_tray = false\n')
    assert prefs.load(path) == prefs.Preferences(start_minimized=False, close_to_tray=False)
    path.write_text("not toml [")
    assert prefs.load(path) == prefs.Preferences()
