"""The entry point: service or personal mode, the simulator offer, and a clean quit."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_LINE, write_dump
from upsight.agent.config import Config
from upsight.agent.monitor import Link
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.app import build_agent, build_parser, plan_personal, start


@pytest.fixture
def user_dirs(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    monkeypatch.setenv("UPSIGHT_CONFIG_DIR", str(paths.config_dir))
    monkeypatch.setenv("UPSIGHT_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("UPSIGHT_RUNTIME_DIR", str(paths.runtime_dir))
    return paths


def test_the_command_line() -> None:
    args = build_parser().parse_args(["--device", "sim://normal", "--device", "x", "--minimized"])
    assert args.device == ["sim://normal", "x"]
    assert args.minimized


def test_the_plan_follows_the_command_line_then_the_config(paths: AppPaths) -> None:
    assert plan_personal(["dummy:/tmp/a.dev"], paths).devices == ("dummy:/tmp/a.dev",)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('version = 1\n[agent]\ndevices = ["sim://outage"]\n')
    plan = plan_personal([], paths)
    assert plan.devices == ("sim://outage",)
    agent = build_agent(plan)
    assert [s.spec for s in agent.states()] == ["sim://outage"]
    agent.stop()


def test_without_a_ups_the_simulator_is_offered(qtbot: QtBot, user_dirs: AppPaths) -> None:
    # This machine has no UPS, so discovery finds none and the question is asked.
    declined = start([], ask=lambda: False)
    qtbot.wait_until(lambda: declined.closed, timeout=10_000)
    assert declined.agent is None
    accepted = start([], ask=lambda: True)
    try:
        qtbot.wait_until(lambda: accepted.bridge.connected, timeout=10_000)
        assert [s.spec for s in accepted.bridge.states()] == ["sim://normal"]
        qtbot.wait_until(lambda: "Simulated UPS" in accepted.tray.icon.toolTip(), timeout=5000)
    finally:
        accepted.quit()


def test_personal_mode_runs_the_agent_in_the_app(
    qtbot: QtBot, user_dirs: AppPaths, tmp_path: Path
) -> None:
    dump = tmp_path / "ups.dev"
    write_dump(dump, ON_LINE)
    desktop = start(["--device", f"dummy:{dump}"], ask=lambda: False)
    try:
        assert desktop.bridge.personal
        assert desktop.window.isVisible()
        assert desktop.window.banner.text() == "Starting…"
        qtbot.wait_until(lambda: desktop.bridge.connected, timeout=10_000)
        assert desktop.window.banner.isHidden()
        qtbot.wait_until(lambda: desktop.bridge.states()[0].link is Link.OK, timeout=5000)
        assert "100 %" in desktop.tray.icon.toolTip()
    finally:
        desktop.quit()
    assert desktop.agent is not None
    assert not desktop.window.isVisible()


def test_a_running_service_is_used(qtbot: QtBot, user_dirs: AppPaths) -> None:
    service = Agent(user_dirs, Config(poll_interval_s=0.2), ["sim://normal"], serve_api=True)
    service.start()
    try:
        desktop = start(["--minimized"], ask=lambda: False)
        try:
            assert not desktop.bridge.personal
            assert desktop.agent is None
            # Offscreen there is no tray, so the window starts minimized instead of hidden.
            assert desktop.window.isMinimized()
            qtbot.wait_until(lambda: desktop.bridge.connected, timeout=10_000)
            qtbot.wait_until(lambda: "Simulated UPS" in desktop.tray.icon.toolTip(), timeout=5000)
        finally:
            desktop.quit()
    finally:
        service.stop()
