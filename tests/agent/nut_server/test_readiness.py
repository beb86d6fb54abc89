"""Both readiness implementations report what selectors would, for the events asked."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator

import pytest

from upsight.agent.nut_server import readiness as r

Factory = Callable[[], r.Readiness[str]]
IMPLEMENTATIONS: list[Factory] = [r.SelectorReadiness]
if sys.platform == "linux":
    IMPLEMENTATIONS.append(r.EpollReadiness)


@pytest.fixture(params=IMPLEMENTATIONS)
def watcher(request: pytest.FixtureRequest) -> Iterator[r.Readiness[str]]:
    made: r.Readiness[str] = request.param()
    yield made
    made.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_reads_and_writes_are_reported_as_registered(
    watcher: r.Readiness[str], pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    watcher.register(ours, r.READ, "client")
    assert watcher.wait(0) == []
    theirs.send(b"GET VAR ups ups.status\n")
    assert watcher.wait(1.0) == [("client", r.READ)]
    watcher.modify(ours, r.READ | r.WRITE, "again")
    assert watcher.wait(1.0) == [("again", r.READ | r.WRITE)]
    watcher.modify(ours, r.WRITE, "writer")
    assert watcher.wait(1.0) == [("writer", r.WRITE)]
    watcher.unregister(ours)
    assert watcher.wait(0) == []


def test_a_hang_up_wakes_only_the_events_asked_for(
    watcher: r.Readiness[str], pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    watcher.register(ours, r.READ, "client")
    theirs.close()
    assert watcher.wait(1.0) == [("client", r.READ)]
    assert ours.recv(10) == b""


def test_several_sockets_each_come_back_with_their_data(watcher: r.Readiness[str]) -> None:
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for number, (ours, _) in enumerate(pairs):
            watcher.register(ours, r.READ, f"client {number}")
        for _, theirs in pairs[1:]:
            theirs.send(b"x")
        assert sorted(watcher.wait(1.0)) == [("client 1", r.READ), ("client 2", r.READ)]
    finally:
        for ours, theirs in pairs:
            ours.close()
            theirs.close()


def test_the_system_gets_its_best_implementation() -> None:
    made: r.Readiness[str] = r.readiness()
    try:
        expected = r.EpollReadiness if sys.platform == "linux" else r.SelectorReadiness
        assert isinstance(made, expected)
    finally:
        made.close()
