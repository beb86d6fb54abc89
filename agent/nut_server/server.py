"""The NUT network server: serves a Backend to upsc, upscmd, upsrw, upsmon and other NUT clients.

One selector thread owns every socket: non-blocking I/O with per-client
input and output buffers. A thread per client would cost a stack and a
context switch per upsmon, Home Assistant and upsc connection; the selector
costs one thread however many clients come, and most NUT requests are small
and answered from snapshots in microseconds. Two kinds of request may take
longer: those that reach the device (INSTCMD, SET VAR, and asking which
variables are writable) wait up to the command timeout, and those that check a
password cost tens of milliseconds of scrypt. They run on a small worker pool;
the client's later requests wait for them, so its replies keep their order,
while other clients are served as usual.

Speed: most requests are the same few reads, repeated (upsmon polls
``ups.status``, Home Assistant and upsc list every variable). A reply the
session marks reusable is kept, encoded, under its request line until the
backend's data version changes, and given again, without asking the session,
to any client that may read. Replies are sent once per client at the end of
each loop turn, together, rather than between reads.

Fairness: each client gets at most ``LINES_PER_TURN`` requests per loop
turn, so a client that pipelines thousands of requests shares the thread
with the others instead of starving them. A client that stops reading gets
no more requests processed once ``HIGH_WATER_BYTES`` of replies wait for it,
is no longer read once ``INPUT_LIMIT_BYTES`` of its requests wait, and is
dropped by the idle timeout. TLS is not offered: STARTTLS is refused with
``ERR FEATURE-NOT-CONFIGURED`` by the session, and clients continue in plain text.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import ipaddress
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from upsight.agent import __version__
from upsight.agent.nut_server.backend import Backend, NutError, NutServerError
from upsight.agent.nut_server.commands import CREDENTIAL_VERBS, READ_VERBS, split_request
from upsight.agent.nut_server.logins import Logins
from upsight.agent.nut_server.readiness import READ, WRITE, Readiness, readiness
from upsight.agent.nut_server.session import PROTOCOL_VERSION, Reply, Session
from upsight.agent.nut_server.users import Users, UsersFileError
from upsight.agent.nut_server.wire import MAX_LINE_BYTES, decode_line

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 3493
DEFAULT_MAX_CLIENTS: Final = 32
# upsmon polls every 5 s and Home Assistant every 60 s; a minute of silence is
# far beyond either, and frees what a vanished client left behind.
DEFAULT_IDLE_TIMEOUT_S: Final = 60.0
# Requests one client may have answered per loop turn before the others get theirs.
LINES_PER_TURN: Final = 32
# Replies waiting for a client that does not read: past this, its requests wait too.
HIGH_WATER_BYTES: Final = 64 * 1024
# Requests waiting for their turn: past this, the client's socket is no longer read.
INPUT_LIMIT_BYTES: Final = max(64 * 1024, 2 * MAX_LINE_BYTES)
RECV_BYTES: Final = 64 * 1024
# A line longer than this (its CR LF allowed for) is never buffered whole.
LINE_LIMIT_BYTES: Final = MAX_LINE_BYTES + 1
# Requests run on the worker pool: those that may wait on the device (a command,
# a write, asking the driver which variables are writable) and those that check
# a password (scrypt costs tens of milliseconds by design). Anything else is
# answered from snapshots.
DEVICE_REQUESTS: Final[frozenset[tuple[str, ...]]] = frozenset(
    {(verb,) for verb in CREDENTIAL_VERBS}
    | {("LIST", "RW"), ("LIST", "ENUM"), ("LIST", "RANGE"), ("GET", "TYPE")}
)
READ_REQUESTS: Final[frozenset[tuple[str, ...]]] = frozenset((verb,) for verb in READ_VERBS)
# First reply lines after which a session still has not checked its login.
_UNCHECKED: Final = frozenset(
    (f"ERR {code}",)
    for code in (NutError.USERNAME_REQUIRED, NutError.PASSWORD_REQUIRED, NutError.INVALID_ARGUMENT)
)
COMMAND_WORKERS: Final = 4
# After accept() fails (out of file descriptors), wait before trying again
# rather than spin on a listener that stays readable.
ACCEPT_PAUSE_S: Final = 1.0
# After an unexpected error in the loop itself, so that a repeating one cannot spin.
ERROR_PAUSE_S: Final = 0.1
# Refused connections are logged at most this often.
REFUSAL_LOG_INTERVAL_S: Final = 60.0
# Replies kept for reuse (see Reply.reusable): upsmon, Home Assistant and upsc
# repeat a few lines; the bound is for a client that asks for many different ones.
MAX_REUSED_REPLIES: Final = 256
SERVER_VERSION: Final = f"Upsight {__version__} - NUT protocol {PROTOCOL_VERSION}"
TOO_LONG: Final = f"ERR {NutError.TOO_LONG}\n".encode()
REFUSED: Final = f"ERR {NutError.ACCESS_DENIED}\n".encode()


def parse_listen(text: str) -> tuple[str, int]:
    """Split a listen address, ``"127.0.0.1:3493"`` or ``"[::1]:3493"``, into host and port.

    Raises:
        ValueError: not an IP address literal and a port from 1 to 65535.
    """
    host, colon, port_text = text.rpartition(":")
    if not colon or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT with a port from 1 to 65535")
    try:
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            ipaddress.IPv6Address(host)
        else:
            ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(
            f"{text!r} is not HOST:PORT with HOST an IP address such as 127.0.0.1 or [::1]"
        ) from None
    return host, int(port_text)


class _Own(enum.Enum):
    """The server's own sockets, as the readiness data that stands for them."""

    LISTENER = enum.auto()
    WAKE = enum.auto()


