"""The ``apcsmart:PORT`` driver: an APC Smart-UPS on a serial port or pyserial URL."""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from typing import Final

from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.errors import (
    DataStale,
    ProtocolError,
    TransportTimeout,
    UnsupportedCommand,
    UpsError,
)
from upsight.drivers.model import Reading, Status, UpsInfo, Value
from upsight.drivers.serial.apcsmart import (
    CAPABILITIES,
    DUMB_MODE,
    HANDSHAKE,
    QUERIES,
    SMART_MODE,
    STATUS,
    Alert,
    Capabilities,
    CommandPlan,
    Item,
    ReplyError,
    ReplySplitter,
    apply_alert,
    build_command,
    command_result,
    decode,
    parse_capabilities,
    parse_status,
)
from upsight.drivers.serial.apcsmart import COMMANDS as PROTOCOL_COMMANDS
from upsight.drivers.serial.transport import (
    DTR_ONLY,
    GAP_S,
    READ_TIMEOUT_S,
    SerialTransport,
)
from upsight.drivers.spec import DeviceSpec

log = logging.getLogger(__name__)

# A reply cut short or garbled by line noise is asked for again, up to this
# many times in all; so is the Y handshake and a Q answered SM (no status yet).
MAX_TRIES: Final = 3
# Asked on every poll after Q: charge, runtime, input and output voltage,
# battery voltage, load, temperature, line frequency.
POLLED: Final = (b"f", b"j", b"L", b"O", b"B", b"P", b"C", b"F")
MODEL: Final = b"\x01"  # ^A
SERIAL: Final = b"n"
FIRMWARE: Final = b"b"
FIRMWARE_OLD: Final = b"V"
# Every APC Smart unit is an APC; the protocol has no manufacturer query.
MFR: Final = "APC"

# The first byte of each command's plan, to check it against the capabilities.
_COMMAND_BYTES: Final = {name: build_command(name).data[:1] for name in sorted(PROTOCOL_COMMANDS)}


