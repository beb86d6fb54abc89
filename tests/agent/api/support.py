"""Test doubles and helpers for the local API tests: a fake bus, routes, raw sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from upsight.agent.api.errors import AccessDenied
from upsight.agent.api.server import Access, Route, Sink


class FakeBus:
    """Stands in for the agent's publish/subscribe hub."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sinks: list[Sink] = []
        self.unsubscribed = 0

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        with self._lock:
            self.sinks.append(sink)

        def unsubscribe() -> None:
            with self._lock:
                self.sinks.remove(sink)
                self.unsubscribed += 1

        return unsubscribe

    def publish(self, kind: str, data: Any) -> None:
        with self._lock:
            sinks = list(self.sinks)
        for sink in sinks:
            sink(kind, data)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _crash(params: Mapping[str, Any]) -> Any:
    raise RuntimeError("secret internal detail")


def _needs_int(params: Mapping[str, Any]) -> int:
    return int(params["n"]) * 2


def _slow(params: Mapping[str, Any]) -> str:
    time.sleep(float(params.get("s", 1.0)))
    return "done"


def _refuse(params: Mapping[str, Any]) -> Any:
    raise AccessDenied("only on Tuesdays")


ROUTES: dict[str, Route] = {
    "echo": Route(Access.READ, dict),
    "status": Route(Access.READ, lambda params: {"ok": True}),
    "config.set": Route(Access.WRITE, lambda params: {"saved": params.get("key")}),
    "crash": Route(Access.READ, _crash),
    "double": Route(Access.READ, _needs_int),
    "unserialisable": Route(Access.READ, lambda params: object()),
    "slow": Route(Access.READ, _slow),
    "refuse": Route(Access.READ, _refuse),
}


def raw_connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(3.0)
    sock.connect(str(path))
    return sock


def read_line(sock: socket.socket) -> dict[str, Any]:
    """Read one JSON line from a raw socket (byte by byte: tests only)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError(f"connection closed after {bytes(buf)!r}")
        buf += chunk
    obj = json.loads(buf)
    assert isinstance(obj, dict)
    return obj


def read_until_eof(sock: socket.socket) -> bytes:
    """Read everything until the peer closes (raises TimeoutError if it never does)."""
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)
