"""A real HTTPS cloud on 127.0.0.1 for upload tests: trustme certificates, scripted answers.

It gunzips and parses every POST, records it, and keeps the envelopes it accepted by
``Idempotency-Key`` (a repeat counts as a duplicate, as the real service dedupes). Each
request is answered from a script: a status, headers such as ``Retry-After``, a delay
(to outlast the client's read timeout) or an abrupt reset (RST, via SO_LINGER 0).

As a program it serves until killed, for tests that kill the agent and for benchmarks::

    python -m tests.peers.cloud --port-file F --ca-file F --store F

writes the port and the CA certificate once it listens, and appends every envelope
received to the store file, one JSON line each.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import enum
import gzip
import http.server
import json
import os
import socket
import ssl
import struct
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import PURPOSES, Purpose


class Certificate(enum.StrEnum):
    """Which certificate the server presents."""

    TRUSTED = "trusted"
    """Issued by :attr:`CloudServer.ca_pem` for 127.0.0.1, ::1 and localhost."""
    UNTRUSTED = "untrusted"
    """The same names, from a CA nobody trusts (a self-made or intercepting server)."""
    WRONG_NAME = "wrong_name"
    """From the trusted CA, but for another host name."""
    EXPIRED = "expired"
    """From the trusted CA, right names, but it expired yesterday."""


@dataclass(frozen=True)
class Answer:
    """How the server answers one request.

    Attributes:
        status: The HTTP status.
        headers: Extra response headers, e.g. ``{"Retry-After": "120"}``.
        delay_s: Wait this long before answering (a stop cuts the wait short).
        reset: Close the connection abruptly with a TCP reset instead of answering.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the server read it.

    Attributes:
        method: The request method (the cloud serves only ``POST``).
        path: The request path.
        headers: Request headers, names in lower case.
        body: The gunzipped body parsed as JSON, or None when it was not.
        raw: The body after gunzip (or as sent when it was not gzip).
        answer: What the server answered.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    answer: Answer

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


Script = Callable[[Received], Answer]


def sample_envelope(
    purpose: Purpose = Purpose.CLOUD_ALERTS,
    *,
    epoch: int = 1,
    data: Mapping[str, Any] | None = None,
    inventory_version: int = 1,
) -> Envelope:
    """An envelope shaped as the builder makes them, with a fresh id."""
    return Envelope(
        envelope_id=str(uuid.uuid4()),
        purpose=purpose,
        consent_epoch=epoch,
        notice_version="2026-09-01",
        prompt_version=PURPOSES[purpose].prompt_version,
        inventory_version=inventory_version,
        created_at="2026-09-02T10:15:03Z",
        client={"client.agent_version": "0.1.0", "client.os_family": "linux"},
        data={"ups.status": "online", "ups.battery.charge_pct": 100} if data is None else data,
    )