class ApcSmartDriver(Driver):
    """Reads an APC Smart-UPS: identity once, status and measurements on every poll.

    Alert characters the UPS sends unprompted (``!`` line fail, ``$`` line
    back, ``%`` low battery, ...) are taken out of the byte stream wherever
    they fall and change the status until the next ``Q`` reply; they never
    end up in a value.

    Args:
        spec: an ``apcsmart:PORT`` spec.
        clock: stamps the readings.

    Raises:
        NotFound, PermissionDenied, TransportError: the port cannot be opened.
        TransportTimeout: nothing answers ``Y`` on the port.
        ProtocolError: something answers, but not ``SM``.
    """

    def __init__(self, spec: DeviceSpec, clock: Clock) -> None:
        self._port = spec.target
        self._clock = clock
        self._splitter = ReplySplitter()
        self._items: collections.deque[Item] = collections.deque()
        self._status: Status | None = None
        # Alerts held back while a Q reply is read, to apply after it.
        self._deferred: list[Alert] | None = None
        self._unsupported: set[bytes] = set()
        self._closed = False
        self._transport = SerialTransport(self._port, lines=DTR_ONLY)
        try:
            self._handshake()
            self._capabilities = self._read_capabilities()
            self._identity = self._read_identity()
        except BaseException:
            self._transport.close()
            raise
        self._info = UpsInfo(
            mfr=MFR,
            model=_text(self._identity.get("device.model")),
            serial=_text(self._identity.get("device.serial")),
            firmware=_text(self._identity.get("ups.firmware")),
            driver="apcsmart",
        )
        self._commands = frozenset(
            name for name, first in _COMMAND_BYTES.items() if self._offers(first)
        )

    def info(self) -> UpsInfo:
        return self._info

    def commands(self) -> frozenset[str]:
        return self._commands

    def read(self) -> Reading:
        """Ask ``Q`` and the measurement queries; alerts that arrive meanwhile apply on top.

        Raises:
            TransportTimeout: the UPS did not answer a query.
            Disconnected: the port went away.
            DataStale: the UPS still answers ``SM`` to ``Q`` (just powered on).
            ProtocolError: three replies in a row were cut short or garbled.
        """
        self._status = self._read_status()
        values: dict[str, Value] = dict(self._identity)
        for query in POLLED:
            if self._offers(query):
                value = self._query(query, strict=True)
                if value is not None:
                    values[QUERIES[query].var] = value
        return Reading(self._clock.time(), self._status, values)

    def run(self, name: str, value: str | None = None) -> None:
        """Run an instant command, sending it twice 1.6 s apart where the UPS needs that.

        Args:
            name: a name from ``commands()``.
            value: ``shutdown.return`` only: seconds until the UPS turns back
                on (sent as ``@nnn``); without it the UPS returns with mains.

        Raises:
            UnsupportedCommand: unknown here, a bad value, or the UPS answered
                ``NA`` or anything but ``OK``/``*``.
            TransportTimeout: no answer.
            TransportError: the link failed.
        """
        if name not in self._commands:
            raise UnsupportedCommand(f"{name} is not offered by this APC Smart UPS")
        plan = self._plan(name, value)
        self._send(plan.data, plan.char_gap_s)
        if plan.repeat_after_s is not None:
            # Send: Z ... 1.6 s ... Z   (the UPS acts only on the second one)
            time.sleep(plan.repeat_after_s)
            self._send(plan.data, plan.char_gap_s)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while (item := self._next_item(deadline)) is not None:
            # Recv: OK | * (older units) | NA (unsupported); other alerts just apply.
            result = command_result(plan.data, item)
            if isinstance(item, Alert):
                self._apply(item)
            if result is None:
                continue
            if not result:
                raise UnsupportedCommand(f"the UPS refused {name}: {item!r}")
            return
        raise TransportTimeout(f"{self._port}: no answer to {name} ({plan.data!r})")

    def close(self) -> None:
        """Put the UPS back in dumb mode and close the port; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        # Send: R   Recv: BYE -- as nut does on exit; the link may already be gone.
        with contextlib.suppress(UpsError):
            self._transport.write(DUMB_MODE)
        self._transport.close()

    # --- Talking ------------------------------------------------------------

    def _send(self, data: bytes, char_gap_s: float = 0.0) -> None:
        self._drain()
        for index in range(len(data)):
            if index and char_gap_s:
                time.sleep(char_gap_s)
            self._transport.write(data[index : index + 1])

    def _drain(self) -> None:
        """Take what arrived since the last reply: alerts apply, stale lines are dropped."""
        self._items.extend(self._splitter.feed(self._transport.read_pending()))
        self._splitter.reset()
        while self._items:
            item = self._items.popleft()
            if isinstance(item, Alert):
                self._apply(item)
            else:
                log.debug("%s: dropped a late reply %r", self._port, item)

    def _next_item(self, deadline: float, *, verbatim: bool = False) -> Item | None:
        """The next line or alert; None at the deadline or when a line stops halfway."""
        while not self._items:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            waiting = min(remaining, GAP_S) if self._splitter.pending else remaining
            data = self._transport.read_some(waiting)
            if not data and self._splitter.pending:
                return None
            self._items.extend(self._splitter.feed(data, verbatim=verbatim))
        return self._items.popleft()

    def _line(self, *, verbatim: bool = False) -> str | None:
        """The next reply line, applying alerts that come before it."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while (item := self._next_item(deadline, verbatim=verbatim)) is not None:
            if isinstance(item, Alert):
                self._apply(item)
            else:
                return item
        return None

    def _apply(self, alert: Alert) -> None:
        log.debug("%s: alert %s", self._port, alert.name)
        if self._deferred is not None:
            self._deferred.append(alert)
        # Before the first Q there is no status to change; Q will tell.
        elif self._status is not None:
            self._status = apply_alert(self._status, alert)

    def _ask(self, query: bytes, *, verbatim: bool = False) -> str:
        """Send one query and return its reply line.

        Raises:
            TransportTimeout: nothing came back.
            ReplyError: the reply stopped halfway.
        """
        self._send(query)
        line = self._line(verbatim=verbatim)
        if line is not None:
            return line
        partial = self._splitter.pending
        self._splitter.reset()
        if partial:
            raise ReplyError(query, "reply cut short", partial.decode("ascii", "replace"))
        raise TransportTimeout(
            f"{self._port}: no answer to APC {query!r} within {READ_TIMEOUT_S:g} s"
        )

    # --- Queries ------------------------------------------------------------

    def _handshake(self) -> None:
        # Send: Y   Recv: SM
        error: ReplyError | None = None
        for _ in range(MAX_TRIES):
            try:
                line = self._ask(HANDSHAKE)
            except ReplyError as exc:
                error = exc
                continue
            if line.strip() == SMART_MODE:
                return
            error = ReplyError(HANDSHAKE, f"expected {SMART_MODE!r}", line)
        raise ProtocolError(f"{self._port}: not an APC Smart UPS: {error}")

    def _read_capabilities(self) -> Capabilities | None:
        # Send: a   Recv: 3.!$%+?=#|.<command characters>  (read verbatim: full of alert chars)
        try:
            return parse_capabilities(self._ask(CAPABILITIES, verbatim=True))
        except (UnsupportedCommand, ReplyError) as exc:
            log.info("%s: no capability list (%s); asking for everything", self._port, exc)
            return None

    def _offers(self, char: bytes) -> bool:
        if char in self._unsupported:
            return False
        return self._capabilities is None or char in self._capabilities.commands

    def _read_identity(self) -> dict[str, Value]:
        identity: dict[str, Value] = {"device.mfr": MFR}
        for query, var in ((MODEL, "device.model"), (SERIAL, "device.serial")):
            value = self._query(query, strict=False) if self._offers(query) else None
            if value is not None:
                identity[var] = value
        for query in (FIRMWARE, FIRMWARE_OLD):
            value = self._query(query, strict=False) if self._offers(query) else None
            if value is not None:
                identity["ups.firmware"] = value
                break
        return identity

    def _query(self, query: bytes, *, strict: bool) -> Value | None:
        """Ask one query from ``QUERIES``.

        Args:
            query: the query character.
            strict: a reply that holds no value is garbage: ask again, and
                raise after ``MAX_TRIES``. Otherwise it only means "unknown".

        Returns:
            The value, or None when the UPS answered ``NA`` (then it is not
            asked again) or, unless strict, holds no value.
        """
        error: ReplyError | None = None
        for _ in range(MAX_TRIES):
            try:
                line = self._ask(query)
                value = decode(query, line)
            except UnsupportedCommand:
                self._unsupported.add(query)
                return None
            except ReplyError as exc:
                error = exc
                continue
            if value is not None or not strict:
                return value
            error = ReplyError(query, "not a value", line)
        assert error is not None
        raise ProtocolError(f"{self._port}: {MAX_TRIES} bad replies in a row; last: {error}")

    def _read_status(self) -> Status:
        # Send: Q   Recv: 08 (on line) | 10 (on battery) | 50 (on battery, low) | SM (not yet)
        error: UpsError | None = None
        for _ in range(MAX_TRIES):
            # Alerts from before Q are already in its answer; one that arrives
            # with the answer (even amid "08") is newer, so it applies on top.
            self._drain()
            self._deferred = []
            try:
                status = parse_status(self._ask(STATUS))
            except ReplyError as exc:
                error = exc
                continue
            except UnsupportedCommand as exc:
                raise ProtocolError(f"{self._port}: the UPS has no status query: {exc}") from exc
            finally:
                deferred, self._deferred = self._deferred, None
            if status is not None:
                for alert in deferred:
                    status = apply_alert(status, alert)
                return status
            error = DataStale(f"{self._port}: the UPS has no status yet (answers SM)")
        if isinstance(error, DataStale):
            raise error
        raise ProtocolError(f"{self._port}: {MAX_TRIES} bad replies in a row; last: {error}")

    @staticmethod
    def _plan(name: str, value: str | None) -> CommandPlan:
        return_after_s: int | None = None
        if name == "shutdown.return" and value is not None:
            if not value.strip().isdigit():
                raise UnsupportedCommand(f"{name} needs whole seconds, got {value!r}")
            return_after_s = int(value)
        try:
            return build_command(name, return_after_s=return_after_s)
        except ValueError as exc:
            raise UnsupportedCommand(f"{name}: {exc}") from exc


def _text(value: Value | None) -> str | None:
    return value if isinstance(value, str) else None


def open_apcsmart(spec: DeviceSpec, clock: Clock) -> ApcSmartDriver:
    """Connect to the APC Smart-UPS an ``apcsmart:PORT`` spec names.

    Raises:
        NotFound: no such port.
        PermissionDenied: the OS refused access to the port.
        TransportError: the port is in use or failed.
        TransportTimeout: nothing answers on the port.
        ProtocolError: something answers, but not APC Smart.
    """
    return ApcSmartDriver(spec, clock)
