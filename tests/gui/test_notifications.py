"""Notifications through a private D-Bus session with a small notification server on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.fakes import FakeClock
from tests.gui.dumps import ON_BATTERY, ON_LINE, write_dump
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.notifications import DBusSink, Notifier

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Shown:
    replaces_id: int
    summary: str
    body: str
    hints: dict[str, Any]
    expire_ms: int
    new_id: int


class NotificationServer:
    """tests/gui/notification_server.py in its own process, and what it was asked to show."""

    def __init__(self, bus_address: str) -> None:
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus_address, QT_QPA_PLATFORM="offscreen")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.notification_server"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.shown: list[Shown] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            data = json.loads(line)
            self.shown.append(
                Shown(
                    data["replaces_id"],
                    data["summary"],
                    data["body"],
                    data["hints"],
                    data["expire_ms"],
                    data["new_id"],
                )
            )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def bus_address() -> Iterator[str]:
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--print-address", "--nofork", "--nopidfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    yield address
    daemon.terminate()
    daemon.wait(10)


@pytest.fixture
def server(bus_address: str) -> Iterator[NotificationServer]:
    running = NotificationServer(bus_address)
    yield running
    running.stop()


@pytest.fixture
def bridge(qtbot: QtBot, paths: AppPaths, dump: Path) -> Iterator[Bridge]:
    agent = Agent(paths, Config(poll_interval_s=0.1), [f"dummy:{dump}"], serve_api=False)
    bridge = Bridge.in_process(agent)
    agent.start()
    qtbot.wait_until(lambda: bridge.states()[0].reading is not None, timeout=5000)
    yield bridge
    bridge.close()
    agent.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier(
    bridge: Bridge, bus_address: str, server: NotificationServer, clock: FakeClock
) -> Iterator[Notifier]:
    notifier = Notifier(bridge, DBusSink(bus_address), clock=clock)
    yield notifier
    notifier.close()


def event(kind: EventKind, message: str = "", device: str = "ups") -> Event:
    return Event(1_700_000_000.0, device, kind, message or kind.value)


def wait_shown(qtbot: QtBot, server: NotificationServer, count: int) -> list[Shown]:
    qtbot.wait_until(lambda: len(server.shown) >= count, timeout=5000)
    return server.shown


def test_the_service_is_found_only_while_it_runs(
    qtbot: QtBot, bus_address: str, server: NotificationServer
) -> None:
    assert DBusSink.available(bus_address)
    server.stop()
    # The bus drops the name once the server process is gone; a loaded machine is slow.
    qtbot.wait_until(lambda: not DBusSink.available(bus_address), timeout=20000)


def test_power_restored_replaces_power_lost_end_to_end(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer, dump: Path
) -> None:
    write_dump(dump, ON_BATTERY)
    [lost] = wait_shown(qtbot, server, 1)
    assert lost.replaces_id == 0
    assert lost.summary == "Power lost: on battery"
    assert lost.body == "On battery: 87 %, about 14 min left\nUPS (ups)"
    assert lost.hints["urgency"] == 1
    write_dump(dump, ON_LINE)
    restored = wait_shown(qtbot, server, 2)[1]
    assert restored.summary == "Power restored"
    assert restored.replaces_id == lost.new_id


def test_one_notification_per_situation_and_device(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer
) -> None:
    notifier.on_event_raised(event(EventKind.ONBATT))
    notifier.on_event_raised(event(EventKind.LOWBATT))
    notifier.on_event_raised(event(EventKind.COMMBAD))
    notifier.on_event_raised(event(EventKind.ONBATT, device="ups2"))
    onbatt, lowbatt, commbad, other = wait_shown(qtbot, server, 4)
    assert lowbatt.replaces_id == onbatt.new_id
    assert lowbatt.hints["urgency"] == 2
    assert lowbatt.expire_ms == 0
    assert commbad.replaces_id == 0
    assert other.replaces_id == 0
    assert len({onbatt.new_id, commbad.new_id, other.new_id}) == 3


def test_kinds_not_worth_a_notification_are_not_shown(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer
) -> None:
    notifier.on_event_raised(event(EventKind.CHARGING))
    notifier.on_event_raised(event(EventKind.CHARGED))
    notifier.on_event_raised(event(EventKind.OVERLOAD, "Overload: load 115 %"))
    [shown] = wait_shown(qtbot, server, 1)
    assert shown.summary == "Overload"
    assert shown.body.startswith("Overload: load 115 %\n")


def test_min_severity_holds_back_lesser_events_but_not_their_resolution(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer
) -> None:
    notifier.apply_config({"notifications.min_severity": "warning"})
    notifier.on_event_raised(event(EventKind.COMMOK))
    notifier.on_event_raised(event(EventKind.ONBATT))
    notifier.on_event_raised(event(EventKind.ONLINE))
    notifier.on_event_raised(event(EventKind.ONLINE))
    lost, restored = wait_shown(qtbot, server, 2)
    assert (lost.summary, restored.summary) == ("Power lost: on battery", "Power restored")
    notifier.on_event_raised(event(EventKind.REPLBATT))
    assert wait_shown(qtbot, server, 3)[2].summary == "Replace battery"


def test_disabled_notifications_show_nothing(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer
) -> None:
    notifier.apply_config({"notifications.enabled": False})
    notifier.on_event_raised(event(EventKind.LOWBATT))
    notifier.apply_config({"notifications.enabled": True})
    notifier.on_event_raised(event(EventKind.REPLBATT))
    [shown] = wait_shown(qtbot, server, 1)
    assert shown.summary == "Replace battery"


def test_a_pause_holds_back_all_but_critical_for_an_hour(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer, clock: FakeClock
) -> None:
    notifier.pause()
    paused_at_first = notifier.paused
    notifier.on_event_raised(event(EventKind.ONBATT))
    notifier.on_event_raised(event(EventKind.LOWBATT))
    [critical] = wait_shown(qtbot, server, 1)
    assert critical.summary == "Low battery"
    clock.advance(3601)
    assert (paused_at_first, notifier.paused) == (True, False)
    notifier.on_event_raised(event(EventKind.COMMBAD))
    assert wait_shown(qtbot, server, 2)[1].summary == "Communication lost"


def test_a_shutdown_is_one_notification_from_scheduled_to_cancelled(
    qtbot: QtBot, notifier: Notifier, server: NotificationServer
) -> None:
    notifier.on_event_raised(event(EventKind.SHUTDOWN_SCHEDULED, "Shutting down in 60 s"))
    notifier.on_event_raised(event(EventKind.SHUTDOWN_POSTPONED, "Shutting down in 360 s"))
    notifier.on_event_raised(event(EventKind.SHUTDOWN_CANCELLED, "Shutdown cancelled"))
    scheduled, postponed, cancelled = wait_shown(qtbot, server, 3)
    assert scheduled.summary == "Shutdown scheduled"
    assert scheduled.hints["urgency"] == 2
    assert postponed.replaces_id == scheduled.new_id
    assert cancelled.replaces_id == scheduled.new_id
    assert cancelled.summary == "Shutdown cancelled"