class _Kind(enum.Enum):
    """Where a request is answered."""

    QUICK = enum.auto()  # from snapshots, on the selector thread
    READ = enum.auto()  # the same, but may be the first to check a login when reads need one
    DEVICE = enum.auto()  # on a worker: waits on the device or checks a password


def _kind(line: str) -> _Kind:
    # Called for every request: the common case costs one split and two lookups.
    words = line.upper().split(None, 2)[:2]
    head = " ".join(words)
    if '"' in head or "\\" in head:
        # Rare: quoting or escapes in the first words. Split exactly as the session will.
        try:
            verb, args = split_request(line)
        except NutServerError:
            return _Kind.QUICK  # answered with an error, at once
        words = [verb, *(word.upper() for word in args[:1])]
    key = tuple(words)
    if key[:1] in DEVICE_REQUESTS or key in DEVICE_REQUESTS:
        return _Kind.DEVICE
    return _Kind.READ if key[:1] in READ_REQUESTS else _Kind.QUICK


@dataclass(frozen=True)
class _UsersFile:
    """What identifies one version of the users file."""

    mtime_ns: int
    size: int
    inode: int


class _Client:
    """One connection: its socket, session, buffers and where it stands."""

    def __init__(
        self, sock: socket.socket, peer: str, session: Session, users: Users, now: float
    ) -> None:
        self.sock = sock
        self.peer = peer
        self.session = session
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last_active = now
        self.events = 0  # the selector events this socket is registered for
        self.busy = False  # a request runs on the worker pool
        self.eof = False  # the client will send nothing more
        self.closing = False  # close once the output is sent
        # Reads are answered on the selector thread once they cannot check a
        # password: when they need no login, or the session has checked it.
        self.reads_quick = users.anonymous_read
        self.refused = False  # over the client limit: its first request is refused
        self.closed = False


