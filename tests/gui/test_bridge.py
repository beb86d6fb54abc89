"""The bridge: the same signals and calls from an in-process agent and from a running service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import AgentNotRunning, BadRequest, UnknownMethod
from upsight.agent.codec import state_from_json
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge


def _agent(paths: AppPaths, spec: str, *, serve_api: bool = False) -> Agent:
    return Agent(paths, Config(poll_interval_s=0.1), [spec], serve_api=serve_api)


@pytest.fixture
def personal(qtbot: QtBot, paths: AppPaths) -> Iterator[Bridge]:
    agent = _agent(paths, "sim://outage?speed=100")
    bridge = Bridge.in_process(agent)
    agent.start()
    yield bridge
    bridge.close()
    agent.stop()


def _has_reading(state: DeviceState) -> bool:
    return state.reading is not None


def test_personal_states_arrive_on_the_gui_thread(qtbot: QtBot, personal: Bridge) -> None:
    threads: list[QThread] = []
    personal.state_changed.connect(lambda _: threads.append(QThread.currentThread()))
    with qtbot.wait_signal(personal.state_changed, check_params_cb=_has_reading, timeout=10_000):
        pass
    app = QApplication.instance()
    assert app is not None
    assert threads
    assert all(t is app.thread() for t in threads)
    [state] = personal.states()
    assert state.device == "ups"
    assert state.link is Link.OK
    assert personal.personal
    assert personal.connected


def test_personal_events_are_frozen_events(qtbot: QtBot, personal: Bridge) -> None:
    with qtbot.wait_signal(
        personal.event_raised,
        check_params_cb=lambda e: isinstance(e, Event) and e.kind is EventKind.ONBATT,
        timeout=20_000,
    ) as blocker:
        pass
    [event] = blocker.args
    assert event.device == "ups"
    assert event.message.startswith("On battery")


def test_personal_calls_return_what_the_api_returns(qtbot: QtBot, personal: Bridge) -> None:
    qtbot.wait_until(lambda: any(s.reading for s in personal.states()), timeout=10_000)
    status = personal.call("status")
    [state] = [state_from_json(s) for s in status["devices"]]
    assert state.spec == "sim://outage?speed=100"
    assert personal.call("devices") == [{"name": "ups", "spec": "sim://outage?speed=100"}]
    assert personal.call("config.get")["agent.poll_interval_s"] == 0.1
    table = personal.call("config.set", key="agent.poll_interval_s", value=0.5)
    assert table["agent.poll_interval_s"] == 0.5


def test_personal_call_errors_match_the_api(qtbot: QtBot, personal: Bridge) -> None:
    with pytest.raises(UnknownMethod):
        personal.call("no.such.method")
    with pytest.raises(BadRequest, match="device"):
        personal.call("history", var="battery.charge", since=0, until=1)


def test_service_mode_follows_the_agent_and_reconnects(qtbot: QtBot, paths: AppPaths) -> None:
    agent = _agent(paths, "sim://normal?speed=10", serve_api=True)
    agent.start()
    bridge = Bridge.over_api(ApiClient(paths.api_socket), paths)
    try:
        with qtbot.wait_signal(bridge.link_changed, timeout=10_000) as linked:
            pass
        assert linked.args == [True, "Connected to the Upsight service"]
        assert not bridge.personal
        with qtbot.wait_signal(bridge.state_changed, check_params_cb=_has_reading, timeout=10_000):
            pass
        assert bridge.states()[0].info is not None
        assert bridge.call("devices") == [{"name": "ups", "spec": "sim://normal?speed=10"}]

        with qtbot.wait_signal(bridge.link_changed, timeout=10_000) as lost:
            agent.stop()
        assert lost.args == [False, "Lost the connection to the service; retrying"]
        assert not bridge.connected

        agent = _agent(paths, "sim://normal?speed=10", serve_api=True)
        with qtbot.wait_signal(bridge.link_changed, timeout=15_000) as back:
            agent.start()
        assert back.args[0] is True
    finally:
        bridge.close()
        agent.stop()


def test_a_starting_bridge_follows_the_agent_once_attached(qtbot: QtBot, paths: AppPaths) -> None:
    bridge = Bridge.starting(paths)
    assert bridge.personal
    assert not bridge.connected
    assert bridge.states() == []
    with pytest.raises(AgentNotRunning, match="still starting"):
        bridge.call("status")
    agent = _agent(paths, "sim://normal?speed=10")
    try:
        with qtbot.wait_signal(bridge.link_changed, timeout=1000) as linked:
            bridge.attach(agent)
        assert linked.args == [True, "Monitoring in this app"]
        assert [s.device for s in bridge.states()] == ["ups"]
        agent.start()
        qtbot.wait_until(lambda: bridge.states()[0].reading is not None, timeout=5000)
        assert bridge.call("devices") == [{"name": "ups", "spec": "sim://normal?speed=10"}]
        with pytest.raises(ValueError, match="already"):
            bridge.attach(agent)
    finally:
        bridge.close()
        agent.stop()
