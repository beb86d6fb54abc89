"""Instant commands and the forced-shutdown latch through a running Agent and a real driver."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector import Collector
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import BadRequest
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import Link
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.agent.settings_policy import Locks
from upsight.drivers.errors import TransportError, UnsupportedCommand
from upsight.drivers.model import UpsFlag

DUMP = "ups.status: OL\nbattery.charge: 100\n#CMD:beeper.mute\n"


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "ups.dev"
    path.write_text(DUMP)
    return path


@pytest.fixture
def agent(tmp_path: Path, dump: Path) -> Iterator[Agent]:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    running = Agent(paths, Config(poll_interval_s=0.2), [f"dummy:{dump}"], serve_api=False)
    running.start()
    yield running
    running.stop()


def _wait_connected(agent: Agent, collector: Collector) -> None:
    assert collector.wait(lambda: agent.states()[0].link is Link.OK, 5)


def test_a_declared_command_runs_and_an_undeclared_one_is_refused(agent: Agent) -> None:
    collector = Collector()
    agent.subscribe(collector)
    _wait_connected(agent, collector)
    assert agent.device_names() == ["ups"]
    agent.run_command("ups", "beeper.mute")
    with pytest.raises(UnsupportedCommand, match=r"beeper\.enable"):
        agent.run_command("ups", "beeper.enable")
    with pytest.raises(KeyError, match="ups2"):
        agent.run_command("ups2", "beeper.mute")


def test_a_command_to_a_disconnected_device_says_so(agent: Agent, dump: Path) -> None:
    collector = Collector()
    agent.subscribe(collector)
    _wait_connected(agent, collector)
    dump.unlink()
    assert collector.wait(lambda: agent.states()[0].error is not None, 5)
    with pytest.raises(TransportError, match="not connected"):
        agent.run_command("ups", "beeper.mute")


def test_forced_shutdown_latches_on_every_later_reading(agent: Agent) -> None:
    collector = Collector()
    agent.subscribe(collector)
    _wait_connected(agent, collector)
    agent.force_shutdown("ups", "a test")
    agent.force_shutdown("ups", "a test")
    assert collector.wait(lambda: EventKind.FSD in collector.kinds(), 5)
    seen = len(collector.messages)
    assert collector.wait(lambda: len(collector.messages) > seen + 2, 5)
    reading = agent.states()[0].reading
    assert reading is not None
    assert UpsFlag.FSD in reading.status
    assert UpsFlag.OL in reading.status
    fsd_events = [m for m in collector.messages if isinstance(m, Event) and m.kind is EventKind.FSD]
    assert len(fsd_events) == 1
    assert fsd_events[0].data["ups.status"] == "FSD OL"


def test_the_local_api_runs_commands_and_reports_locks(tmp_path: Path) -> None:
    dump = tmp_path / "ups.dev"
    dump.write_text(DUMP)
    # A short root: socket paths have a small length limit.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-cmd-"))
    paths = AppPaths(root / "config", root / "data", root / "run")
    locks = Locks({"agent.poll_interval_s": "/etc/upsight/policies/managed/site.json"})
    running = Agent(paths, Config(poll_interval_s=0.2), [f"dummy:{dump}"], locks=locks)
    running.start()
    client = ApiClient(paths.api_socket)
    try:
        collector = Collector()
        running.subscribe(collector)
        _wait_connected(running, collector)
        assert client.call("command", device="ups", name="beeper.mute") is None
        with pytest.raises(BadRequest, match=r"beeper\.enable"):
            client.call("command", device="ups", name="beeper.enable")
        with pytest.raises(BadRequest, match="ups9"):
            client.call("command", device="ups9", name="beeper.mute")
        assert client.call("config.locks") == dict(locks.sources)
    finally:
        client.close()
        running.stop()
        shutil.rmtree(root, ignore_errors=True)
