"""The local API server: routes JSON-line requests from a Unix socket to the agent.

One accept thread plus one thread per client, all daemons. Idle threads block
without timeouts, so a quiet agent costs no wake-ups; ``stop()`` wakes each one
explicitly (shutting sockets down, a marker in push queues). No TCP port is
ever opened: the channel is an ``AF_UNIX`` socket whose peer
credentials (``peer.py``) authenticate each client, and each route's ``Access``
decides what that user may do.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import queue
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from upsight.agent.api import framing
from upsight.agent.api.errors import (
    AccessDenied,
    ApiError,
    ApiUnavailable,
    BadRequest,
    UnknownMethod,
)
from upsight.agent.api.peer import Peer, peer_of
from upsight.drivers.errors import UpsError

log = logging.getLogger(__name__)

Sink = Callable[[str, Any], None]
"""Receives ``(kind, data)`` pushes; ``data`` must be JSON-serialisable."""

Subscribe = Callable[[Sink], Callable[[], None]]
"""Registers a sink with the agent and returns the function that unregisters it."""

# Back-off after a failing accept() (e.g. EMFILE), so the loop does not spin.
_ACCEPT_RETRY_S: Final = 0.2
# A client that cannot take a reply or a batch of pushes within this long is
# not reading; it is dropped rather than allowed to hold its thread.
_SEND_TIMEOUT_S: Final = 1.0
_RECV_BYTES: Final = 65536
# Pushes sent in one write; batching keeps syscalls down under bursts.
_PUSH_BATCH: Final = 64

IDLE_TIMEOUT_S: Final = 300.0
"""Connections without a subscription are closed after this much silence."""

PUSH_QUEUE_SIZE: Final = 1000
"""Pushes buffered per subscriber before a slow subscriber is dropped."""


class Access(enum.Enum):
    """Who may call a route."""

    READ = "read"  # any local user
    WRITE = "write"  # the agent's owner or root


@dataclass(frozen=True)
class Route:
    """One method the agent offers.

    Attributes:
        access: Who may call it.
        handler: Called with the request's params from the client's thread;
            returns a JSON-serialisable result. ``ValueError``, ``KeyError``,
            ``TypeError`` and ``UpsError`` are reported as ``bad-request``; ``ApiError``
            subclasses as their own code; anything else as ``failed``.
    """

    access: Access
    handler: Callable[[Mapping[str, Any]], Any]


def call_route(route: Route, method: str, params: Mapping[str, Any]) -> Any:
    """Run a route's handler, turning every failure into an ApiError for the caller.

    Bad parameters and the project's own errors become BadRequest; anything
    unexpected is logged with its traceback and reported without internals.
    """
    try:
        return route.handler(params)
    except ApiError:
        raise
    except KeyError as exc:
        raise BadRequest(f"{method}: missing or unknown parameter {exc}") from exc
    except (ValueError, TypeError, UpsError) as exc:
        # UpsError (a refused setting, a command the device lacks) already says what is wrong.
        raise BadRequest(f"{method}: {exc}") from exc
    except Exception as exc:
        log.exception("local API: %s failed", method)
        raise ApiError(f"{method} failed") from exc


class _Subscription:
    """A subscriber's bounded queue plus a pipe that wakes its client thread.

    ``sink`` is safe to call from any thread. The client thread waits on the
    pipe and on its socket at once, so it sees pushes and a hang-up alike
    without polling.
    """

    def __init__(self, size: int) -> None:
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=size)
        self.overflowed = False
        self.unsubscribe: Callable[[], None] | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._signalled = False
        self._closed = False
        # The bus may still call sink() after unsubscribing; the lock keeps a
        # late wake() from writing to a closed (and maybe reused) descriptor.
        self._lock = threading.Lock()

    def sink(self, kind: str, data: Any) -> None:
        # Called from agent threads: must never block, so a full queue marks
        # the subscriber for dropping instead of waiting for it.
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((kind, data))
        except queue.Full:
            self.overflowed = True
        self.wake()

    def wake(self) -> None:
        # One byte per batch is enough: the reader empties the whole queue.
        if self._signalled:
            return
        with self._lock:
            if self._closed or self._signalled:
                return
            self._signalled = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"!")

    def fileno(self) -> int:
        return self._wake_r

    def take(self, limit: int) -> list[tuple[str, Any]]:
        """Up to ``limit`` queued pushes; re-arms the wake-up first so none is missed.

        Order matters: drain the pipe, then clear the flag, then read the queue. A
        push after the clear writes a fresh byte; one before it is in the queue.
        Clearing first could drain a byte written after the clear and leave the
        flag set with an empty pipe, and the thread would never wake again.
        """
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)
        self._signalled = False
        items: list[tuple[str, Any]] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                return items
        self.wake()  # more are waiting: come back for them
        return items

    def close(self) -> None:
        with self._lock:
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)


class _Drop(Exception):
    """Ends a client's session; the message says why, logged at ``level``."""

    def __init__(self, reason: str, level: int = logging.DEBUG) -> None:
        super().__init__(reason)
        self.level = level


