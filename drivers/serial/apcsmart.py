"""Pure APC Smart protocol code: query table, status byte, alert splitting, command plans."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from upsight.drivers.errors import ProtocolError, UnsupportedCommand
from upsight.drivers.model import Status, UpsFlag, Value, clean_serial

# Send: Y   Recv: SM\r\n  -- nothing else works until the UPS is in smart mode.
HANDSHAKE: Final = b"Y"
SMART_MODE: Final = "SM"
# Send: R   Recv: BYE\r\n -- back to dumb mode, e.g. when the driver exits.
DUMB_MODE: Final = b"R"
# The answer to an unknown or unavailable command.
NOT_AVAILABLE: Final = "NA"
STATUS: Final = b"Q"
CAPABILITIES: Final = b"a"
OK: Final = "OK"

# Replies end in CR LF; LF ends a line and CR is dropped (protocols.md 2.1).
_LF: Final = 0x0A
_CR: Final = 0x0D
# No reply is anywhere near this long (the capability string is about 80 bytes);
# a longer run without LF is cut so that line noise cannot grow the buffer.
MAX_LINE: Final = 512
_SHOWN_CHARS: Final = 60


class ReplyError(ProtocolError):
    """An APC Smart reply is not in the form its query allows.

    Attributes:
        query: the query character, e.g. ``b"Q"``.
        reason: what was wrong.
        reply: the reply line as received, without CR LF.
    """

    def __init__(self, query: bytes, reason: str, reply: str) -> None:
        shown = repr(reply) if len(reply) <= _SHOWN_CHARS else f"{reply[:_SHOWN_CHARS]!r}..."
        super().__init__(f"APC {query!r} reply: {reason}: {shown}")
        self.query = query
        self.reason = reason
        self.reply = reply


def _unsupported(sent: bytes, reply: str) -> None:
    if reply.strip() == NOT_AVAILABLE:
        raise UnsupportedCommand(f"the UPS answered NA to APC Smart {sent!r}")


def check_handshake(reply: str) -> None:
    """Check the reply to ``Y``.

    Raises:
        ReplyError: the UPS did not answer ``SM``.
    """
    if reply.strip() != SMART_MODE:
        raise ReplyError(HANDSHAKE, f"expected {SMART_MODE!r}", reply)


# --- Values ------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def _number(text: str) -> float | None:
    """A plain decimal number such as ``027.5``; anything else is absent."""
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    # A line may run to MAX_LINE digits, which float() turns into inf: no reading.
    number = float(stripped)
    return number if math.isfinite(number) else None


def _scaled(factor: float) -> Callable[[str], float | None]:
    def convert(text: str) -> float | None:
        number = _number(text)
        return None if number is None else number * factor

    return convert


def _runtime_min(text: str) -> float | None:
    # Recv: 0327:  (minutes; the colon ends the number)
    return _scaled(60.0)(text.strip().removesuffix(":"))


def _test_interval(text: str) -> float | None:
    # Recv: 336 | 168 (hours) | OFF (never) | "ON " (only at power-on: not an interval)
    stripped = text.strip()
    if stripped == "OFF":
        return 0.0
    return _scaled(3600.0)(stripped)


def _text(text: str) -> str | None:
    return text.strip() or None


def _choice(table: Mapping[str, Value]) -> Callable[[str], Value | None]:
    def convert(text: str) -> Value | None:
        return table.get(text.strip())

    return convert


def _choice_or_text(table: Mapping[str, str]) -> Callable[[str], Value | None]:
    def convert(text: str) -> Value | None:
        stripped = text.strip()
        return table.get(stripped, stripped or None)

    return convert


@dataclass(frozen=True)
class Query:
    """One APC Smart query character and the NUT variable its reply becomes.

    Attributes:
        char: the single byte to send.
        var: the NUT variable name.
        convert: reply text (without CR LF) to a value in NUT units, or None
            when the reply holds no value.
    """

    char: bytes
    var: str
    convert: Callable[[str], Value | None]


# protocols.md 2.2; units are converted to NUT's (seconds, not minutes or hours).
QUERIES: Final[Mapping[bytes, Query]] = {
    q.char: q
    for q in (
        Query(b"\x01", "ups.model", _text),  # ^A
        Query(b"B", "battery.voltage", _number),
        Query(b"C", "ups.temperature", _number),
        Query(b"F", "input.frequency", _number),
        Query(b"L", "input.voltage", _number),
        Query(b"M", "input.voltage.maximum", _number),
        Query(b"N", "input.voltage.minimum", _number),
        Query(b"O", "output.voltage", _number),
        Query(b"P", "ups.load", _number),
        Query(b"f", "battery.charge", _number),
        Query(b"j", "battery.runtime", _runtime_min),
        Query(b"n", "ups.serial", clean_serial),
        # New-format firmware, e.g. 50.9.D; prefer it to V when the UPS has both.
        Query(b"b", "ups.firmware", _text),
        # Old-format firmware, e.g. GWD, for units that answer NA to b.
        Query(b"V", "ups.firmware", _text),
        Query(b"g", "battery.voltage.nominal", _number),
        Query(
            b"G",
            "input.transfer.reason",
            _choice_or_text(
                {
                    "R": "rapid change of input voltage",
                    "H": "high input voltage",
                    "L": "low input voltage",
                    "T": "notch or spike on the line",
                    "O": "no transfer since power-on",
                    "S": "self-test or simulated power failure",
                }
            ),
        ),
        Query(
            b"X",
            "ups.test.result",
            _choice_or_text(
                {
                    "OK": "passed",
                    "BT": "failed: battery capacity",
                    "NG": "failed: overload",
                    "NO": "no result",
                }
            ),
        ),
        Query(b"l", "input.transfer.low", _number),
        Query(b"u", "input.transfer.high", _number),
        Query(b"o", "output.voltage.nominal", _number),
        Query(b"p", "ups.delay.shutdown", _number),
        Query(b"r", "ups.delay.start", _number),
        Query(b"q", "battery.runtime.low", _scaled(60.0)),
        # Codes, not percentages: 00 = 0 %, 01 = 15 %, 02 = 25 %, 03 = 90 %.
        Query(
            b"e",
            "battery.charge.restart",
            _choice({"00": 0.0, "01": 15.0, "02": 25.0, "03": 90.0}),
        ),
        Query(b"E", "ups.test.interval", _test_interval),
        Query(b"x", "battery.date", _text),
        Query(b"m", "ups.mfr.date", _text),
        Query(
            b"s",
            "input.sensitivity",
            _choice({"H": "high", "M": "medium", "L": "low", "A": "auto"}),
        ),
        Query(b"9", "input.quality", _choice_or_text({"00": "unacceptable", "FF": "acceptable"})),
        Query(b"/", "output.current", _number),
    )
}


def decode(char: bytes, reply: str) -> Value | None:
    """Convert the reply to a query into its NUT value.

    Args:
        char: the query character, a key of ``QUERIES``.
        reply: the reply line without CR LF, alerts removed.

    Returns:
        The value in NUT units, or None when the reply holds no value (a
        blank, a placeholder, an unknown code).

    Raises:
        UnsupportedCommand: the UPS answered ``NA``.
        KeyError: ``char`` is not in ``QUERIES``.
    """
    query = QUERIES[char]
    _unsupported(char, reply)
    return query.convert(reply)


# --- Status ------------------------------------------------------------------

# Bits of the Q reply, two hex digits (protocols.md 2.3).
STATUS_BITS: Final[Mapping[int, UpsFlag]] = {
    0x01: UpsFlag.CAL,
    0x02: UpsFlag.TRIM,
    0x04: UpsFlag.BOOST,
    0x08: UpsFlag.OL,
    0x10: UpsFlag.OB,
    0x20: UpsFlag.OVER,
    0x40: UpsFlag.LB,
    0x80: UpsFlag.RB,
}
_HEX_BYTE: Final = re.compile(r"[0-9A-Fa-f]{1,2}")


def parse_status(reply: str) -> Status | None:
    """Parse the reply to ``Q``.

    Args:
        reply: the reply line without CR LF, alerts removed, e.g. ``"08"``.

    Returns:
        The status (``OFF`` when no bit is set), or None when the UPS answered
        ``SM``: it has no status yet and should be asked again.

    Raises:
        UnsupportedCommand: the UPS answered ``NA``.
        ReplyError: the reply is not a hex byte.
    """
    # Send: Q   Recv: 08 (on line) | 10 (on battery) | 50 (on battery, low battery)
    stripped = reply.strip()
    if stripped == SMART_MODE:
        return None
    _unsupported(STATUS, stripped)
    if not _HEX_BYTE.fullmatch(stripped):
        raise ReplyError(STATUS, "expected two hex digits", reply)
    byte = int(stripped, 16)
    flags = UpsFlag.NONE
    for mask, flag in STATUS_BITS.items():
        if byte & mask:
            flags |= flag
    return Status(flags or UpsFlag.OFF)


@dataclass(frozen=True)
class Capabilities:
    """The reply to ``a``: what this UPS says it supports.

    Attributes:
        protocol: the protocol version, e.g. ``"3"``.
        alerts: the alert characters it may send.
        commands: the command and query bytes it understands.
    """

    protocol: str
    alerts: frozenset[str]
    commands: frozenset[bytes]


def parse_capabilities(reply: str) -> Capabilities:
    """Parse the reply to ``a``, which must be read with ``verbatim=True``.

    Args:
        reply: e.g. ``"3.!$%+?=#|.\\x01\\x0e\\x1a'()*+-789:<>@ABC..."``: version,
            alert characters and command characters, separated by dots.

    Returns:
        The capabilities.

    Raises:
        UnsupportedCommand: the UPS answered ``NA`` (very old firmware).
        ReplyError: fewer than three dot-separated parts.
    """
    _unsupported(CAPABILITIES, reply)
    parts = reply.split(".", 2)
    if len(parts) != 3:
        raise ReplyError(CAPABILITIES, "expected version.alerts.commands", reply)
    protocol, alerts, commands = parts
    return Capabilities(
        protocol,
        frozenset(alerts),
        frozenset(c.encode("latin-1") for c in commands if ord(c) < 0x100),
    )


# --- Alerts and framing --------------------------------------------------------


class Alert(enum.Enum):
    """Characters the UPS sends unprompted, even in the middle of a reply (protocols.md 2.4)."""

    LINE_FAIL = "!"  # repeated every 30 s until low battery
    LINE_RESTORED = "$"
    LOW_BATTERY = "%"
    LOW_BATTERY_CLEARED = "+"
    ABNORMAL = "?"  # e.g. shutdown due to overload; also within 10 min of turn-on
    ABNORMAL_CLEARED = "="
    TURNING_OFF = "*"  # about to turn off the load; older units' OK to shutdown commands
    REPLACE_BATTERY = "#"  # repeated every 5 hours
    CHECK_ALARMS = "&"  # Measure-UPS alarm register
    EEPROM_CHANGED = "|"


_ALERT_BYTES: Final[Mapping[int, Alert]] = {ord(a.value): a for a in Alert}


@dataclass(frozen=True)
class AlertEffect:
    """How an alert changes the status: flags to set, then flags to clear."""

    set: UpsFlag = UpsFlag.NONE
    clear: UpsFlag = UpsFlag.NONE


# Alerts missing here (TURNING_OFF, CHECK_ALARMS, EEPROM_CHANGED) leave the status alone.
ALERT_EFFECTS: Final[Mapping[Alert, AlertEffect]] = {
    Alert.LINE_FAIL: AlertEffect(set=UpsFlag.OB, clear=UpsFlag.OL),
    Alert.LINE_RESTORED: AlertEffect(set=UpsFlag.OL, clear=UpsFlag.OB),
    Alert.LOW_BATTERY: AlertEffect(set=UpsFlag.LB),
    Alert.LOW_BATTERY_CLEARED: AlertEffect(clear=UpsFlag.LB),
    Alert.ABNORMAL: AlertEffect(set=UpsFlag.OVER),
    Alert.ABNORMAL_CLEARED: AlertEffect(clear=UpsFlag.OVER),
    Alert.REPLACE_BATTERY: AlertEffect(set=UpsFlag.RB),
}


def apply_alert(status: Status, alert: Alert) -> Status:
    """The status after an alert, until the next ``Q`` reply says otherwise."""
    effect = ALERT_EFFECTS.get(alert)
    if effect is None:
        return status
    return replace(status, flags=(status.flags & ~effect.clear) | effect.set)


Item = str | Alert


class ReplySplitter:
    """Splits the bytes from a smart-mode UPS into reply lines and alerts.

    Feed it whatever the port returned, in any chunks; it keeps a partial line
    until its LF arrives. Alert characters are taken out wherever they appear,
    so ``27!.00\\r\\n`` yields ``Alert.LINE_FAIL`` and then ``"27.00"``.
    """

    def __init__(self) -> None:
        self._line = bytearray()

    @property
    def pending(self) -> bytes:
        """The partial line received so far."""
        return bytes(self._line)

    def reset(self) -> None:
        """Drop a partial line, e.g. after a read timed out."""
        self._line.clear()

    def feed(self, data: bytes, *, verbatim: bool = False) -> list[Item]:
        """Take more bytes from the port.

        Args:
            data: the bytes read.
            verbatim: keep alert characters in the line. Use it only for
                replies made of such characters (``a``, ``^Z``), which
                otherwise would be taken apart; an alert then ends up in the line.

        Returns:
            Complete reply lines (without CR LF; ASCII, anything else replaced
            by U+FFFD) and alerts, in the order they arrived.
        """
        items: list[Item] = []
        for byte in data:
            alert = None if verbatim else _ALERT_BYTES.get(byte)
            if alert is not None:
                items.append(alert)
            elif byte == _LF:
                items.append(self._take())
            elif byte != _CR:
                self._line.append(byte)
                if len(self._line) >= MAX_LINE:
                    items.append(self._take())
        return items

    def _take(self) -> str:
        line = self._line.decode("ascii", "replace")
        self._line.clear()
        return line


# --- Commands ------------------------------------------------------------------

# K, Z and ^N act only when sent twice, more than 1.5 s apart; the margin
# covers a sleep that returns a little early on some platforms.
REPEAT_GAP_S: Final = 1.6
# The UPS drops characters of a multi-character command sent back to back.
CHAR_GAP_S: Final = 0.1
# @nnn counts tenths of an hour.
RETURN_UNIT_S: Final = 360
RETURN_RANGE_S: Final = range(0, 1000 * RETURN_UNIT_S)


@dataclass(frozen=True)
class CommandPlan:
    """How to send one instant command.

    Attributes:
        data: the bytes to send.
        char_gap_s: pause between the bytes of ``data``.
        repeat_after_s: when set, send ``data`` again after this pause; the
            command acts only on the second send.
    """

    data: bytes
    char_gap_s: float = 0.0
    repeat_after_s: float | None = None


# NUT instant command names (protocols.md 2.2 action commands).
_PLANS: Final[Mapping[str, CommandPlan]] = {
    "test.panel.start": CommandPlan(b"A"),
    "test.battery.start": CommandPlan(b"W"),
    # D toggles calibration, so it both starts and stops it; CAL shows which.
    "calibrate.start": CommandPlan(b"D"),
    "calibrate.stop": CommandPlan(b"D"),
    "test.failure.start": CommandPlan(b"U"),
    "shutdown.stayoff": CommandPlan(b"K", repeat_after_s=REPEAT_GAP_S),
    "load.off": CommandPlan(b"Z", repeat_after_s=REPEAT_GAP_S),
    "load.on": CommandPlan(b"\x0e", repeat_after_s=REPEAT_GAP_S),  # ^N
    "shutdown.stop": CommandPlan(b"\x7f"),  # DEL aborts a pending shutdown
}
COMMANDS: Final[frozenset[str]] = frozenset(_PLANS) | {"shutdown.return"}


def build_command(name: str, *, return_after_s: int | None = None) -> CommandPlan:
    """How to send a NUT instant command.

    Args:
        name: a name in ``COMMANDS``.
        return_after_s: ``shutdown.return`` only. None sends ``S``, a soft
            shutdown that returns with mains and works only on battery; a value
            of 0..359999 s sends ``@nnn``, returning after that time truncated
            to 6-minute units.

    Returns:
        The plan: bytes, pause between them and whether to repeat.

    Raises:
        UnsupportedCommand: ``name`` is not an APC Smart command.
        ValueError: ``return_after_s`` is out of range.
    """
    if name == "shutdown.return":
        if return_after_s is None:
            return CommandPlan(b"S")
        if return_after_s not in RETURN_RANGE_S:
            raise ValueError(
                f"return_after_s must be 0..{RETURN_RANGE_S.stop - 1} s, got {return_after_s}"
            )
        # Send: @003  (off after the grace delay, back on 18 minutes later)
        units = return_after_s // RETURN_UNIT_S
        return CommandPlan(f"@{units:03d}".encode("ascii"), char_gap_s=CHAR_GAP_S)
    plan = _PLANS.get(name)
    if plan is None:
        raise UnsupportedCommand(f"{name} is not an APC Smart command")
    return plan


def command_result(sent: bytes, reply: Item) -> bool | None:
    """Whether the UPS accepted an instant command.

    Args:
        sent: the command byte(s) sent, for the error message.
        reply: the next line or alert from ``ReplySplitter`` after the command.

    Returns:
        True for ``OK``, or ``*`` which older units send instead; False for
        any other line; None for any other alert, which is not a reply: apply
        it and look at the next item.

    Raises:
        UnsupportedCommand: the UPS answered ``NA``.
    """
    if isinstance(reply, Alert):
        return True if reply is Alert.TURNING_OFF else None
    _unsupported(sent, reply)
    return reply.strip() == OK
