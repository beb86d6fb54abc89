"""HTTPS to the Upsight cloud: one gzip POST per envelope, verified TLS, abortable mid-flight.

All network I/O of uploads lives here. Errors::

    ValueError
     └── EndpointError        the endpoint or proxy URL is refused
    Exception
     ├── NotSignedIn          no device token; nothing was sent
     └── TransportFailure     timeout, connection or TLS failure, or aborted; .kind says which

TLS is always verified, against the operating system's trust store (``truststore``) plus an
optional CA bundle from the administrator; there is deliberately no way to turn that off
(privacy-design.md §8.2, §9.4 "insecure TLS impossible").
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import requests
import truststore
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

from upsight.agent import __version__
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose

log = logging.getLogger(__name__)

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
"""The only hosts plain ``http://`` may reach: test servers on this computer."""
DELETION_FIELD: Final = "deletion.purposes"
"""A control envelope whose data has this key is a deletion request (privacy-design.md §12)."""
MAX_REPLY_BYTES: Final = 64 * 1024
"""Replies are short JSON acknowledgements; anything longer is cut here."""
USER_AGENT: Final = f"Upsight/{__version__}"

FailureKind = Literal["timeout", "connection", "tls", "aborted"]


class EndpointError(ValueError):
    """The cloud endpoint (or proxy) URL is refused; the message says why."""


class NotSignedIn(Exception):
    """There is no device token, so nothing can be sent until the user signs in."""


class TransportFailure(Exception):
    """The request got no HTTP reply: it timed out, the connection failed or TLS failed.

    Attributes:
        kind: ``"timeout"``, ``"connection"``, ``"tls"`` (certificate or handshake refused),
            or ``"aborted"`` (:meth:`HttpsTransport.abort` cut it short).
    """

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind


@dataclass(frozen=True)
class Reply:
    """The cloud's answer to one POST.

    Attributes:
        status: The HTTP status.
        retry_after: The ``Retry-After`` header as sent, or None.
        body: The reply body, at most :data:`MAX_REPLY_BYTES`.
    """

    status: int
    retry_after: str | None
    body: bytes


def check_endpoint(endpoint: str) -> str:
    """The endpoint's base URL without a trailing slash, if it may be used.

    Raises:
        EndpointError: Not ``https://``, or plain ``http://`` to anything but 127.0.0.1,
            ::1 or localhost; or it carries credentials, a query or a fragment.
    """
    parts = urlsplit(endpoint.strip())
    if parts.username is not None or parts.password is not None:
        # Not echoed: the text would contain the credentials.
        raise EndpointError("the endpoint must not contain a user name or password")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise EndpointError(f"the endpoint {endpoint!r} must be an https:// URL")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises only when read
    except ValueError as exc:
        raise EndpointError(f"the endpoint {endpoint!r} is malformed: {exc}") from exc
    if not host:
        raise EndpointError(f"the endpoint {endpoint!r} names no host")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise EndpointError(
            f"the endpoint {endpoint!r} is plain http://, which is allowed only to this "
            "computer (127.0.0.1, ::1, localhost); use https://"
        )
    if parts.query or parts.fragment:
        raise EndpointError(f"the endpoint {endpoint!r} must not have a query or fragment")
    return endpoint.strip().rstrip("/")


def route(envelope: Envelope) -> str:
    """The path an envelope is posted to, below the endpoint.

    Raises:
        ValueError: The envelope is for ``local``, which is never uploaded.
    """
    if envelope.purpose is Purpose.LOCAL:
        raise ValueError("local data is never uploaded")
    if envelope.purpose is Purpose.CONTROL:
        if DELETION_FIELD in envelope.data:
            return "/v1/privacy/deletion-requests"
        return "/v1/privacy/consent-receipts"
    return f"/v1/envelopes/{envelope.purpose}"


class _InFlight:
    """The connections one transport opened, so another thread can cut the request short."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        self._active = False
        self._aborted = False

    def begin(self) -> None:
        with self._lock:
            self._active = True
            self._aborted = False

    def end(self) -> None:
        with self._lock:
            self._active = False

    @property
    def aborted(self) -> bool:
        with self._lock:
            return self._aborted

    def connecting(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.add(connection)

    def connected(self, connection: HTTPConnection) -> None:
        # An abort that arrived before the socket existed takes effect now.
        with self._lock:
            if self._aborted:
                _shut(connection)

    def abort(self) -> None:
        with self._lock:
            if not self._active:
                return
            self._aborted = True
            # Idle keep-alive connections go too; urllib3 notices and reconnects.
            for connection in list(self._connections):
                _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    # shutdown(), unlike close(), wakes a thread blocked reading the socket. The plain
    # socket method is used so a TLS socket keeps its state for the reader to unwind.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _tracked_pools(in_flight: _InFlight) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections register with ``in_flight`` as they connect."""

    class _Http(HTTPConnection):
        def connect(self) -> None:
            in_flight.connecting(self)
            super().connect()
            in_flight.connected(self)

    class _Https(HTTPSConnection):
        def connect(self) -> None:
            in_flight.connecting(self)
            super().connect()
            in_flight.connected(self)

    class _HttpPool(HTTPConnectionPool):
        ConnectionCls = _Http

    class _HttpsPool(HTTPSConnectionPool):
        ConnectionCls = _Https

    return {"http": _HttpPool, "https": _HttpsPool}


