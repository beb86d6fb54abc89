"""sd_notify over a real AF_UNIX datagram socket, by path and in the abstract namespace."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from upsight.agent.service_mode.notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def test_ready_sends_one_datagram_with_the_status(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert Notifier(path).ready("monitoring ups (sim://normal)")
    assert sock.recv(4096) == b"READY=1\nSTATUS=monitoring ups (sim://normal)"


def test_watchdog_and_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier(path)
    assert notifier.watchdog()
    assert notifier.stopping()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_a_status_never_starts_a_second_assignment(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    Notifier(path).ready("two\nlines\tand  tabs")
    assert sock.recv(4096) == b"READY=1\nSTATUS=two lines and tabs"


def test_abstract_namespace_socket() -> None:
    name = f"upsight-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier("@" + name).ready("up")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_outside_systemd_nothing_is_sent() -> None:
    assert not Notifier(None).ready("up")


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    assert not Notifier(str(tmp_path / "gone.sock")).watchdog()


def test_from_environ_reads_and_removes_the_variables() -> None:
    env = {
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid()),
        "HOME": "/root",
    }
    notifier = Notifier.from_environ(env)
    assert notifier == Notifier("/run/systemd/notify", 30.0)
    assert notifier.ping_interval_s == 15.0
    # Hooks the agent starts must not talk to systemd in its name.
    assert env == {"HOME": "/root"}


@pytest.mark.parametrize(
    "watchdog",
    [
        {},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},
    ],
)
def test_no_watchdog_unless_it_is_meant_for_this_process(watchdog: dict[str, str]) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@x", **watchdog})
    assert notifier.watchdog_s is None
    assert notifier.ping_interval_s is None
