"""Tests of the local API server over real Unix sockets."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agent.api.support import (
    ROUTES,
    FakeBus,
    raw_connect,
    read_line,
    read_until_eof,
    wait_until,
)
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import (
    AccessDenied,
    ApiError,
    ApiUnavailable,
    BadRequest,
    UnknownMethod,
)
from upsight.agent.api.peer import Peer
from upsight.agent.api.server import Access, ApiServer, Route

MakeServer = Callable[..., ApiServer]


def test_calls_round_trip(server: ApiServer) -> None:
    with ApiClient(server.path) as client:
        assert client.call("status") == {"ok": True}
        assert client.call("echo", text="Zürich", n=3, items=[1, None]) == {
            "text": "Zürich",
            "n": 3,
            "items": [1, None],
        }
        assert client.call("double", n=21) == 42


def test_parameter_named_method_is_passed_through(server: ApiServer) -> None:
    with ApiClient(server.path) as client:
        assert client.call("echo", method="x") == {"method": "x"}


def test_raw_reply_echoes_the_request_id(server: ApiServer) -> None:
    with raw_connect(server.path) as sock:
        sock.sendall(b'{"id": 41, "method": "status"}\n')
        assert read_line(sock) == {"id": 41, "result": {"ok": True}}


def test_unknown_method(server: ApiServer) -> None:
    with ApiClient(server.path) as client, pytest.raises(UnknownMethod, match="'nope'"):
        client.call("nope")


def test_subscribe_is_unknown_without_a_hook(make_server: MakeServer) -> None:
    server = make_server(subscribe=None)
    with ApiClient(server.path) as client, pytest.raises(UnknownMethod, match="subscribe"):
        client.subscribe()


@pytest.mark.parametrize(
    ("params", "why"),
    [({}, "missing or unknown parameter 'n'"), ({"n": "many"}, "invalid literal")],
)
def test_bad_params_are_bad_request(server: ApiServer, params: dict[str, Any], why: str) -> None:
    with ApiClient(server.path) as client, pytest.raises(BadRequest, match=why):
        client.call("double", **params)


def test_handler_api_errors_keep_their_code_and_message(server: ApiServer) -> None:
    with ApiClient(server.path) as client, pytest.raises(AccessDenied, match="only on Tuesdays"):
        client.call("refuse")


def test_handler_crash_is_failed_without_details(
    server: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with ApiClient(server.path) as client:
        with pytest.raises(ApiError) as caught:
            client.call("crash")
        assert type(caught.value) is ApiError
        assert str(caught.value) == "crash failed"
        # The client still works afterwards.
        assert client.call("status") == {"ok": True}
    logged = [r for r in caplog.records if r.exc_info and r.levelno == logging.ERROR]
    assert logged, "the traceback must reach the agent's log"
    assert "secret internal detail" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_unserialisable_result_is_failed(server: ApiServer) -> None:
    with ApiClient(server.path) as client, pytest.raises(ApiError, match="unserialisable failed"):
        client.call("unserialisable")


def test_reserved_route_name_is_refused(sock_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        ApiServer(sock_path, {"subscribe": Route(Access.READ, lambda p: None)})


@pytest.mark.parametrize(
    ("line", "reply_id"),
    [
        (b"hello world\n", None),
        (b"{not json\n", None),
        (b"\xff\xfe\x00\x01binary\x80\n", None),
        (b"\n", None),
        (b"[1, 2, 3]\n", None),
        (b'{"id": "7", "method": "status"}\n', None),
        (b'{"id": 7, "method": 12}\n', 7),
        (b'{"id": 8, "method": "echo", "params": "x"}\n', 8),
    ],
)
def test_garbage_gets_bad_request_and_the_connection_lives_on(
    server: ApiServer, line: bytes, reply_id: int | None
) -> None:
    with raw_connect(server.path) as sock:
        sock.sendall(line)
        reply = read_line(sock)
        assert reply["id"] == reply_id
        assert reply["error"]["code"] == "bad-request"
        sock.sendall(b'{"id": 1, "method": "status"}\n')
        assert read_line(sock) == {"id": 1, "result": {"ok": True}}
    with ApiClient(server.path) as client:
        assert client.call("status") == {"ok": True}


def test_over_long_line_is_answered_then_closed(server: ApiServer) -> None:
    with raw_connect(server.path) as sock:
        # The server may hang up before taking all of it.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b'{"id": 1, "method": "echo", "params": {"x": "' + b"x" * (1 << 20))
        reply = read_line(sock)
        assert reply["id"] is None
        assert reply["error"]["code"] == "bad-request"
        assert "longer than" in reply["error"]["message"]
        assert read_until_eof(sock) == b""
    with ApiClient(server.path) as client:
        assert client.call("status") == {"ok": True}


def test_half_line_then_close_frees_the_slot(make_server: MakeServer) -> None:
    server = make_server(max_clients=1)
    with raw_connect(server.path) as sock:
        sock.sendall(b'{"id": 1, "meth')
    # With one slot, this only works once the half-line client is gone.
    with ApiClient(server.path) as client:
        assert wait_until(lambda: _succeeds(client))


def _succeeds(client: ApiClient) -> bool:
    try:
        return bool(client.call("status") == {"ok": True})
    except ApiError:
        return False


def test_extra_clients_are_refused(make_server: MakeServer) -> None:
    server = make_server(max_clients=2)
    first, second = ApiClient(server.path), ApiClient(server.path)
    with first, second, ApiClient(server.path) as third:
        assert first.call("status") == second.call("status") == {"ok": True}
        with pytest.raises(ApiError, match=r"too many clients \(max 2\)"):
            third.call("status")
        first.close()
        assert wait_until(lambda: _succeeds(third))


def test_idle_connection_is_closed(make_server: MakeServer) -> None:
    server = make_server(idle_timeout_s=0.3)
    with raw_connect(server.path) as sock:
        started = time.monotonic()
        assert read_until_eof(sock) == b""
        assert time.monotonic() - started >= 0.3


def test_client_reconnects_after_idle_close(make_server: MakeServer) -> None:
    server = make_server(idle_timeout_s=0.2)
    with ApiClient(server.path) as client:
        assert client.call("status") == {"ok": True}
        time.sleep(0.7)  # the server has closed the connection by now
        assert client.call("status") == {"ok": True}


def test_subscription_delivers_pushes_in_order(server: ApiServer, bus: FakeBus) -> None:
    client = ApiClient(server.path)
    pushes = client.subscribe()
    assert wait_until(lambda: len(bus.sinks) == 1)
    for n in range(200):
        bus.publish("reading" if n % 2 else "event", {"n": n})
    received = [next(pushes) for _ in range(200)]
    assert received == [("reading" if n % 2 else "event", {"n": n}) for n in range(200)]
    assert bus.unsubscribed == 0
    client.close()
    assert wait_until(lambda: bus.unsubscribed == 1)
    assert bus.sinks == []


def test_subscription_reply_comes_first(server: ApiServer, bus: FakeBus) -> None:
    with raw_connect(server.path) as sock:
        sock.sendall(b'{"id": 5, "method": "subscribe"}\n')
        assert read_line(sock) == {"id": 5, "result": {"subscribed": True}}
        assert wait_until(lambda: len(bus.sinks) == 1)
        bus.publish("event", "ONBATT")
        assert read_line(sock) == {"push": "event", "data": "ONBATT"}
        sock.sendall(b'{"id": 6, "method": "subscribe"}\n')
        assert read_line(sock)["error"]["code"] == "bad-request"
    assert wait_until(lambda: bus.unsubscribed == 1)


def test_unserialisable_push_is_skipped(server: ApiServer, bus: FakeBus) -> None:
    with ApiClient(server.path) as client:
        pushes = client.subscribe()
        assert wait_until(lambda: len(bus.sinks) == 1)
        bus.publish("bad", object())
        bus.publish("good", 1)
        assert next(pushes) == ("good", 1)


def test_slow_subscriber_is_dropped_without_delaying_others(
    server: ApiServer, bus: FakeBus, caplog: pytest.LogCaptureFixture
) -> None:
    count, pad = 3000, "x" * 1000
    slow = raw_connect(server.path)
    slow.sendall(b'{"id": 1, "method": "subscribe"}\n')
    assert read_line(slow)["result"] == {"subscribed": True}
    # From here on the slow subscriber never reads.
    client = ApiClient(server.path)
    pushes = client.subscribe()
    assert wait_until(lambda: len(bus.sinks) == 2)

    latencies_s: list[float] = []
    order: list[int] = []

    def consume() -> None:
        for _, data in pushes:
            latencies_s.append(time.monotonic() - data["t"])
            order.append(data["n"])
            if data["n"] == count - 1:
                return

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    slowest_publish_s = 0.0
    with caplog.at_level(logging.WARNING):
        for n in range(count):
            started = time.monotonic()
            bus.publish("tick", {"n": n, "t": started, "pad": pad})
            slowest_publish_s = max(slowest_publish_s, time.monotonic() - started)
            # A fast agent, paced only by the reading subscriber (never by the slow
            # one): keep it within half its queue so a loaded CI machine cannot
            # make the healthy subscriber overflow too.
            while n - len(order) > 500:
                time.sleep(0.001)
        consumer.join(timeout=10)
        assert order == list(range(count))
        # The slow subscriber blocks its own thread for up to 1 s; the other
        # subscriber must not see any of that.
        assert max(latencies_s) < 0.5
        assert slowest_publish_s < 0.05, "sink() must never block the agent"
        assert wait_until(lambda: bus.unsubscribed == 1)
    assert "behind" in caplog.text or "not reading" in caplog.text
    assert len(bus.sinks) == 1
    client.close()
    slow.close()


def test_stop_is_prompt_and_removes_the_socket(server: ApiServer, bus: FakeBus) -> None:
    caller = ApiClient(server.path)
    assert caller.call("status") == {"ok": True}
    half = raw_connect(server.path)
    half.sendall(b'{"id": 1, "me')
    subscriber = ApiClient(server.path)
    pushes = subscriber.subscribe()
    ended = threading.Event()

    def consume() -> None:
        for _ in pushes:
            pass
        ended.set()

    threading.Thread(target=consume, daemon=True).start()
    assert wait_until(lambda: len(bus.sinks) == 1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    assert not server.path.exists()
    assert ended.wait(2.0), "the subscription iterator must end when the agent stops"
    assert bus.unsubscribed == 1
    assert not ApiClient.is_running(server.path)
    half.close()
    caller.close()
    subscriber.close()


def test_stop_is_idempotent_and_safe_before_start(sock_path: Path) -> None:
    server = ApiServer(sock_path, ROUTES)
    server.stop()
    with pytest.raises(RuntimeError, match="once"):
        server.start()


def test_second_server_on_the_same_path_is_refused(
    make_server: MakeServer, sock_path: Path
) -> None:
    first = make_server()
    with pytest.raises(ApiError, match="already running at"):
        make_server()
    # The refused server did not disturb the first one.
    with ApiClient(first.path) as client:
        assert client.call("status") == {"ok": True}


def test_stale_socket_is_replaced(make_server: MakeServer, sock_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()  # leaves the file behind with nobody listening
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    assert not ApiClient.is_running(sock_path)
    server = make_server()
    with ApiClient(server.path) as client:
        assert client.call("status") == {"ok": True}


def test_non_socket_at_the_path_is_left_alone(make_server: MakeServer, sock_path: Path) -> None:
    sock_path.write_text("precious")
    with pytest.raises(ApiError, match="not a socket"):
        make_server()
    assert sock_path.read_text() == "precious"


def test_socket_and_parent_modes(make_server: MakeServer, sock_dir: Path) -> None:
    old_umask = os.umask(0o077)  # the directory mode must not depend on the umask
    try:
        server = make_server(path=sock_dir / "run" / "upsight" / "api.sock")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(server.path.parent).st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(server.path).st_mode) == 0o666


def test_no_unix_sockets_is_reported(sock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "AF_UNIX")
    with pytest.raises(ApiUnavailable, match="named pipes"):
        ApiServer(sock_path, ROUTES).start()
    with pytest.raises(ApiUnavailable):
        ApiClient(sock_path).call("status")
    assert not ApiClient.is_running(sock_path)


@pytest.mark.parametrize(
    ("access", "uid", "allowed"),
    [
        (Access.READ, 65534, True),
        (Access.READ, 1000, True),
        (Access.WRITE, 1000, True),  # the owner
        (Access.WRITE, 0, True),  # root
        (Access.WRITE, 65534, False),
        (Access.WRITE, 1001, False),
    ],
)
def test_authorisation_rule(sock_path: Path, access: Access, uid: int, allowed: bool) -> None:
    server = ApiServer(sock_path, ROUTES, owner_uid=1000)
    assert server.allows(access, Peer(pid=123, uid=uid, gid=uid)) is allowed


def test_default_owner_is_the_server_user(make_server: MakeServer) -> None:
    server = make_server()
    assert server.allows(Access.WRITE, Peer(pid=None, uid=os.geteuid(), gid=None))
    assert not server.allows(Access.WRITE, Peer(pid=None, uid=os.geteuid() + 12345, gid=None))


def test_write_route_for_the_owner_uid(make_server: MakeServer) -> None:
    server = make_server(owner_uid=os.geteuid())
    with ApiClient(server.path) as client:
        assert client.call("config.set", key="poll_s") == {"saved": "poll_s"}


def test_wake_ups_are_never_lost_between_producers_and_the_reader() -> None:
    # Regression: clearing the wake flag before draining the pipe could swallow a
    # wake-up, leaving pushes queued with nothing to wake the client thread.
    from upsight.agent.api.server import _Subscription

    producers, per_producer = 4, 5000
    sub = _Subscription(producers * per_producer)
    received = 0

    def produce() -> None:
        for n in range(per_producer):
            sub.sink("tick", n)

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for thread in threads:
        thread.start()
    with selectors.DefaultSelector() as selector:
        selector.register(sub, selectors.EVENT_READ)
        while received < producers * per_producer:
            assert selector.select(timeout=2.0), f"stuck after {received} pushes"
            received += len(sub.take(64))
    for thread in threads:
        thread.join()
    sub.close()
