"""A line-oriented TCP connection to upsd, with socket errors mapped onto the UpsError tree."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from upsight.drivers.errors import Disconnected, NotFound, TransportError, TransportTimeout
from upsight.drivers.nut.protocol import error_for

MAX_LINE_BYTES = 65536


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        raise TransportTimeout(f"{what}: no answer in time") from exc
    except ConnectionRefusedError as exc:
        raise NotFound(f"{what}: connection refused (is upsd running?)") from exc
    except socket.gaierror as exc:
        raise NotFound(f"{what}: unknown host ({exc.strerror})") from exc
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise Disconnected(f"{what}: connection lost") from exc
    except OSError as exc:
        raise TransportError(f"{what}: {exc.strerror or exc}") from exc


class Connection:
    """One session with upsd; every call is bounded by ``timeout_s``."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self._where = f"{host}:{port}"
        with _mapped(f"NUT server {self._where}"):
            self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._file = self._sock.makefile("rb")

    def request(self, line: str) -> str:
        """Send one request and return the one-line reply.

        Raises:
            UpsError: the reply is an ``ERR``, mapped to its meaning.
        """
        self.send(line)
        reply = self.receive()
        if reply.startswith("ERR"):
            raise error_for(reply, self._context(line))
        return reply

    def request_list(self, line: str) -> list[str]:
        """Send a ``LIST ...`` request and return the lines between BEGIN and END."""
        # Send: LIST VAR myups
        # Recv: BEGIN LIST VAR myups / VAR myups battery.charge "100" / END LIST VAR myups
        first = self.request(line)
        if first != f"BEGIN {line}":
            raise error_for(f"ERR {first}", self._context(line))
        lines: list[str] = []
        while (reply := self.receive()) != f"END {line}":
            lines.append(reply)
        return lines

    def send(self, line: str) -> None:
        with _mapped(f"NUT server {self._where}"):
            self._sock.sendall(line.encode("utf-8") + b"\n")

    def receive(self) -> str:
        with _mapped(f"NUT server {self._where}"):
            data = self._file.readline(MAX_LINE_BYTES)
        if not data:
            raise Disconnected(f"NUT server {self._where} closed the connection")
        if not data.endswith(b"\n"):
            raise Disconnected(f"NUT server {self._where} sent a truncated line")
        return data.decode("utf-8", errors="replace").rstrip("\r\n")

    def close(self) -> None:
        for closable in (self._file, self._sock):
            with contextlib.suppress(OSError):
                closable.close()

    def _context(self, line: str) -> str:
        # Never echo a password into an error message or a log.
        shown = "PASSWORD ***" if line.startswith("PASSWORD") else line
        return f"{self._where} {shown}"