class NutServer:
    """A NUT protocol server on one address.

    Args:
        backend: the devices to serve.
        users_file: the users and their rights; re-read when it changes.
        host: an IP address literal; loopback unless remote clients are meant.
        port: TCP port; 0 picks a free one (see ``address``).
        max_clients: clients served at once; the first request of any further
            connection is answered ``ERR ACCESS-DENIED``, and the connection closed.
        idle_timeout_s: a client that sends no request and reads nothing for
            this long is disconnected.
    """

    def __init__(
        self,
        backend: Backend,
        users_file: Path,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self._backend = backend
        self._users_file = users_file
        self._host = host
        self._port = port
        self._max_clients = max_clients
        self._idle_timeout_s = idle_timeout_s
        self._logins = Logins()
        self._users = Users.load(users_file)
        self._users_version = self._users_signature()
        self._clients: dict[int, _Client] = {}
        self._pending: set[_Client] = set()
        self._unsent: list[_Client] = []  # answered this turn; sent at its end
        self._done: queue.SimpleQueue[tuple[_Client, _Kind, Future[Reply]]] = queue.SimpleQueue()
        self._selector: Readiness[_Client | _Own] = readiness()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._pool = ThreadPoolExecutor(COMMAND_WORKERS, thread_name_prefix="upsight-nut-cmd")
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._accept_paused_until: float | None = None
        # Kept as counters, not derived from _clients, so that other threads read
        # a consistent number.
        self._served = 0
        self._refusing = 0  # connections over the limit, waiting for their answer
        self._refused = 0  # refusals not logged yet
        self._refusal_logged_at = -REFUSAL_LOG_INTERVAL_S
        self._next_sweep = 0.0
        # When the current loop turn began: activity times need no finer clock.
        self._now = time.monotonic()
        # Encoded reusable replies by request line, valid for one backend version.
        self._replies: dict[bytes, bytes] = {}
        self._replies_version: object = None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on (the real port when 0 was asked)."""
        if self._listener is None:
            return self._host, self._port
        host, port = self._listener.getsockname()[:2]
        return host, port

    def client_count(self) -> int:
        """How many clients are being served now (refused ones not counted)."""
        return self._served

    def start(self) -> None:
        """Listen and serve on a thread of its own; returns at once.

        Raises:
            OSError: the address cannot be listened on (in use, not local ...).
        """
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            # A restarted agent must not wait for the old connections' TIME_WAIT.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._port))
            listener.listen(128)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._selector.register(listener, READ, _Own.LISTENER)
        self._selector.register(self._wake_r, READ, _Own.WAKE)
        host, port = self.address
        log.info("NUT server listening on %s", _joined(host, port))
        if self._users.anonymous_read_exposed(host):
            log.warning(
                "NUT server on %s lets anyone who can reach it read every UPS variable "
                "without a password; turn anonymous reads off in %s or listen on 127.0.0.1",
                _joined(host, port),
                self._users_file,
            )
        self._thread = threading.Thread(target=self._serve, name="upsight-nut-server", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every connection and the listener, and wait for running commands; idempotent."""
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        # Commands in flight finish (they are bounded by the command timeout) so
        # that no device is left mid-command and every session is closed.
        self._pool.shutdown(wait=True)
        self._finish_jobs()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _serve(self) -> None:
        try:
            while not self._stopping:
                try:
                    self._turn()
                except Exception:
                    # Errors of one client end that client (see _guarded); this is
                    # a last resort that keeps serving the others.
                    log.exception("NUT server: unexpected error; serving on")
                    time.sleep(ERROR_PAUSE_S)
        finally:
            self._close_all()

    def _turn(self) -> None:
        timeout = 0.0 if self._pending else self._sweep_interval_s()
        ready = self._selector.wait(timeout)
        self._now = now = time.monotonic()
        self._check_replies()
        for data, mask in ready:
            if isinstance(data, _Client):
                # _guarded, inlined: this runs for every request.
                try:
                    self._on_ready(data, mask)
                except Exception:
                    self._crashed(data)
            elif data is _Own.LISTENER:
                self._accept()
            else:
                self._drain_wake()
                self._finish_jobs()
                # A finished command or FSD may have changed what reads answer, and
                # the client's next request may be answered later in this turn.
                self._check_replies()
        if self._pending:
            for client in list(self._pending):
                self._guarded(client, self._work)
        # Replies go out together at the end of the turn, not one by one between
        # reads: a client woken by the first finds the next ones already there,
        # instead of being woken (a costly switch) for each.
        if self._unsent:
            unsent, self._unsent = self._unsent, []
            for client in unsent:
                if not client.closed:
                    # _guarded, inlined: this runs for every request.
                    try:
                        self._flush(client)
                    except Exception:
                        self._crashed(client)
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_interval_s()
            self._sweep(now)

    def _sweep_interval_s(self) -> float:
        return min(1.0, self._idle_timeout_s / 4)

    def _guarded(self, client: _Client, action: Callable[..., None], *args: object) -> None:
        """Run ``action`` for one client; a failure ends that client, never the server."""
        try:
            action(client, *args)
        except Exception:
            self._crashed(client)

    def _crashed(self, client: _Client) -> None:
        log.exception("NUT client %s: unexpected error; disconnecting it", client.peer)
        self._close(client, "server error")

    # Connections

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("NUT server cannot accept connections: %s", exc.strerror)
                    self._selector.unregister(self._listener)
                    self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE_S
                # Other errors (the client gave up before we accepted) concern that client only.
                return
            peer = _joined(address[0], address[1])
            refused = self.client_count() >= self._max_clients
            if refused:
                self._log_refusal(peer)
                if self._refusing >= self._max_clients:
                    sock.close()  # a flood of connections: not even an answer
                    continue
            try:
                self._admit(sock, str(address[0]), peer, refused)
            except OSError as exc:
                # Reset before we could set it up: nothing to serve.
                log.info("NUT client %s gone before it was served: %s", peer, exc.strerror)
                sock.close()

    def _log_refusal(self, peer: str) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged_at >= REFUSAL_LOG_INTERVAL_S:
            log.warning(
                "NUT server refused %d connection(s), the latest from %s: %d clients is the "
                "limit (nut_server.max_clients)",
                self._refused,
                peer,
                self._max_clients,
            )
            self._refused = 0
            self._refusal_logged_at = now

    def _admit(self, sock: socket.socket, host: str, peer: str, refused: bool) -> None:
        sock.setblocking(False)
        # Replies are single small writes; Nagle would hold each one for the ACK
        # of the previous, adding up to 40 ms to a synchronous client's request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reload_users()
        session = Session(
            self._backend, self._users, self._logins, host, server_version=SERVER_VERSION
        )
        client = _Client(sock, peer, session, self._users, time.monotonic())
        client.refused = refused
        self._clients[sock.fileno()] = client
        self._set_events(client)
        if refused:
            self._refusing += 1
        else:
            self._served += 1
            log.info("NUT client %s connected", peer)

    def _close(self, client: _Client, reason: str) -> None:
        if client.closed:
            return
        client.closed = True
        self._pending.discard(client)
        if client.events:
            self._selector.unregister(client.sock)
            client.events = 0
        self._clients.pop(client.sock.fileno(), None)
        client.sock.close()
        # A session still running a request on a worker is closed when it returns.
        if not client.busy:
            client.session.close()
        if client.refused:
            self._refusing -= 1
        else:
            self._served -= 1
            log.info("NUT client %s disconnected (%s)", client.peer, reason)

    def _close_all(self) -> None:
        for client in list(self._clients.values()):
            self._close(client, "server stopping")
        if self._listener is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._listener)
            self._listener.close()

    def _sweep(self, now: float) -> None:
        if self._accept_paused_until is not None and now >= self._accept_paused_until:
            assert self._listener is not None
            self._accept_paused_until = None
            self._selector.register(self._listener, READ, _Own.LISTENER)
        for client in list(self._clients.values()):
            if not client.busy and now - client.last_active > self._idle_timeout_s:
                self._close(client, f"idle for {self._idle_timeout_s:g} s")

    def _reload_users(self) -> None:
        """Pick up users added since the last connection (``upsight nut-server user add``)."""
        version = self._users_signature()
        if version == self._users_version:
            return
        self._users_version = version
        try:
            self._users = Users.load(self._users_file)
        except UsersFileError as exc:
            log.error("NUT server keeps its previous users: %s", exc)
            return
        log.info("NUT server re-read its users from %s", self._users_file)

    def _users_signature(self) -> _UsersFile | None:
        try:
            st = os.stat(self._users_file)
        except OSError:
            return None
        return _UsersFile(st.st_mtime_ns, st.st_size, st.st_ino)

    # Data

    def _on_ready(self, client: _Client, mask: int) -> None:
        if client.closed:
            return  # closed earlier in this turn; its descriptor may already be reused
        if mask & WRITE:
            self._flush(client)
        if mask & READ and not client.closed:
            self._receive(client)

    def _receive(self, client: _Client) -> None:
        try:
            data = client.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._close(client, exc.strerror or "receive failed")
            return
        if data:
            client.inbuf += data
        else:
            client.eof = True
        self._work(client)

    def _work(self, client: _Client) -> None:
        """Answer the client's waiting requests, up to its share of this turn.

        The replies are sent at the end of the turn, in one send.
        """
        inbuf = client.inbuf
        replies = self._replies
        # Whether kept replies may be given (see _request). Only a request run on a
        # worker can change it, and the client then waits for the outcome.
        reuse = not client.refused and client.session.may_read
        answered = 0
        while answered < LINES_PER_TURN:
            end = inbuf.find(b"\n")
            if (end < 0 and len(inbuf) <= LINE_LIMIT_BYTES) or not _can_answer(client):
                break
            if end < 0 or end > LINE_LIMIT_BYTES:
                # As the session does for a long line that fits the buffer: the rest
                # cannot be framed reliably, so say why and hang up.
                inbuf.clear()
                client.outbuf += TOO_LONG
                client.closing = True
                break
            raw = bytes(inbuf[:end])
            del inbuf[: end + 1]
            answered += 1
            # A kept reply, looked up here because nearly every request has one.
            reused = replies.get(raw) if reuse else None
            if reused is not None:
                client.outbuf += reused
            else:
                self._request(client, raw)
        if answered:
            client.last_active = self._now
        if client.eof and not (client.busy or client.closing) and b"\n" not in inbuf:
            # A half line left at the end is dropped; what was asked before is still answered.
            client.closing = True
        self._unsent.append(client)

    def _request(self, client: _Client, raw: bytes) -> None:
        session = client.session
        line = decode_line(raw)
        # Answered, not closed at once: a client reads the answer to its first real
        # request (after STARTTLS, which NUT clients try first and which the session
        # refuses as always), so upsc says "access denied" instead of "broken pipe".
        if client.refused and line.strip().upper() != "STARTTLS":
            client.outbuf += REFUSED
            client.closing = True
            return
        kind = _kind(line)
        if kind is _Kind.DEVICE or (kind is _Kind.READ and not client.reads_quick):
            client.busy = True
            future = self._pool.submit(session.handle, line)
            future.add_done_callback(lambda done: self._job_done(client, kind, done))
            return
        reply = session.handle(line)
        data = self._answer(client, reply)
        # Kept under the version checked this turn: if the backend changed since,
        # its next version differs and the reply is dropped with the others.
        if reply.reusable and session.may_read and len(self._replies) < MAX_REUSED_REPLIES:
            self._replies[raw] = data

    def _check_replies(self) -> None:
        """Drop the kept replies once the backend's data may have changed."""
        try:
            version = self._backend.version()
        except Exception:
            # A failing backend must not stop the loop: with a version that never
            # recurs nothing is reused, and each session answers or fails on its own.
            log.exception("NUT server: the backend cannot tell its data version")
            version = object()
        if version is not self._replies_version:
            self._replies.clear()
            self._replies_version = version

    def _answer(self, client: _Client, reply: Reply) -> bytes:
        lines = reply.lines
        text = lines[0] + "\n" if len(lines) == 1 else "\n".join(lines) + "\n"
        # Values are device text, which may hold any character; upsd passes bytes through.
        data = text.encode("utf-8", "replace")
        client.outbuf += data
        if reply.close:
            client.closing = True
        return data

    def _job_done(self, client: _Client, kind: _Kind, future: Future[Reply]) -> None:
        # On a worker thread: hand the reply to the selector thread.
        self._done.put((client, kind, future))
        self._wake()

    def _finish_jobs(self) -> None:
        while True:
            try:
                client, kind, future = self._done.get_nowait()
            except queue.Empty:
                return
            client.busy = False
            if client.closed:
                client.session.close()
            else:
                self._guarded(client, self._finish, kind, future)

    def _finish(self, client: _Client, kind: _Kind, future: Future[Reply]) -> None:
        error = future.exception()
        if error is not None:
            log.error("NUT client %s: request failed", client.peer, exc_info=error)
            self._close(client, "server error")
            return
        reply = future.result()
        if kind is _Kind.READ and reply.lines[:1] not in _UNCHECKED:
            client.reads_quick = True
        self._answer(client, reply)
        self._pending.add(client)

    def _flush(self, client: _Client) -> None:
        if client.outbuf:
            try:
                sent = client.sock.send(client.outbuf)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._close(client, exc.strerror or "send failed")
                return
            if sent:
                del client.outbuf[:sent]
                client.last_active = self._now
        if client.closing and not client.outbuf:
            self._close(client, "closed by the client" if client.eof else "session ended")
            return
        if _has_work(client):
            self._pending.add(client)
        elif self._pending:
            self._pending.discard(client)
        self._set_events(client)

    def _set_events(self, client: _Client) -> None:
        events = 0
        if client.outbuf:
            events |= WRITE
        if not (client.eof or client.closing) and len(client.inbuf) < INPUT_LIMIT_BYTES:
            events |= READ
        if events == client.events:
            return
        if not client.events:
            self._selector.register(client.sock, events, client)
        elif not events:
            self._selector.unregister(client.sock)
        else:
            self._selector.modify(client.sock, events, client)
        client.events = events

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_r.recv(4096):
                pass


def _can_answer(client: _Client) -> bool:
    """Whether the client's next request may be answered now."""
    return not (client.busy or client.closing or client.closed) and (
        len(client.outbuf) < HIGH_WATER_BYTES
    )


def _has_work(client: _Client) -> bool:
    return b"\n" in client.inbuf and _can_answer(client)


def _joined(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
