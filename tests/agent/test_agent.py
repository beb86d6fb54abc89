"""The whole agent: simulated outage end to end, history, and the local API with access control."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from upsight.agent import config as config_file
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import AccessDenied
from upsight.agent.bus import Message
from upsight.agent.codec import state_from_json
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import Link
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent

K = EventKind


@pytest.fixture
def paths() -> Iterator[AppPaths]:
    # Not pytest's tmp_path: its parent is private to root, and one test connects as nobody.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-agent-"))
    root.chmod(0o755)
    yield AppPaths(root / "config", root / "data", root / "run")
    shutil.rmtree(root, ignore_errors=True)


def test_simulated_outage_end_to_end(paths: AppPaths) -> None:
    agent = Agent(paths, Config(poll_interval_s=0.2), ["sim://outage?speed=100"])
    seen: list[EventKind] = []
    online = threading.Event()

    def collect(message: Message) -> None:
        if isinstance(message, Event):
            seen.append(message.kind)
            if message.kind is K.ONLINE:
                online.set()

    agent.subscribe(collect)
    agent.start()
    try:
        assert online.wait(30), f"no ONLINE after the outage; saw {seen}"
        states = agent.states()
    finally:
        agent.stop()
    assert seen[:3] == [K.ONBATT, K.LOWBATT, K.ONLINE]
    assert states[0].link is Link.OK
    assert states[0].info is not None
    assert states[0].info.simulated
    store = HistoryStore(paths.history_db)
    try:
        recorded = [e.kind for e in store.events(device="ups")]
        assert recorded[:3] == [K.ONBATT, K.LOWBATT, K.ONLINE]
        assert "battery.charge" in store.variables("ups")
    finally:
        store.close()


def _as_nobody(socket: str, results: multiprocessing.Queue[tuple[str, str]]) -> None:
    os.setgid(65534)
    os.setuid(65534)
    with ApiClient(Path(socket)) as client:
        results.put(("status", str(len(client.call("status")["devices"]))))
        try:
            client.call("config.set", key="agent.poll_interval_s", value=5)
            results.put(("config.set", "allowed"))
        except AccessDenied as exc:
            results.put(("config.set", f"denied: {exc}"))


def test_local_api_serves_status_and_guards_changes(paths: AppPaths) -> None:
    agent = Agent(paths, Config(poll_interval_s=0.2), ["sim://normal"])
    agent.start()
    try:
        with ApiClient(paths.api_socket) as client:
            state = state_from_json(client.call("status")["devices"][0])
            assert state.device == "ups"
            assert state.spec == "sim://normal"
            table = client.call("config.set", key="agent.poll_interval_s", value=0.5)
            assert table["agent.poll_interval_s"] == 0.5
        assert config_file.load(paths.config_file).config.poll_interval_s == 0.5
        assert agent.config.poll_interval_s == 0.5
        if os.geteuid() != 0:
            pytest.skip("switching to another user needs root")
        paths.runtime_dir.chmod(0o755)
        results: multiprocessing.Queue[tuple[str, str]] = multiprocessing.get_context(
            "fork"
        ).Queue()
        child = multiprocessing.get_context("fork").Process(
            target=_as_nobody, args=(str(paths.api_socket), results)
        )
        child.start()
        child.join(20)
        assert child.exitcode == 0
        got = dict(results.get(timeout=5) for _ in range(2))
        assert got["status"] == "1"
        assert got["config.set"].startswith("denied")
        assert "config.set" in got["config.set"]
        assert agent.config.poll_interval_s == 0.5, "the denied change did not apply"
    finally:
        agent.stop()
    assert not paths.api_socket.exists()
