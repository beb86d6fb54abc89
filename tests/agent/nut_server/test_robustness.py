"""The NUT server under abuse: garbage, floods, silence and too many clients never stop it.

Each test ends by checking that an ordinary client is still answered.
"""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.agent.nut_server.serving import (
    ADMIN,
    LineClient,
    serving_agent,
    wait_until,
)
from upsight.agent.nut_server.agent_backend import AgentBackend
from upsight.agent.nut_server.server import NutServer
from upsight.agent.service import Agent

STATUS = 'VAR ups ups.status "OL"'


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    with serving_agent(tmp_path, listen=False) as served:
        yield served


@contextmanager
def nut_server(
    agent: Agent, *, idle_timeout_s: float = 60.0, max_clients: int = 32
) -> Iterator[NutServer]:
    server = NutServer(
        AgentBackend(agent),
        agent.paths.nut_users_file,
        "127.0.0.1",
        0,
        idle_timeout_s=idle_timeout_s,
        max_clients=max_clients,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _still_serves(server: NutServer) -> None:
    with LineClient(server.address) as client:
        assert client.request("GET VAR ups ups.status") == STATUS


def _closed(sock: socket.socket, quiet_s: float = 5.0) -> bool:
    """Read until the server closes (True) or stays quiet for ``quiet_s`` (False)."""
    sock.settimeout(quiet_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_garbage_and_binary_get_error_replies(agent: Agent) -> None:
    noise = random.Random(7)
    with nut_server(agent) as server, LineClient(server.address) as client:
        for _ in range(20):
            junk = bytes(noise.randrange(256) for _ in range(noise.randrange(1, 200)))
            client.send(junk.replace(b"\n", b"") + b"\n")
            assert client.line().startswith("ERR "), junk
        assert client.request("GET VAR ups\x00 ups.status") == "ERR INVALID-ARGUMENT"
        assert client.request("\x00") == "ERR INVALID-ARGUMENT"
        assert client.request("HELLO world") == "ERR UNKNOWN-COMMAND"
        assert client.request("GET VAR ups ups.status") == STATUS
        _still_serves(server)


def test_a_100_kb_line_is_refused_and_the_client_dropped(agent: Agent) -> None:
    with nut_server(agent) as server:
        flood = socket.create_connection(server.address)
        # The server may hang up before it has read everything.
        with contextlib.suppress(OSError):
            flood.sendall(b"GET VAR ups " + b"x" * 100_000 + b"\n")
        assert _closed(flood)
        flood.close()
        assert wait_until(lambda: server.client_count() == 0)
        _still_serves(server)


def test_too_long_line_is_answered_before_hanging_up(agent: Agent) -> None:
    with nut_server(agent) as server, LineClient(server.address) as client:
        assert client.request("GET VAR ups " + "x" * 2000) == "ERR TOO-LONG"
        assert client.line() == ""
        _still_serves(server)


def test_half_lines_wait_for_their_end_and_are_dropped_at_close(agent: Agent) -> None:
    with nut_server(agent) as server:
        with LineClient(server.address) as split:
            split.send(b"GET VAR ups ")
            split.send(b"ups.status\r\n")
            assert split.line() == STATUS
        half = socket.create_connection(server.address)
        half.sendall(b"GET VAR ups ups.stat")
        half.shutdown(socket.SHUT_WR)
        assert _closed(half)
        half.close()
        assert wait_until(lambda: server.client_count() == 0)
        _still_serves(server)


def test_a_client_that_closes_mid_line_leaves_no_trace(agent: Agent) -> None:
    with nut_server(agent) as server:
        for _ in range(10):
            sock = socket.create_connection(server.address)
            sock.sendall(b"LIST VAR u")
            sock.close()
        assert wait_until(lambda: server.client_count() == 0)
        _still_serves(server)


def test_200_pipelined_requests_are_answered_in_order(agent: Agent) -> None:
    asks = [
        ("GET VAR ups battery.charge", 'VAR ups battery.charge "100"'),
        ("GET VAR ups ups.load", 'VAR ups ups.load "15"'),
        ("GET VAR ups no.such.var", "ERR VAR-NOT-SUPPORTED"),
        ("GET VAR ups ups.status", STATUS),
    ]
    requests = [asks[i % len(asks)] for i in range(200)]
    # Credentials and a command in the middle: the command runs on a worker, and
    # the requests behind it must still be answered after it.
    requests[100:100] = [
        (f"USERNAME {ADMIN.name}", "OK"),
        (f"PASSWORD {ADMIN.password}", "OK"),
        ("INSTCMD ups beeper.mute", "OK"),
    ]
    with nut_server(agent) as server, LineClient(server.address) as client:
        client.send(b"".join(line.encode() + b"\n" for line, _ in requests))
        replies = [client.line() for _ in requests]
        assert replies == [reply for _, reply in requests]
        _still_serves(server)


def test_a_client_that_never_reads_does_not_hold_up_others(agent: Agent) -> None:
    with nut_server(agent, idle_timeout_s=2.0) as server:
        hog = socket.socket()
        # A small window, so that the server soon has replies it cannot deliver.
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(server.address)
        hog.settimeout(10)

        def flood() -> None:
            # Stops when the server stops reading it, then when it is dropped.
            try:
                for _ in range(200):
                    hog.sendall(b"LIST VAR ups\n" * 100)
            except OSError:
                return

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        with LineClient(server.address, timeout_s=5) as other:
            for _ in range(20):
                assert other.request("GET VAR ups ups.status") == STATUS
                assert len(other.listing("LIST VAR ups")) == 10
        # Silent for the idle timeout (it neither sends nor reads): dropped.
        assert wait_until(lambda: server.client_count() == 0, 20)
        sender.join(15)
        hog.close()
        _still_serves(server)


def test_clients_beyond_the_limit_are_refused(agent: Agent) -> None:
    with nut_server(agent, max_clients=3) as server:
        served = [LineClient(server.address) for _ in range(3)]
        try:
            for client in served:
                assert client.request("GET VAR ups ups.status") == STATUS
            with LineClient(server.address) as extra:
                assert extra.request("STARTTLS") == "ERR FEATURE-NOT-CONFIGURED"
                assert extra.request("GET VAR ups ups.status") == "ERR ACCESS-DENIED"
                assert extra.line() == ""
            host, port = server.address
            upsc = subprocess.run(
                ["upsc", f"ups@{host}:{port}"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            assert upsc.returncode != 0
            assert "Access denied" in upsc.stderr
            assert server.client_count() == 3
            served.pop().close()
            assert wait_until(lambda: server.client_count() == 2)
            _still_serves(server)
        finally:
            for client in served:
                client.close()


def test_a_flood_of_connections_is_shed(agent: Agent) -> None:
    with nut_server(agent, max_clients=2) as server:
        socks = [socket.create_connection(server.address) for _ in range(30)]
        try:
            # Two served, two more waiting for their refusal; the rest closed at once.
            assert wait_until(lambda: server.client_count() == 2)
            closed = sum(_closed(sock, quiet_s=0.5) for sock in socks)
            assert closed == 26
        finally:
            for sock in socks:
                sock.close()
        assert wait_until(lambda: server.client_count() == 0)
        _still_serves(server)


def test_idle_clients_are_disconnected(agent: Agent) -> None:
    with nut_server(agent, idle_timeout_s=0.5) as server:
        silent = socket.create_connection(server.address)
        with LineClient(server.address) as busy:
            # Requests keep a client alive well past the timeout.
            for _ in range(15):
                assert busy.request("GET VAR ups ups.status") == STATUS
                time.sleep(0.1)
            assert _closed(silent)
            silent.close()
            assert busy.request("GET VAR ups ups.status") == STATUS
        _still_serves(server)


def test_a_failing_backend_drops_one_client_only(agent: Agent) -> None:
    class Broken(AgentBackend):
        def description(self, ups: str) -> str:
            raise RuntimeError("bug")

    server = NutServer(Broken(agent), agent.paths.nut_users_file, "127.0.0.1", 0)
    server.start()
    try:
        with LineClient(server.address) as unlucky:
            assert unlucky.request("LIST UPS") == ""
        _still_serves(server)
    finally:
        server.stop()


def test_upsc_still_works_after_the_abuse(agent: Agent) -> None:
    with nut_server(agent) as server:
        for junk in (b"\xff\xfe\x00\n", b"LIST\n" * 1000, b"x" * 5000):
            sock = socket.create_connection(server.address)
            sock.sendall(junk)
            sock.close()
        host, port = server.address
        result = subprocess.run(
            ["upsc", f"ups@{host}:{port}", "ups.status"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.stdout == "OL\n"
