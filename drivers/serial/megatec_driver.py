"""The ``megatec:PORT`` driver: a Megatec/Q1 UPS on a serial port or pyserial URL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Final, TypeVar

from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.errors import ProtocolError, TransportTimeout, UnsupportedCommand
from upsight.drivers.model import Reading, UpsInfo, Value
from upsight.drivers.serial.megatec import COMMANDS as PROTOCOL_COMMANDS
from upsight.drivers.serial.megatec import (
    CR,
    DEFAULT_OFFDELAY_S,
    DEFAULT_ONDELAY_S,
    INFO,
    RATING,
    Battery,
    Dialect,
    ReplyError,
    StatusReply,
    build_command,
    command_result,
    parse_info,
    parse_q1,
    parse_rating,
    show_reply,
)
from upsight.drivers.serial.transport import DTR_ONLY, READ_TIMEOUT_S, SerialTransport
from upsight.drivers.spec import DeviceSpec

log = logging.getLogger(__name__)

# Like nut's nutdrv_qx (MAXTRIES): a reply cut short or garbled by line noise
# is asked for again, up to this many times in all.
MAX_TRIES: Final = 3
# Cables that power the UPS's interface from DTR need a moment after the port
# opens; nut's blazer_ser waits 0.1 s.
SETTLE_S: Final = 0.1
# Values that Upsight guessed rather than read, space-separated, e.g.
# "battery.charge battery.voltage.high battery.voltage.low". Q1 reports no
# charge, so it is estimated from the battery voltage; a display marks these.
ESTIMATED: Final = "upsight.estimated"

_BEEPER: Final[Mapping[str, str]] = {"beeper.enable": "enabled", "beeper.disable": "disabled"}
COMMANDS: Final[frozenset[str]] = PROTOCOL_COMMANDS | frozenset(_BEEPER)

# Ports whose unit stopped answering after an I or F query (some lock up,
# protocols.md 1.6). They are not asked again while this process runs, so that
# a reconnect does not lock the unit up once more.
_LOCKING_QUERIES: dict[str, set[bytes]] = {}
_LOCKING_LOCK = threading.Lock()

_T = TypeVar("_T")


def _locks_up(port: str, query: bytes) -> bool:
    with _LOCKING_LOCK:
        return query in _LOCKING_QUERIES.get(port, set())


def _remember_lock_up(port: str, query: bytes) -> None:
    with _LOCKING_LOCK:
        _LOCKING_QUERIES.setdefault(port, set()).add(query)


class MegatecDriver(Driver):
    """Reads a Megatec/Q1 unit: ``F`` and ``I`` once, ``Q1`` on every poll.

    Args:
        spec: a ``megatec:PORT`` spec.
        clock: stamps the readings.

    Raises:
        NotFound, PermissionDenied, TransportError: the port cannot be opened.
        TransportTimeout: nothing answers ``Q1`` on the port.
        ProtocolError: something answers, but not in Q1's format.
    """

    def __init__(self, spec: DeviceSpec, clock: Clock) -> None:
        self._port = spec.target
        self._clock = clock
        self._battery: Battery | None = None
        self._transport = SerialTransport(self._port, lines=DTR_ONLY, settle_s=SETTLE_S)
        try:
            # Ask Q1 first: it proves a Megatec unit is there before the optional queries.
            self._status()
            self._rating: Mapping[str, float] = self._optional(RATING, parse_rating) or {}
            self._info = replace(self._optional(INFO, parse_info) or UpsInfo(), driver="megatec")
        except BaseException:
            self._transport.close()
            raise
        self._static = self._static_values()

    def info(self) -> UpsInfo:
        return self._info

    def commands(self) -> frozenset[str]:
        return COMMANDS

    def read(self) -> Reading:
        """Send ``Q1`` and return its status and values.

        The charge is estimated from the battery voltage once the ``F``
        nominal voltage is known, and named in ``upsight.estimated``.

        Raises:
            TransportTimeout: the unit did not answer.
            Disconnected: the port went away.
            ProtocolError: three replies in a row were cut short or garbled.
        """
        reply = self._with_battery(self._status())
        values: dict[str, Value] = dict(self._static)
        values.update(reply.values)
        if reply.estimated:
            values[ESTIMATED] = " ".join(sorted(reply.estimated))
        return Reading(self._clock.time(), reply.status, values)

    def run(self, name: str, value: str | None = None) -> None:
        """Run an instant command.

        Args:
            name: a name from ``commands()``.
            value: ``test.battery.start`` only: the duration in seconds (60..5940).

        Raises:
            UnsupportedCommand: unknown here, a bad value, or the unit echoed
                the command back (its way of saying it does not know it) or
                refused it.
            TransportError: the link failed.
        """
        if name not in COMMANDS:
            raise UnsupportedCommand(f"{name} is not a Megatec command")
        wanted = _BEEPER.get(name)
        if wanted is not None:
            # There is only a toggle, so look first: Q1's b0 says whether it beeps.
            if self._status().values.get("ups.beeper.status") == wanted:
                return
            name = "beeper.toggle"
        data = self._build(name, value)
        # Send: T\r   Recv: nothing or ACK\r (accepted) | T\r (echo: unsupported)
        reply = self._exchange(data)
        if not command_result(data, reply):
            raise UnsupportedCommand(f"the UPS refused {name}: {show_reply(reply)}")

    def close(self) -> None:
        self._transport.close()

    @staticmethod
    def _build(name: str, value: str | None) -> bytes:
        duration_s: int | None = None
        if name == "test.battery.start":
            if value is None or not value.strip().isdigit():
                raise UnsupportedCommand(f"{name} needs a duration in seconds, got {value!r}")
            duration_s = int(value)
        try:
            return build_command(name, duration_s=duration_s)
        except ValueError as exc:
            raise UnsupportedCommand(f"{name}: {exc}") from exc

    def _exchange(self, command: bytes) -> bytes:
        # A late reply to an earlier command would otherwise be read as this one's.
        self._transport.flush_input()
        self._transport.write(command)
        return self._transport.read_until(CR)

    def _status(self) -> StatusReply:
        # Send: Q1\r   Recv: (230.0 230.0 230.0 015 50.0 13.6 25.0 00001001\r
        error: ReplyError | None = None
        for _ in range(MAX_TRIES):
            reply = self._exchange(Dialect.Q1.value)
            if not reply:
                raise TransportTimeout(f"{self._port}: no answer to Q1 within {READ_TIMEOUT_S:g} s")
            try:
                return parse_q1(reply)
            except ReplyError as exc:
                error = exc
        assert error is not None
        raise ProtocolError(f"{self._port}: {MAX_TRIES} bad replies in a row; last: {error}")

    def _optional(self, query: bytes, parse: Callable[[bytes], _T]) -> _T | None:
        """Ask ``I`` or ``F``; None when the unit does not answer it usefully."""
        if _locks_up(self._port, query):
            return None
        for _ in range(MAX_TRIES):
            reply = self._exchange(query)
            if not reply:
                self._check_alive(query)
                return None
            if reply.strip() == query.strip():
                log.info("%s: the UPS does not know %r (echoed)", self._port, query)
                return None
            try:
                return parse(reply)
            except ReplyError as exc:
                log.debug("%s: %s", self._port, exc)
        log.warning("%s: no usable reply to %r; going without it", self._port, query)
        return None

    def _check_alive(self, query: bytes) -> None:
        """After silence to ``query``: fine if Q1 still works, else the unit locked up."""
        try:
            self._status()
        except TransportTimeout as exc:
            _remember_lock_up(self._port, query)
            raise TransportTimeout(
                f"{self._port}: the UPS stopped answering after {query!r}; "
                "that query will not be sent to it again"
            ) from exc

    def _with_battery(self, reply: StatusReply) -> StatusReply:
        if self._battery is None:
            nominal = self._rating.get("battery.voltage.nominal")
            reported = reply.values.get("battery.voltage")
            if nominal is None or not isinstance(reported, float):
                return reply
            self._battery = Battery.detect(reported, nominal)
            if self._battery is None:
                return reply
        return self._battery.apply(reply)

    def _static_values(self) -> dict[str, Value]:
        values: dict[str, Value] = dict(self._rating)
        identity = {
            "device.mfr": self._info.mfr,
            "device.model": self._info.model,
            "ups.firmware": self._info.firmware,
        }
        values.update({var: text for var, text in identity.items() if text})
        # The delays shutdown.return and shutdown.stayoff send (nut's defaults).
        values["ups.delay.shutdown"] = float(DEFAULT_OFFDELAY_S)
        values["ups.delay.start"] = float(DEFAULT_ONDELAY_S)
        return values


def open_megatec(spec: DeviceSpec, clock: Clock) -> MegatecDriver:
    """Connect to the Megatec/Q1 UPS a ``megatec:PORT`` spec names.

    Raises:
        NotFound: no such port.
        PermissionDenied: the OS refused access to the port.
        TransportError: the port is in use or failed.
        TransportTimeout: nothing answers on the port.
        ProtocolError: something answers, but not Megatec/Q1.
    """
    return MegatecDriver(spec, clock)