class CloudServer:
    """The loopback cloud: start it, point an ``HttpsTransport`` at :attr:`url`, inspect it.

    Answers come from :meth:`script` (a queue consumed one per request) when it has any,
    else from ``respond`` (a function of the request), else 200.
    """

    def __init__(
        self,
        root: Path,
        *,
        certificate: Certificate = Certificate.TRUSTED,
        tls: bool = True,
        respond: Script | None = None,
        store: Path | None = None,
        port: int = 0,
    ) -> None:
        """Prepare certificates under ``root``; nothing listens until :meth:`start`.

        Args:
            root: A private directory for the certificate files.
            certificate: Which certificate to present.
            tls: False serves plain HTTP (to prove http:// works to loopback only).
            respond: Answers requests when the scripted queue is empty.
            store: Append every envelope received here, one JSON line each.
            port: The port to listen on; 0 picks a free one.
        """
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.tls = tls
        self._respond = respond
        self._store = store
        self._port = port
        ca = trustme.CA()
        self.ca_pem = root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem))
        names = ("127.0.0.1", "::1", "localhost")
        if certificate is Certificate.UNTRUSTED:
            leaf = trustme.CA().issue_cert(*names)
        elif certificate is Certificate.WRONG_NAME:
            leaf = ca.issue_cert("cloud.upsight.example")
        elif certificate is Certificate.EXPIRED:
            now = datetime.now(UTC)
            leaf = ca.issue_cert(
                *names, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
            )
        else:
            leaf = ca.issue_cert(*names)
        self._server_pem = root / "server.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(self._server_pem))
        self._lock = threading.Condition()
        self._queue: collections.deque[Answer] = collections.deque()
        self.received: list[Received] = []
        self.accepted: dict[str, Any] = {}
        self.duplicates: collections.Counter[str] = collections.Counter()
        self.handshake_failures = 0
        self.answered = 0
        self._closing = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The endpoint to give the transport."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def script(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._queue.extend(answers)

    def start(self) -> CloudServer:
        context: ssl.SSLContext | None = None
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self._server_pem))
        self._httpd = _Server(("127.0.0.1", self._port), _Handler, self, context)
        # A short poll interval only so that stop() returns quickly.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="test-cloud", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> CloudServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_until(
        self, condition: Callable[[CloudServer], bool], what: str, timeout_s: float = 10.0
    ) -> None:
        """Block until ``condition(self)`` holds (checked whenever a request is handled)."""
        with self._lock:
            if not self._lock.wait_for(lambda: condition(self), timeout_s):
                raise TimeoutError(f"the test cloud never saw {what}")

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests were received; return them all."""
        self.wait_until(lambda c: len(c.received) >= count, f"{count} requests", timeout_s)
        return self.posts()

    def wait_answered(self, count: int, timeout_s: float = 10.0) -> None:
        """Wait until ``count`` requests were fully answered (delays included)."""
        self.wait_until(lambda c: c.answered >= count, f"{count} answers", timeout_s)

    def posts(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    # --- Called by the handler threads -------------------------------------------------

    def _handle(self, method: str, path: str, headers: Mapping[str, str], data: bytes) -> Answer:
        raw = data
        if headers.get("content-encoding") == "gzip":
            try:
                raw = gzip.decompress(data)
            except (OSError, EOFError):
                raw = data
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            answer = self._queue.popleft() if self._queue else None
        request = Received(method, path, headers, body, raw, answer or Answer())
        if answer is None and self._respond is not None:
            request = dataclasses.replace(request, answer=self._respond(request))
        answer = request.answer
        with self._lock:
            self.received.append(request)
            key = request.key
            # Accepted on receipt, as a real service commits before it replies; a reply the
            # client never reads (delay, reset) still leaves the envelope accepted.
            if key is not None and 200 <= answer.status <= 299 and not answer.reset:
                if key in self.accepted:
                    self.duplicates[key] += 1
                else:
                    self.accepted[key] = body
            self._lock.notify_all()
        if self._store is not None and body is not None:
            line = {"path": path, "key": request.key, "status": answer.status, "body": body}
            with self._lock, self._store.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, sort_keys=True) + "\n")
        return answer

    def _done(self) -> None:
        with self._lock:
            self.answered += 1
            self._lock.notify_all()

    def _handshake_failed(self) -> None:
        with self._lock:
            self.handshake_failures += 1
            self._lock.notify_all()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[http.server.BaseHTTPRequestHandler],
        cloud: CloudServer,
        context: ssl.SSLContext | None,
    ) -> None:
        self.cloud = cloud
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.context is None:
            return sock, address
        # The handshake runs in the handler thread, so a client that stalls it cannot
        # block the accept loop.
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out, abort or refuse the certificate leave broken connections
        # behind; that is the point of those tests. Anything else is a bug worth printing.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 30
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; Nagle plus delayed ACK would add 40 ms to each.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.server.cloud._handshake_failed()
                self.close_connection = True
                raise

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        cloud = self.server.cloud
        answer = cloud._handle("POST", self.path, headers, data)
        if answer.delay_s and cloud._closing.wait(answer.delay_s):
            self.close_connection = True
            return
        if answer.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The reader holds a reference to the socket; both must go for the close to happen.
            self.rfile.close()
            self.connection.close()
            self.close_connection = True
            cloud._done()
            return
        ok = 200 <= answer.status <= 299
        reply = json.dumps(
            {"accepted": headers.get("idempotency-key")} if ok else {"error": answer.status}
        ).encode()
        if self.path.endswith("/deletion-requests") and ok:
            ticket = headers.get("idempotency-key", "none")
            reply = json.dumps(
                {"ticket_id": ticket, "status_url": f"/v1/privacy/deletion-requests/{ticket}"}
            ).encode()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            self.close_connection = True
        finally:
            cloud._done()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--ca-file", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(None if argv is None else list(argv))
    # Beside the store, so the caller's temporary directory holds everything even after
    # the server is killed.
    certs = args.store.with_name(args.store.name + ".certs")
    server = CloudServer(certs, store=args.store, port=args.port).start()
    args.ca_file.write_bytes(server.ca_pem.read_bytes())
    # Written last and renamed into place, so a reader that sees the port file sees a
    # server that is listening and a complete CA file.
    partial = args.port_file.with_name(args.port_file.name + ".tmp")
    partial.write_text(f"{server.port}\n", encoding="utf-8")
    os.replace(partial, args.port_file)
    print(f"listening on {server.url}", file=sys.stderr, flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
