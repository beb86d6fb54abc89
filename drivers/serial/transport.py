"""The serial link to a UPS: the only I/O of the serial drivers, errors mapped onto UpsError."""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import serial

from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    NotFound,
    PermissionDenied,
    TransportError,
    TransportTimeout,
)

# Both protocols run at 2400 baud, 8N1, no flow control (protocols.md 1.1, 2.1).
BAUD_RATE: Final = 2400
# A real unit answers within a few hundred milliseconds; nut waits 1 s (SER_WAIT_SEC)
# and a poller must be able to stop within about a second.
READ_TIMEOUT_S: Final = 1.0
# At 2400 baud a byte takes about 4 ms, so a reply never pauses this long
# mid-line; a longer pause means the rest of the line is not coming.
GAP_S: Final = 0.25
# Each blocking read waits at most this long, so deadlines and gaps are checked often.
_SLICE_S: Final = 0.05
WRITE_TIMEOUT_S: Final = 1.0

if sys.platform == "win32":
    _BACKEND_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError)
else:
    import termios

    # tcflush() on a port that went away raises termios.error, which is no OSError.
    _BACKEND_ERRORS = (serial.SerialException, OSError, termios.error)

_GONE: Final = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_DENIED: Final = frozenset({errno.EACCES, errno.EPERM})
_IN_USE: Final = frozenset({errno.EBUSY, errno.EAGAIN})


@dataclass(frozen=True)
class Lines:
    """The levels the host drives on the modem-control lines.

    Some cables power the UPS's interface from DTR or RTS, and on a wrong
    cable these lines can switch an APC unit off (protocols.md 1.1, 2.1).
    """

    dtr: bool
    rts: bool


# nut's default Megatec ``cablepower=normal``, and APC's 940-0095B setting; the
# 940-0024C smart cable leaves both lines unconnected, so it suits that too.
DTR_ONLY: Final = Lines(dtr=True, rts=False)


def _errno(exc: BaseException) -> int | None:
    """The errno behind a backend error; pyserial often keeps it only in the context."""
    for candidate in (exc, exc.__context__):
        number = getattr(candidate, "errno", None)
        if isinstance(number, int):
            return number
        args: tuple[object, ...] = getattr(candidate, "args", ())
        # termios.error carries (errno, message) as its arguments.
        if len(args) == 2 and isinstance(args[0], int):
            return args[0]
    return None


def _translate(port: str, opening: bool, exc: Exception) -> TransportError:
    number = _errno(exc)
    reason = os.strerror(number) if number is not None else str(exc)
    if number in _DENIED:
        return PermissionDenied(f"{port}: permission denied (is the user in the dialout group?)")
    if number in _IN_USE:
        return TransportError(f"{port}: the port is in use by another program (NUT, apcupsd?)")
    if opening:
        if number in _GONE:
            return NotFound(f"{port}: no such serial port")
        return TransportError(f"{port}: cannot open the port: {reason}")
    # Mid-session, any failure of the port itself means the adapter or the
    # other end went away (Linux reports EIO, or readiness without data).
    return Disconnected(f"{port}: the serial port went away ({reason})")


@contextmanager
def _mapped(port: str, *, opening: bool = False) -> Iterator[None]:
    """Turn pyserial and OS errors into the UpsError tree."""
    try:
        yield
    except serial.SerialTimeoutException as exc:
        raise TransportTimeout(f"{port}: the port did not accept data in time") from exc
    except _BACKEND_ERRORS as exc:
        raise _translate(port, opening, exc) from exc


def _is_url(port: str) -> bool:
    return "://" in port


class SerialTransport:
    """One open serial port with deadline-bounded reads.

    Args:
        port: a device path (``/dev/ttyUSB0``, ``COM3``) or any pyserial URL
            (``socket://host:7000``, ``rfc2217://...``, ``loop://``).
        lines: DTR and RTS levels, applied as the port opens.
        settle_s: pause after opening so that a cable powered from DTR/RTS
            has powered the UPS's interface.

    Raises:
        NotFound: no such port.
        PermissionDenied: the OS refused access.
        TransportError: the port is in use or cannot be opened.
        DeviceSpecError: ``port`` is a URL pyserial does not understand.
    """

    def __init__(self, port: str, *, lines: Lines = DTR_ONLY, settle_s: float = 0.0) -> None:
        self.port = port
        # A flock, as NUT's drivers take one: two programs on one UPS would
        # read each other's replies. Only local POSIX ports support it.
        exclusive = True if os.name == "posix" and not _is_url(port) else None
        try:
            handle = serial.serial_for_url(
                port,
                baudrate=BAUD_RATE,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=_SLICE_S,
                write_timeout=WRITE_TIMEOUT_S,
                exclusive=exclusive,
                do_not_open=True,
            )
        except ValueError as exc:
            raise DeviceSpecError(f"{port}: not a serial port or pyserial URL: {exc}") from exc
        # Set before open() so that the lines take these levels from the start.
        handle.dtr = lines.dtr
        handle.rts = lines.rts
        with _mapped(port, opening=True):
            handle.open()
        self._handle = handle
        if settle_s > 0:
            time.sleep(settle_s)

    def write(self, data: bytes) -> None:
        """Send bytes.

        Raises:
            Disconnected: the port went away.
            TransportTimeout: the port did not take the bytes in time.
        """
        with _mapped(self.port):
            self._handle.write(data)
            self._handle.flush()

    def flush_input(self) -> None:
        """Discard whatever arrived and was not read, e.g. a late reply.

        Raises:
            Disconnected: the port went away.
        """
        with _mapped(self.port):
            self._handle.reset_input_buffer()

    def read_pending(self) -> bytes:
        """Return whatever has arrived, without waiting.

        Raises:
            Disconnected: the port went away.
        """
        with _mapped(self.port):
            waiting = self._handle.in_waiting
            return self._handle.read(waiting) if waiting else b""

    def read_some(self, timeout_s: float = READ_TIMEOUT_S) -> bytes:
        """Wait up to ``timeout_s`` for bytes; return those that arrived first.

        Returns:
            At least one byte, or ``b""`` when nothing arrived in time.

        Raises:
            Disconnected: the port went away.
        """
        deadline = time.monotonic() + timeout_s
        with _mapped(self.port):
            while True:
                chunk = self._handle.read(max(1, self._handle.in_waiting))
                if chunk or time.monotonic() >= deadline:
                    return chunk

    def read_until(
        self, terminator: bytes, timeout_s: float = READ_TIMEOUT_S, gap_s: float = GAP_S
    ) -> bytes:
        """Read one reply: up to and including ``terminator``.

        Stops early at the deadline, or when a reply has started and then
        nothing more arrives for ``gap_s``.

        Returns:
            The reply with its terminator; without it when the reply was cut
            short; ``b""`` when nothing arrived.

        Raises:
            Disconnected: the port went away.
        """
        received = bytearray()
        started = time.monotonic()
        last_byte = started
        with _mapped(self.port):
            while True:
                chunk = self._handle.read(max(1, self._handle.in_waiting))
                now = time.monotonic()
                if chunk:
                    received += chunk
                    last_byte = now
                    end = received.find(terminator)
                    if end >= 0:
                        # Bytes after the terminator belong to nothing we asked for.
                        return bytes(received[: end + len(terminator)])
                elif received and now - last_byte >= gap_s:
                    return bytes(received)
                if now - started >= timeout_s:
                    return bytes(received)

    def close(self) -> None:
        """Close the port; safe to call twice and after the port went away."""
        try:
            self._handle.close()
        except _BACKEND_ERRORS:
            # The port is already gone; there is nothing left to release.
            return
