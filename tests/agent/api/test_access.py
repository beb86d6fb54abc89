"""Access control with a real second user: a forked child drops to ``nobody``."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import ApiError
from upsight.agent.api.server import ApiServer

NOBODY = 65534

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="switching to another user (setuid) needs root"
)


def _calls_as_nobody(reply_to: Connection, path: Path, methods: list[str]) -> None:
    # Runs in the forked child: from here on this process is another user.
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        outcomes: list[str] = [str(os.geteuid())]
        with ApiClient(path) as client:
            for method in methods:
                try:
                    client.call(method, key="poll_s")
                    outcomes.append("ok")
                except ApiError as exc:
                    outcomes.append(f"{type(exc).__name__}: {exc}")
        reply_to.send(outcomes)
    except BaseException as exc:
        reply_to.send([f"child failed: {exc!r}"])


def run_as_nobody(path: Path, methods: list[str]) -> list[str]:
    """Call ``methods`` as user nobody; return the child's uid then one outcome per method."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_calls_as_nobody, args=(sender, path, methods))
    child.start()
    sender.close()
    try:
        assert receiver.poll(15.0), "the child did not answer"
        outcomes: list[str] = receiver.recv()
    finally:
        child.join(timeout=5.0)
        if child.is_alive():
            child.kill()
    return outcomes


@needs_root
def test_other_user_may_read_but_not_write(
    make_server: Callable[..., ApiServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server()  # owned by root, the test's user
    with caplog.at_level(logging.WARNING, logger="upsight.agent.api.server"):
        outcomes = run_as_nobody(server.path, ["status", "config.set"])
    assert outcomes == [
        str(NOBODY),
        "ok",
        f"AccessDenied: config.set is not allowed for uid {NOBODY}",
    ]
    denials = [r.getMessage() for r in caplog.records if "denied config.set" in r.getMessage()]
    assert len(denials) == 1
    assert f"uid {NOBODY}" in denials[0]
    assert "pid None" not in denials[0]  # the kernel reported the child's pid
    # Root may still write.
    with ApiClient(server.path) as client:
        assert client.call("config.set", key="poll_s") == {"saved": "poll_s"}


@needs_root
def test_owner_uid_may_write(make_server: Callable[..., ApiServer]) -> None:
    server = make_server(owner_uid=NOBODY)
    assert run_as_nobody(server.path, ["config.set"]) == [str(NOBODY), "ok"]


@needs_root
def test_client_refuses_an_agent_run_by_another_ordinary_user() -> None:
    directory = Path(tempfile.mkdtemp(dir="/tmp"))
    directory.chmod(0o777)
    path = directory / "impostor.sock"
    ready = multiprocessing.get_context("fork").Event()

    def impostor() -> None:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(path))
            listener.listen(1)
            ready.set()
            conn, _ = listener.accept()
            conn.recv(100)
            conn.close()

    child = multiprocessing.get_context("fork").Process(target=impostor)
    child.start()
    try:
        assert ready.wait(10)
        with pytest.raises(ApiError, match="runs as uid 65534, neither root nor this user"):
            ApiClient(path).call("status")
    finally:
        child.join(10)
        shutil.rmtree(directory, ignore_errors=True)
