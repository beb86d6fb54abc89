"""Tests of the local API client, against the real server and a scripted fake one."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.agent.api.support import FakeBus, wait_until
from upsight.agent.api import framing
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import AgentNotRunning, ApiError, BadRequest
from upsight.agent.api.server import ApiServer


@contextlib.contextmanager
def fake_agent(path: Path, answer: bytes) -> Iterator[None]:
    """Accept one connection, read one line, send ``answer`` raw, then hang up."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(5.0)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5.0)
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=5.0)
        listener.close()


def test_absent_socket_means_not_running(sock_path: Path) -> None:
    assert not ApiClient.is_running(sock_path)
    with ApiClient(sock_path) as client, pytest.raises(AgentNotRunning, match="no agent"):
        client.call("status")
    with ApiClient(sock_path) as client, pytest.raises(AgentNotRunning):
        client.subscribe()


def test_refusing_socket_means_not_running(sock_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()
    with ApiClient(sock_path) as client, pytest.raises(AgentNotRunning):
        client.call("status")


def test_is_running_with_a_server(server: ApiServer) -> None:
    assert ApiClient.is_running(server.path)


def test_over_long_reply_raises(sock_path: Path) -> None:
    answer = b'{"id": 1, "result": "' + b"x" * framing.MAX_LINE_BYTES + b'"}\n'
    with (
        fake_agent(sock_path, answer),
        ApiClient(sock_path) as client,
        pytest.raises(ApiError, match="longer than"),
    ):
        client.call("status")


def test_malformed_reply_raises(sock_path: Path) -> None:
    with (
        fake_agent(sock_path, b"<html>\n"),
        ApiClient(sock_path) as client,
        pytest.raises(ApiError, match="malformed"),
    ):
        client.call("status")


def test_hang_up_before_reply_is_not_running(sock_path: Path) -> None:
    with (
        fake_agent(sock_path, b""),
        ApiClient(sock_path) as client,
        pytest.raises(AgentNotRunning, match="before answering"),
    ):
        client.call("status")


def test_unknown_error_code_becomes_api_error(sock_path: Path) -> None:
    answer = b'{"id": 1, "error": {"code": "teapot", "message": "short and stout"}}\n'
    with (
        fake_agent(sock_path, answer),
        ApiClient(sock_path) as client,
        pytest.raises(ApiError, match="short and stout") as caught,
    ):
        client.call("status")
    assert type(caught.value) is ApiError


def test_timeout_then_recovery(server: ApiServer) -> None:
    with ApiClient(server.path, timeout_s=0.2) as client:
        started = time.monotonic()
        with pytest.raises(ApiError, match=r"did not answer slow within 0\.2 s"):
            client.call("slow", s=1.0)
        assert time.monotonic() - started < 0.6
        # The late reply went to the dropped connection, not to this call.
        assert client.call("echo", n=1) == {"n": 1}


def test_unencodable_params_are_bad_request(server: ApiServer) -> None:
    with ApiClient(server.path) as client, pytest.raises(BadRequest, match="serialisable"):
        client.call("echo", value=object())


def test_call_refuses_subscribe(server: ApiServer) -> None:
    with ApiClient(server.path) as client, pytest.raises(ValueError, match=r"subscribe\(\)"):
        client.call("subscribe")


def test_closed_client_refuses_calls(server: ApiServer) -> None:
    client = ApiClient(server.path)
    client.close()
    with pytest.raises(ApiError, match="closed"):
        client.call("status")


def test_close_ends_a_subscription_blocked_in_another_thread(
    server: ApiServer, bus: FakeBus
) -> None:
    client = ApiClient(server.path)
    pushes = client.subscribe()
    received: list[tuple[str, object]] = []
    thread = threading.Thread(target=lambda: received.extend(pushes), daemon=True)
    thread.start()
    assert wait_until(lambda: len(bus.sinks) == 1)
    bus.publish("event", 1)
    assert wait_until(lambda: received == [("event", 1)])
    client.close()
    thread.join(timeout=2.0)
    assert not thread.is_alive()
    assert wait_until(lambda: bus.unsubscribed == 1)


def test_breaking_out_of_a_subscription_unsubscribes(server: ApiServer, bus: FakeBus) -> None:
    with ApiClient(server.path) as client:
        pushes = client.subscribe()
        assert wait_until(lambda: len(bus.sinks) == 1)
        bus.publish("event", 1)
        for kind, _ in pushes:
            assert kind == "event"
            break
        del pushes  # closing the generator closes its connection
        assert wait_until(lambda: bus.unsubscribed == 1)
        # The call connection is unaffected.
        assert client.call("status") == {"ok": True}


def test_threads_share_one_client(server: ApiServer) -> None:
    results: dict[int, object] = {}
    with ApiClient(server.path) as client:

        def work(n: int) -> None:
            for i in range(50):
                results[n * 100 + i] = client.call("echo", v=n * 100 + i)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10.0)
    assert len(results) == 200
    assert all(value == {"v": key} for key, value in results.items())


def test_subscribe_beyond_max_clients_reports_the_reason(
    make_server: Callable[..., ApiServer],
) -> None:
    server = make_server(max_clients=1)
    with ApiClient(server.path) as holder, ApiClient(server.path) as other:
        assert holder.call("status") == {"ok": True}
        with pytest.raises(ApiError, match="too many clients"):
            other.subscribe()