class ApiServer:
    """Serves the agent's routes on a Unix-domain socket.

    Example::

        routes = {"status": Route(Access.READ, lambda params: agent.status())}
        with ApiServer(Path("/run/upsight/api.sock"), routes, subscribe=bus.subscribe):
            ...

    Requests on one connection are handled in order, on that connection's
    thread; a slow handler delays only its own client.
    """

    def __init__(
        self,
        path: Path,
        routes: Mapping[str, Route],
        subscribe: Subscribe | None = None,
        owner_uid: int | None = None,
        max_clients: int = 32,
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        push_queue_size: int = PUSH_QUEUE_SIZE,
    ) -> None:
        """Prepare a server; nothing touches the file system until ``start()``.

        Args:
            path: Where to create the socket.
            routes: Method name to route. ``subscribe`` is reserved.
            subscribe: The agent's subscription hook; without it the
                ``subscribe`` method is unknown.
            owner_uid: The uid allowed WRITE routes besides root; defaults to
                the server process's effective uid.
            max_clients: Connections served at once; extra ones are refused.
            idle_timeout_s: Silence after which a connection without a
                subscription is closed.
            push_queue_size: Pushes buffered per subscriber before it is dropped.

        Raises:
            ValueError: A route is named ``subscribe`` or a limit is not positive.
        """
        if framing.SUBSCRIBE_METHOD in routes:
            raise ValueError(f"the method name {framing.SUBSCRIBE_METHOD!r} is reserved")
        if max_clients < 1 or push_queue_size < 1 or idle_timeout_s <= 0:
            raise ValueError("max_clients, push_queue_size and idle_timeout_s must be positive")
        self._path = path
        self._routes = dict(routes)
        self._subscribe = subscribe
        self._owner_uid = owner_uid
        self._max_clients = max_clients
        self._idle_timeout_s = idle_timeout_s
        self._push_queue_size = push_queue_size
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _clients and closing of client sockets
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._inode: int | None = None
        self._serial = 0

    @property
    def path(self) -> Path:
        """Where the socket lives."""
        return self._path

    def start(self) -> None:
        """Create the socket and start serving in background threads.

        Raises:
            ApiUnavailable: The platform has no Unix-domain sockets.
            ApiError: An agent is already listening at the path, the path is
                something other than a socket, or binding failed.
            RuntimeError: The server was already started.
        """
        if self._listener is not None or self._stopping.is_set():
            raise RuntimeError("an ApiServer can only be started once")
        if not hasattr(socket, "AF_UNIX"):
            raise ApiUnavailable(
                "the local API needs Unix-domain sockets, which this platform lacks "
                "(Windows named pipes are not supported yet)"
            )
        if self._owner_uid is None:
            self._owner_uid = os.geteuid()
        self._make_parent()
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self._path))
            # Any local user may connect; each request is authorised by uid.
            os.chmod(self._path, 0o666)
            listener.listen(self._max_clients)
            self._inode = os.stat(self._path).st_ino
        except OSError as exc:
            listener.close()
            raise ApiError(f"cannot listen at {self._path}: {exc}") from exc
        self._listener = listener
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="upsight-api-accept", daemon=True
        )
        self._accept_thread.start()
        log.info("local API listening at %s", self._path)

    def stop(self) -> None:
        """Close the listener and every client, and remove the socket file.

        Unsubscribes every subscriber. Safe to call more than once, or before
        ``start()``.
        """
        self._stopping.set()
        deadline = time.monotonic() + 1.5
        if self._accept_thread is not None:
            self._wake_accept()
            self._accept_thread.join(timeout=1.0)
        with self._lock:
            for conn in self._clients:
                # shutdown() wakes a thread blocked in recv/send on it at once;
                # the thread itself closes the socket.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            threads = list(self._clients.values())
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._remove_own_socket()

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- socket file -------------------------------------------------------

    def _make_parent(self) -> None:
        parent = self._path.parent
        if parent.is_dir():
            return
        try:
            parent.mkdir(mode=0o755, parents=True)
            # mkdir's mode is filtered by the umask; clients of other users
            # must be able to reach the socket, so set it explicitly.
            os.chmod(parent, 0o755)
        except FileExistsError:
            pass  # another process created it in between
        except OSError as exc:
            raise ApiError(f"cannot create {parent}: {exc}") from exc

    def _remove_stale_socket(self) -> None:
        try:
            mode = os.lstat(self._path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ApiError(f"{self._path} exists and is not a socket; not replacing it")
        if _is_listening(self._path):
            raise ApiError(f"an agent is already running at {self._path}")
        log.info("removing stale socket %s", self._path)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def _remove_own_socket(self) -> None:
        # Only unlink the file this server bound: a newer agent may have
        # replaced it after we stopped listening.
        try:
            if self._inode is not None and os.lstat(self._path).st_ino == self._inode:
                self._path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("could not remove %s", self._path)
        self._inode = None

    # --- accepting ---------------------------------------------------------

    def _wake_accept(self) -> None:
        # Linux ends a blocked accept() on shutdown(); elsewhere a connection does.
        listener = self._listener
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as poke:
            poke.settimeout(0.2)
            poke.connect(str(self._path))

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    if self._stopping.is_set():
                        break
                    log.exception("local API accept failed")
                    time.sleep(_ACCEPT_RETRY_S)
                    continue
                if self._stopping.is_set():
                    conn.close()
                    break
                self._admit(conn)
        finally:
            listener.close()

    def _admit(self, conn: socket.socket) -> None:
        try:
            peer = peer_of(conn)
        except (OSError, ApiError):
            log.exception("local API: cannot read peer credentials; closing connection")
            conn.close()
            return
        with self._lock:
            full = len(self._clients) >= self._max_clients
            if not full:
                self._serial += 1
                thread = threading.Thread(
                    target=self._serve,
                    args=(conn, peer),
                    name=f"upsight-api-client-{self._serial}",
                    daemon=True,
                )
                self._clients[conn] = thread
        if full:
            log.warning(
                "local API: refusing uid %d (pid %s): %d clients already connected",
                peer.uid,
                peer.pid,
                self._max_clients,
            )
            # Recv: {"id":null,"error":{"code":"failed","message":"too many clients ..."}}
            line = framing.error(None, "failed", f"too many clients (max {self._max_clients})")
            conn.settimeout(_SEND_TIMEOUT_S)
            with contextlib.suppress(OSError):
                conn.sendall(line)
            conn.close()
            return
        log.debug("local API: uid %d (pid %s) connected", peer.uid, peer.pid)
        thread.start()

    # --- one client --------------------------------------------------------

    def _serve(self, conn: socket.socket, peer: Peer) -> None:
        splitter = framing.LineSplitter()
        session = _Session(conn, peer)
        try:
            while not self._stopping.is_set():
                data = self._wait_for_input(session)
                if data is None:
                    continue
                if not data:
                    raise _Drop("client closed the connection")
                session.last_input = time.monotonic()
                for line in splitter.feed(data):
                    self._send(conn, self._reply_to(line, session))
                if splitter.overflowed:
                    self._send(
                        conn,
                        framing.error(
                            None,
                            BadRequest.code,
                            f"line longer than {framing.MAX_LINE_BYTES} bytes; closing",
                        ),
                    )
                    raise _Drop("over-long line", logging.WARNING)
        except _Drop as drop:
            log.log(drop.level, "local API: closing uid %d (pid %s): %s", peer.uid, peer.pid, drop)
        except OSError as exc:
            log.debug("local API: uid %d (pid %s) connection lost: %s", peer.uid, peer.pid, exc)
        except Exception:
            log.exception("local API: client thread failed")
        finally:
            self._end_session(session)

    def _wait_for_input(self, session: _Session) -> bytes | None:
        """Return received bytes (b"" at EOF) or None when there is nothing yet.

        While subscribed, the thread waits on the socket and the push queue's
        wake pipe together, so pushes go out as soon as they arrive and a
        hang-up is seen at once. Otherwise the wait is a blocking recv that ends
        with data, EOF, the idle deadline, or stop() shutting the socket down.
        """
        conn = session.conn
        sub = session.subscription
        if sub is not None:
            ready = {key.fileobj for key, _ in session.waiter(sub).select()}
            if sub in ready:
                self._forward_pushes(session, sub)
            if conn not in ready:
                return None
            conn.settimeout(0.0)
            try:
                return conn.recv(_RECV_BYTES)
            except BlockingIOError:
                return None
        idle_left = self._idle_timeout_s - (time.monotonic() - session.last_input)
        if idle_left <= 0:
            raise _Drop("idle")
        conn.settimeout(idle_left)
        try:
            return conn.recv(_RECV_BYTES)
        except TimeoutError:
            return None

    def _forward_pushes(self, session: _Session, sub: _Subscription) -> None:
        if sub.overflowed:
            raise _Drop(
                f"subscriber fell more than {self._push_queue_size} pushes behind",
                logging.WARNING,
            )
        items = sub.take(_PUSH_BATCH)
        lines = []
        for kind, data in items:
            try:
                lines.append(framing.push(kind, data))
            except BadRequest:
                log.exception("local API: push %r cannot be sent; skipped", kind)
        if lines:
            self._send(session.conn, b"".join(lines))

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.settimeout(_SEND_TIMEOUT_S)
        try:
            conn.sendall(data)
        except TimeoutError as exc:
            # Part of a line may have gone out: the stream is out of step.
            raise _Drop(
                f"client took nothing for {_SEND_TIMEOUT_S:g} s; not reading", logging.WARNING
            ) from exc

    def _end_session(self, session: _Session) -> None:
        sub = session.subscription
        if sub is not None and sub.unsubscribe is not None:
            try:
                sub.unsubscribe()
            except Exception:
                log.exception("local API: unsubscribe failed")
        session.close_waiter()
        with self._lock:
            self._clients.pop(session.conn, None)
            session.conn.close()

    # --- requests ----------------------------------------------------------

    def _reply_to(self, line: bytes, session: _Session) -> bytes:
        req_id: int | None = None
        try:
            obj = framing.decode(line)
            req_id = framing.request_id(obj)
            request = framing.parse_request(obj)
            value = self._dispatch(request, session)
        except ApiError as exc:
            code = exc.code if exc.code in framing.WIRE_CODES else ApiError.code
            return framing.error(req_id, code, str(exc) or code)
        assert req_id is not None  # parse_request succeeded
        try:
            return framing.result(req_id, value)
        except BadRequest:
            log.exception("local API: result of %s cannot be sent", request.method)
            return framing.error(req_id, ApiError.code, f"{request.method} failed")

    def _dispatch(self, request: framing.Request, session: _Session) -> Any:
        """Authorise and run one request; every failure comes out as an ApiError."""
        method = request.method
        if method == framing.SUBSCRIBE_METHOD and self._subscribe is not None:
            access = Access.READ
        elif method in self._routes:
            access = self._routes[method].access
        else:
            raise UnknownMethod(f"unknown method {method!r}")
        if not self.allows(access, session.peer):
            log.warning(
                "local API: denied %s to uid %d (pid %s)",
                method,
                session.peer.uid,
                session.peer.pid,
            )
            raise AccessDenied(f"{method} is not allowed for uid {session.peer.uid}")
        if method == framing.SUBSCRIBE_METHOD:
            return self._start_subscription(session)
        return call_route(self._routes[method], method, request.params)

    def allows(self, access: Access, peer: Peer) -> bool:
        """Whether ``peer`` may call a route with ``access``.

        READ is open to every local user; WRITE to the owner uid and root.
        """
        return access is Access.READ or peer.uid in (0, self._owner_uid)

    def _start_subscription(self, session: _Session) -> dict[str, bool]:
        if session.subscription is not None:
            raise BadRequest("this connection is already subscribed")
        assert self._subscribe is not None
        sub = _Subscription(self._push_queue_size)
        try:
            sub.unsubscribe = self._subscribe(sub.sink)
        except Exception as exc:
            log.exception("local API: subscribe failed")
            raise ApiError("subscribe failed") from exc
        # Pushes queued from now on go out after this reply, on this thread.
        session.subscription = sub
        return {"subscribed": True}


class _Session:
    """Per-connection state, owned by that connection's thread."""

    def __init__(self, conn: socket.socket, peer: Peer) -> None:
        self.conn = conn
        self.peer = peer
        self.subscription: _Subscription | None = None
        self.last_input = time.monotonic()
        self._selector: selectors.BaseSelector | None = None

    def waiter(self, sub: _Subscription) -> selectors.BaseSelector:
        """A selector over the socket and the subscription's wake pipe, made once."""
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._selector.register(self.conn, selectors.EVENT_READ)
            self._selector.register(sub, selectors.EVENT_READ)
        return self._selector

    def close_waiter(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self.subscription is not None:
            self.subscription.close()


def _is_listening(path: Path) -> bool:
    """Whether some process accepts connections on the socket at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except TimeoutError:
        return True  # a full backlog: someone is listening but busy
    except OSError as exc:
        raise ApiError(f"cannot tell whether an agent is running at {path}: {exc}") from exc
    finally:
        probe.close()
    return True