class _Adapter(HTTPAdapter):
    """requests' adapter with our TLS context and abortable connections."""

    def __init__(self, context: ssl.SSLContext, in_flight: _InFlight) -> None:
        self._context = context
        self._pools = _tracked_pools(in_flight)
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(
            connections, maxsize, block, ssl_context=self._context, **pool_kwargs
        )
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, ssl_context=self._context, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would add its bundled CA list to the context; trust comes only from the
        # operating system and the administrator's bundle.
        conn.cert_reqs = "CERT_REQUIRED"


def _tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def _check_proxy(proxy: str) -> str:
    parts = urlsplit(proxy)
    try:
        host = parts.hostname
    except ValueError as exc:
        raise EndpointError(f"the proxy URL is malformed: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise EndpointError("the proxy must be an http:// or https:// URL with a host")
    return proxy


class HttpsTransport:
    """Posts envelopes to the cloud; one request at a time, from the uploader thread.

    Every request carries ``Content-Encoding: gzip``, ``Idempotency-Key`` (the envelope
    id, so a repeat is recognised), ``X-Consent-Epoch`` and the device token as a bearer
    token. Redirects are not followed. Proxy settings from the environment are ignored;
    only ``proxy`` (from admin policy) is used. The token and the body are never logged.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        token: Callable[[], str | None],
        ca_bundle: Path | None = None,
        proxy: str | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 30.0,
        user_agent: str = USER_AGENT,
    ) -> None:
        """Prepare a session; nothing is sent yet.

        Args:
            endpoint: The cloud's base URL (``https://``; ``http://`` only to loopback).
            token: Returns the device token, or None when not signed in; asked per request.
            ca_bundle: A PEM file of extra trusted CAs (admin policy ``CABundle``).
            proxy: An ``http://`` or ``https://`` proxy URL (admin policy ``Proxy``).
            connect_timeout_s: Limit for opening the connection and the TLS handshake.
            read_timeout_s: Limit for each wait on the server's reply.
            user_agent: The ``User-Agent`` header.

        Raises:
            EndpointError: The endpoint or proxy is refused.
            OSError: The CA bundle cannot be read.
            ssl.SSLError: The CA bundle holds no usable certificate.
        """
        self._endpoint = check_endpoint(endpoint)
        self._token = token
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._user_agent = user_agent
        self._in_flight = _InFlight()
        adapter = _Adapter(_tls_context(ca_bundle), self._in_flight)
        self._session = requests.Session()
        # Environment proxies and CA overrides do not apply; policy settings are explicit.
        self._session.trust_env = False
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        if proxy is not None:
            checked = _check_proxy(proxy)
            self._session.proxies = {"https": checked, "http": checked}

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self._endpoint

    def post(self, envelope: Envelope) -> Reply:
        """Send one envelope and return the cloud's reply, whatever its status.

        Raises:
            NotSignedIn: There is no device token; the network was not touched.
            TransportFailure: No HTTP reply arrived.
            ValueError: The envelope is for ``local``.
        """
        url = self._endpoint + route(envelope)
        token = self._token()
        if not token:
            raise NotSignedIn("not signed in: there is no device token")
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": envelope.envelope_id,
            "X-Consent-Epoch": str(envelope.consent_epoch),
            "Authorization": f"Bearer {token}",
            "User-Agent": self._user_agent,
        }
        # mtime=0 makes a retry byte-identical to the first attempt.
        body = gzip.compress(envelope.encode(), mtime=0)
        self._in_flight.begin()
        try:
            with self._session.post(
                url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                content = _read_capped(response)
                reply = Reply(response.status_code, response.headers.get("Retry-After"), content)
        except requests.RequestException as exc:
            raise self._failure(exc, token) from exc
        finally:
            self._in_flight.end()
        log.debug(
            "POST %s envelope %s: HTTP %d", envelope.purpose, envelope.envelope_id, reply.status
        )
        return reply

    def abort(self) -> None:
        """Cut short the request in flight, if any; safe to call from any thread.

        The interrupted :meth:`post` raises :class:`TransportFailure` with kind
        ``"aborted"``. Without a request in flight this does nothing.
        """
        self._in_flight.abort()

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def _failure(self, exc: requests.RequestException, token: str) -> TransportFailure:
        kind: FailureKind
        if self._in_flight.aborted:
            kind = "aborted"
        elif isinstance(exc, requests.exceptions.SSLError):
            kind = "tls"
        elif isinstance(exc, requests.exceptions.Timeout) or any(
            isinstance(arg, ReadTimeoutError) for arg in exc.args
        ):
            kind = "timeout"
        else:
            kind = "connection"
        refused = _verify_error(exc) if kind == "tls" else None
        if refused is not None:
            # requests nests the reason three wrappers deep; people need only this part.
            reason = str(refused.verify_message).rstrip(".")
            where = urlsplit(self._endpoint).netloc
            return TransportFailure(kind, f"tls: certificate verify failed for {where} ({reason})")
        # The token is never part of these messages; the replace guards against surprises.
        detail = str(exc).replace(token, "[token]")
        return TransportFailure(kind, f"{kind}: {detail}")


def _verify_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error inside requests' and urllib3's wrappers, if any."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return item
        pending += [*item.args, item.__cause__, item.__context__, getattr(item, "reason", None)]
    return None


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_REPLY_BYTES:
            break
    return b"".join(chunks)[:MAX_REPLY_BYTES]
