"""The local API client used by GUIs and CLIs to talk to a running agent."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from upsight.agent.api import framing
from upsight.agent.api.errors import (
    AccessDenied,
    AgentNotRunning,
    ApiError,
    ApiUnavailable,
    BadRequest,
    UnknownMethod,
)
from upsight.agent.api.peer import peer_of

_ERRORS: Final[dict[str, type[ApiError]]] = {
    AccessDenied.code: AccessDenied,
    BadRequest.code: BadRequest,
    UnknownMethod.code: UnknownMethod,
}
_RECV_BYTES: Final = 65536
# A subscription waits for pushes indefinitely, but wakes this often to notice
# close() even if shutdown() did not interrupt the read.
_PUSH_POLL_S: Final = 1.0
_PROBE_TIMEOUT_S: Final = 1.0


class _ConnectionLost(Exception):
    """The agent closed the connection or reset it."""


class _Connection:
    """One socket with its line splitter; not thread-safe."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.sock = _connect(path, timeout_s)
        self.splitter = framing.LineSplitter()
        self.pending: list[bytes] = []
        self.used = False  # whether a request has completed on it

    def send(self, data: bytes, deadline: float) -> None:
        self.sock.settimeout(_remaining(deadline))
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ConnectionLost from exc

    def receive(self, deadline: float | None) -> framing.Reply | framing.Push:
        """Return the next message; with ``deadline`` None, wait in ``_PUSH_POLL_S`` steps.

        Raises:
            TimeoutError: Nothing complete arrived within the deadline or step.
            _ConnectionLost: The agent closed or reset the connection.
            ApiError: The agent sent an over-long or malformed line.
        """
        while not self.pending:
            self.sock.settimeout(_PUSH_POLL_S if deadline is None else _remaining(deadline))
            try:
                data = self.sock.recv(_RECV_BYTES)
            except ConnectionResetError as exc:
                raise _ConnectionLost from exc
            if not data:
                raise _ConnectionLost
            self.pending = self.splitter.feed(data)
            if self.splitter.overflowed:
                raise ApiError(f"the agent sent a line longer than {framing.MAX_LINE_BYTES} bytes")
        line = self.pending.pop(0)
        try:
            return framing.parse_incoming(framing.decode(line))
        except BadRequest as exc:
            raise ApiError(f"the agent sent a malformed line: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class ApiClient:
    """Talks to the agent at ``path``; safe to share between threads.

    Calls are serialised on one lazily opened connection, which is reopened
    after the agent closes it (e.g. for idleness). Each ``subscribe()`` opens a
    connection of its own.

    Example::

        with ApiClient(Path("/run/upsight/api.sock")) as api:
            print(api.call("status"))
            for kind, data in api.subscribe():
                ...
    """

    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        """Prepare a client; no connection is made until it is needed.

        Args:
            path: The agent's socket.
            timeout_s: How long a call, or setting up a subscription, may take.
        """
        self._path = path
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._next_id = 1
        # Re-entrant: a subscription generator finalised by the garbage
        # collector takes it from whatever this thread was doing.
        self._subs_lock = threading.RLock()
        self._subscriptions: set[_Connection] = set()
        self._closed = False

    @staticmethod
    def is_running(path: Path) -> bool:
        """Whether an agent accepts connections at ``path``.

        Args:
            path: The agent's socket.

        Returns:
            True if a connection succeeded, False otherwise (including on
            platforms without Unix-domain sockets).
        """
        try:
            sock = _connect(path, _PROBE_TIMEOUT_S)
        except ApiError:
            return False
        sock.close()
        return True

    def call(self, method: str, /, **params: Any) -> Any:
        """Call one agent method and return its result.

        Args:
            method: The method name, e.g. ``"config.get"``.
            **params: The method's parameters; must be JSON-serialisable.

        Returns:
            The method's result, as decoded from JSON.

        Raises:
            AccessDenied: This user may not call ``method``.
            BadRequest: The parameters were rejected (or could not be encoded).
            UnknownMethod: The agent has no such method.
            AgentNotRunning: No agent answers at the socket path.
            ApiUnavailable: This platform has no Unix-domain sockets.
            ApiError: The call failed or timed out; the message says why.
            ValueError: ``method`` is ``"subscribe"``; use ``subscribe()``.
        """
        if method == framing.SUBSCRIBE_METHOD:
            raise ValueError("use ApiClient.subscribe() to subscribe")
        with self._lock:
            if self._closed:
                raise ApiError("the client is closed")
            req_id = self._next_id
            self._next_id += 1
            line = framing.request(req_id, method, params)
            deadline = time.monotonic() + self._timeout_s
            try:
                return self._exchange(req_id, line, deadline)
            except TimeoutError as exc:
                self._drop_connection()
                raise ApiError(
                    f"the agent did not answer {method} within {self._timeout_s:g} s"
                ) from exc
            except ApiError:
                raise
            except OSError as exc:
                self._drop_connection()
                raise ApiError(f"{method}: connection to the agent failed: {exc}") from exc

    def _exchange(self, req_id: int, line: bytes, deadline: float) -> Any:
        conn = self._connection()
        try:
            conn.send(line, deadline)
        except _ConnectionLost:
            error = self._hang_up_error(conn, deadline)
            self._drop_connection()
            if not conn.used:
                raise error from None
            # The agent closed a reused connection (idle timeout, restart)
            # before our request reached it, so sending again is safe.
            conn = self._connection()
            try:
                conn.send(line, deadline)
            except _ConnectionLost:
                error = self._hang_up_error(conn, deadline)
                self._drop_connection()
                raise error from None
        try:
            reply = self._await_reply(conn, req_id, deadline)
        except _ConnectionLost:
            self._drop_connection()
            raise AgentNotRunning("the agent closed the connection before answering") from None
        except ApiError:
            self._drop_connection()
            raise
        if reply.id is None:
            # A connection-level error (e.g. too many clients): the agent hangs up.
            self._drop_connection()
        conn.used = True
        if reply.error is not None:
            code, message = reply.error
            raise _ERRORS.get(code, ApiError)(message)
        return reply.result

    @staticmethod
    def _hang_up_error(conn: _Connection, deadline: float) -> ApiError:
        """The error to raise when the agent hung up before taking a request.

        An agent that refuses a connection (e.g. too many clients) writes one
        error line before closing; it is still readable after the hang-up.
        """
        try:
            message = conn.receive(deadline)
        except (OSError, ApiError, _ConnectionLost):
            message = None
        if isinstance(message, framing.Reply) and message.id is None and message.error:
            code, text = message.error
            return _ERRORS.get(code, ApiError)(text)
        return AgentNotRunning("the agent closed the connection")

    def _await_reply(self, conn: _Connection, req_id: int, deadline: float) -> framing.Reply:
        while True:
            message = conn.receive(deadline)
            # Pushes cannot come on a call connection, and a reply with another
            # id belongs to nothing we are waiting for; skip both.
            if isinstance(message, framing.Reply) and message.id in (req_id, None):
                return message

    def _connection(self) -> _Connection:
        if self._conn is None:
            self._conn = _Connection(self._path, self._timeout_s)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def subscribe(self) -> Iterator[tuple[str, Any]]:
        """Subscribe to the agent's pushes on a new connection.

        The subscription is set up before this returns, so errors surface here
        rather than on the first iteration.

        Returns:
            An iterator of ``(kind, data)`` pushes, in the order the agent sent
            them. It ends when the agent closes the connection (on stop, or if
            this consumer fell too far behind) or when ``close()`` is called.

        Raises:
            AccessDenied, UnknownMethod, AgentNotRunning, ApiUnavailable,
            ApiError: As for ``call()``.
        """
        with self._lock:
            if self._closed:
                raise ApiError("the client is closed")
        conn = _Connection(self._path, self._timeout_s)
        # Send: {"id":1,"method":"subscribe","params":{}}
        # Recv: {"id":1,"result":{"subscribed":true}}, then {"push":...} lines
        deadline = time.monotonic() + self._timeout_s
        try:
            conn.send(framing.request(1, framing.SUBSCRIBE_METHOD, {}), deadline)
            reply = self._await_reply(conn, 1, deadline)
        except _ConnectionLost:
            error = self._hang_up_error(conn, deadline)
            conn.close()
            raise error from None
        except TimeoutError as exc:
            conn.close()
            raise ApiError(
                f"the agent did not answer subscribe within {self._timeout_s:g} s"
            ) from exc
        except BaseException:
            conn.close()
            raise
        if reply.error is not None:
            conn.close()
            code, message = reply.error
            raise _ERRORS.get(code, ApiError)(message)
        with self._subs_lock:
            self._subscriptions.add(conn)
        return self._pushes(conn)

    def _pushes(self, conn: _Connection) -> Iterator[tuple[str, Any]]:
        try:
            while not self._closed:
                try:
                    message = conn.receive(None)
                except TimeoutError:
                    continue
                except (_ConnectionLost, OSError):
                    return
                if isinstance(message, framing.Push):
                    yield message.kind, message.data
        finally:
            with self._subs_lock:
                self._subscriptions.discard(conn)
            conn.close()

    def close(self) -> None:
        """Close the call connection and end every subscription's iterator."""
        with self._lock:
            self._closed = True
            self._drop_connection()
        with self._subs_lock:
            # shutdown() wakes an iterator blocked in recv in another thread;
            # the iterator closes the socket itself.
            for conn in self._subscriptions:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    return remaining


def _connect(path: Path, timeout_s: float) -> socket.socket:
    """Open a connection to the agent's socket, mapping OS errors to ApiErrors."""
    if not hasattr(socket, "AF_UNIX"):
        raise ApiUnavailable(
            "the local API needs Unix-domain sockets, which this platform lacks "
            "(Windows named pipes are not supported yet)"
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        raise AgentNotRunning(f"no agent is running at {path}") from exc
    except TimeoutError as exc:
        sock.close()
        raise ApiError(f"the agent at {path} did not accept a connection in time") from exc
    except OSError as exc:
        sock.close()
        raise ApiError(f"cannot connect to the agent at {path}: {exc}") from exc
    _check_server(sock, path)
    return sock


def _check_server(sock: socket.socket, path: Path) -> None:
    """Refuse an agent run by another ordinary user: it could be an impostor on our path.

    Only root (a system service) or this user (personal mode) may serve us.
    """
    server = peer_of(sock)
    if server.uid not in {0, os.geteuid()}:
        sock.close()
        raise ApiError(
            f"refusing the agent at {path}: it runs as uid {server.uid}, neither root nor this user"
        )
