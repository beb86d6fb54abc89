"""Tests of peer credentials over a real Unix socket pair."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from upsight.agent.api.errors import ApiUnavailable
from upsight.agent.api.peer import Peer, peer_of


@pytest.mark.skipif(sys.platform != "linux", reason="SO_PEERCRED is Linux-only")
def test_peer_is_this_process() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_of(left) == Peer(pid=os.getpid(), uid=os.geteuid(), gid=os.getegid())


def test_unsupported_platform_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right, pytest.raises(ApiUnavailable, match="win32"):
        peer_of(left)
