"""Pure Megatec/Q1 protocol code: parse Q1/QS, F and I replies, build instant commands."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from upsight.drivers.errors import ProtocolError, UnsupportedCommand
from upsight.drivers.model import Status, UpsFlag, UpsInfo, Value

# Every command and every reply ends in CR, never LF (protocols.md 1.1).
CR: Final = b"\r"
# The reply to commands that act on the UPS; nut's megatec subdriver counts it,
# like silence, as success (protocols.md 1.2).
ACK: Final = b"ACK"
RATING: Final = b"F\r"
INFO: Final = b"I\r"

# How much of a bad reply an error message shows.
_SHOWN_BYTES: Final = 60


class ReplyError(ProtocolError):
    """A Megatec reply has the wrong length, start byte, separators or status bits.

    Attributes:
        command: the command the reply answers, e.g. ``"Q1"``.
        reason: what was wrong, e.g. ``"expected 47 bytes including CR, got 12"``.
        reply: the reply as received.
    """

    def __init__(self, command: str, reason: str, reply: bytes) -> None:
        super().__init__(f"{command} reply: {reason}: {show_reply(reply)}")
        self.command = command
        self.reason = reason
        self.reply = reply


def show_reply(reply: bytes) -> str:
    """The reply as a Python bytes literal, cut short so a log line stays readable."""
    if len(reply) <= _SHOWN_BYTES:
        return repr(reply)
    return f"{reply[:_SHOWN_BYTES]!r}... ({len(reply)} bytes)"


class Dialect(enum.Enum):
    """The status inquiry a UPS answers; the value is the command to send.

    Both replies share the 47-byte layout. Mustek/Voltronic-QS units put the
    output frequency where Q1 has the input frequency, and their ``F`` rating
    describes the output (protocols.md 1.7).
    """

    Q1 = b"Q1\r"
    QS = b"QS\r"


@dataclass(frozen=True)
class _Column:
    """A fixed-width field: ``reply[start:end]`` (columns as in protocols.md, end exclusive)."""

    start: int
    end: int
    var: str


@dataclass(frozen=True)
class _Layout:
    """A reply's frame: start byte, total length with CR, and its numeric columns."""

    command: str
    start: bytes
    length: int
    columns: tuple[_Column, ...]


# Recv: (226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r  (protocols.md 1.4)
_STATUS_BITS_COLUMNS: Final = slice(38, 46)
_Q1_COLUMNS: Final = (
    _Column(1, 6, "input.voltage"),
    _Column(7, 12, "input.voltage.fault"),
    _Column(13, 18, "output.voltage"),
    _Column(19, 22, "ups.load"),
    _Column(23, 27, "input.frequency"),
    _Column(28, 32, "battery.voltage"),
    _Column(33, 37, "ups.temperature"),
)
_QS_COLUMNS: Final = tuple(
    _Column(c.start, c.end, "output.frequency") if c.var == "input.frequency" else c
    for c in _Q1_COLUMNS
)
# Recv: #220.0 000 024.0 50.0\r  (protocols.md 1.5)
_F_COLUMNS: Final = (
    _Column(1, 6, "input.voltage.nominal"),
    _Column(7, 10, "input.current.nominal"),
    _Column(11, 16, "battery.voltage.nominal"),
    _Column(17, 21, "input.frequency.nominal"),
)
_F_QS_COLUMNS: Final = tuple(
    _Column(c.start, c.end, c.var.replace("input.", "output.")) for c in _F_COLUMNS
)

_LAYOUTS: Final[Mapping[Dialect, _Layout]] = {
    Dialect.Q1: _Layout("Q1", b"(", 47, _Q1_COLUMNS),
    Dialect.QS: _Layout("QS", b"(", 47, _QS_COLUMNS),
}
_RATING_LAYOUTS: Final[Mapping[Dialect, _Layout]] = {
    Dialect.Q1: _Layout("F", b"#", 22, _F_COLUMNS),
    Dialect.QS: _Layout("F", b"#", 22, _F_QS_COLUMNS),
}
# Recv: #NOT_A_LIVE_UPS  TESTING    TESTING   \r  (protocols.md 1.6): '#', then
# company (15), model (10) and version (10), each followed by one space or the CR.
_INFO_LAYOUT: Final = _Layout("I", b"#", 39, ())
_INFO_FIELDS: Final = (("mfr", slice(1, 16)), ("model", slice(17, 27)), ("firmware", slice(28, 38)))

# Like nut's blazer, a field that is not a plain decimal number (e.g. ``---.-``)
# only makes that variable absent; float() alone would also take "nan" or "1_0".
_NUMBER: Final = re.compile(r" *[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+) *")
_STATUS_BITS: Final = re.compile(r"[01]{8}")


class Bit(enum.IntEnum):
    """Q1 status bits by position in the 8-character token: b7 is the first character."""

    UTILITY_FAIL = 0  # b7
    BATTERY_LOW = 1  # b6
    BYPASS_BOOST_BUCK = 2  # b5
    UPS_FAILED = 3  # b4
    STANDBY = 4  # b3: 1 = offline / line-interactive, 0 = online
    TEST = 5  # b2
    SHUTDOWN = 6  # b1
    BEEPER = 7  # b0


# Bits that map straight to a status flag: (flag when 1, flag when 0).
_FLAG_BITS: Final[Mapping[Bit, tuple[UpsFlag, UpsFlag]]] = {
    Bit.UTILITY_FAIL: (UpsFlag.OB, UpsFlag.OL),
    Bit.BATTERY_LOW: (UpsFlag.LB, UpsFlag.NONE),
    Bit.TEST: (UpsFlag.CAL, UpsFlag.NONE),
    Bit.SHUTDOWN: (UpsFlag.FSD, UpsFlag.NONE),
}
# Bits that set a text variable: (variable, text when 1, text when 0); the type
# strings are the ones NUT's Q1 drivers publish.
_TEXT_BITS: Final[Mapping[Bit, tuple[str, str, str]]] = {
    Bit.STANDBY: ("ups.type", "offline / line interactive", "online"),
    Bit.BEEPER: ("ups.beeper.status", "enabled", "disabled"),
}
# Bits that raise an alarm (ups.alarm, plus the ALARM flag) when 1.
_ALARM_BITS: Final[Mapping[Bit, str]] = {
    Bit.UPS_FAILED: "UPS failed",
    Bit.SHUTDOWN: "Shutdown imminent",
}

# b5 says only "bypass, boost or buck"; the output/input voltage ratio tells
# which (protocols.md 1.4). Upper bounds are exclusive; below 0.5 or from 1.5 up
# the ratio is implausible and the bit is ignored.
_REGULATION: Final[tuple[tuple[float, UpsFlag], ...]] = (
    (0.5, UpsFlag.NONE),
    (0.95, UpsFlag.TRIM),
    (1.05, UpsFlag.BYPASS),
    (1.5, UpsFlag.BOOST),
)


def _freeze(values: Mapping[str, Value]) -> Mapping[str, Value]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class StatusReply:
    """A parsed Q1/QS reply.

    Attributes:
        status: the flags from the status bits.
        values: NUT variables: voltages (V), load (%), frequency (Hz), battery
            voltage (V, as the UPS reports it until ``Battery.apply``),
            temperature (°C), ``ups.type``, ``ups.beeper.status`` and, when a
            bit raised one, ``ups.alarm``. A field the UPS left blank is absent.
        estimated: names of values guessed rather than measured.
    """

    status: Status
    values: Mapping[str, Value] = field(default_factory=dict)
    estimated: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _freeze(self.values))


def _frame(reply: bytes, layout: _Layout) -> str:
    """Check length and start byte; return the reply without its CR, one char per byte."""
    body = reply[:-1] if reply.endswith(CR) else reply
    if len(body) != layout.length - 1:
        raise ReplyError(
            layout.command,
            f"expected {layout.length} bytes including CR, got {len(reply)}",
            reply,
        )
    if body[:1] != layout.start:
        raise ReplyError(
            layout.command, f"expected start byte {layout.start!r}, got {body[:1]!r}", reply
        )
    # ASCII with replacement keeps one character per byte, so columns stay aligned.
    return body.decode("ascii", "replace")


def _numbers(text: str, reply: bytes, layout: _Layout) -> dict[str, float]:
    values: dict[str, float] = {}
    for column in layout.columns:
        if column.start > 1 and text[column.start - 1] != " ":
            raise ReplyError(
                layout.command, f"expected a space at column {column.start - 1}", reply
            )
        raw = text[column.start : column.end]
        if _NUMBER.fullmatch(raw):
            values[column.var] = float(raw)
    return values


def regulation_flag(input_v: float | None, output_v: float | None) -> UpsFlag:
    """Decide what an active bypass/boost/buck bit (b5) means.

    Args:
        input_v: ``input.voltage``, or None when the UPS left it blank.
        output_v: ``output.voltage``, or None when the UPS left it blank.

    Returns:
        TRIM when output < 0.95 * input, BYPASS when < 1.05 *, BOOST when
        < 1.5 *; NONE when a voltage is missing or output is below 0.5 * or at
        least 1.5 * input.
    """
    if input_v is None or output_v is None:
        return UpsFlag.NONE
    for factor, flag in _REGULATION:
        if output_v < factor * input_v:
            return flag
    return UpsFlag.NONE


def _number(values: Mapping[str, Value], var: str) -> float | None:
    value = values.get(var)
    return value if isinstance(value, float) else None


def parse_status(
    reply: bytes, *, dialect: Dialect = Dialect.Q1, ignore_sab: bool = False
) -> StatusReply:
    """Parse the reply to ``Q1`` (or ``QS``).

    Args:
        reply: the reply as read, with or without its final CR.
        dialect: which inquiry was sent; QS reports ``output.frequency``.
        ignore_sab: ignore the "shutdown active" bit (b1), as nut's
            ``ignoresab`` flag does for units that set it spuriously.

    Returns:
        The status and values. Fields that are not numbers (``---.-``) are
        absent. The battery voltage is as reported: see ``Battery``.

    Raises:
        ReplyError: wrong length, start byte, separator or status token.
    """
    layout = _LAYOUTS[dialect]
    text = _frame(reply, layout)
    values: dict[str, Value] = dict(_numbers(text, reply, layout))
    if text[_STATUS_BITS_COLUMNS.start - 1] != " ":
        raise ReplyError(
            layout.command, f"expected a space at column {_STATUS_BITS_COLUMNS.start - 1}", reply
        )
    token = text[_STATUS_BITS_COLUMNS]
    if not _STATUS_BITS.fullmatch(token):
        raise ReplyError(
            layout.command, f"status must be 8 characters of 0 and 1, got {token!r}", reply
        )
    bits = {bit: token[bit] == "1" for bit in Bit}
    if ignore_sab:
        bits[Bit.SHUTDOWN] = False

    flags = UpsFlag.NONE
    for bit, (flag_if_set, flag_if_clear) in _FLAG_BITS.items():
        flags |= flag_if_set if bits[bit] else flag_if_clear
    if bits[Bit.BYPASS_BOOST_BUCK]:
        flags |= regulation_flag(
            _number(values, "input.voltage"), _number(values, "output.voltage")
        )
    for bit, (var, text_if_set, text_if_clear) in _TEXT_BITS.items():
        values[var] = text_if_set if bits[bit] else text_if_clear
    alarms = [alarm for bit, alarm in _ALARM_BITS.items() if bits[bit]]
    if alarms:
        flags |= UpsFlag.ALARM
        values["ups.alarm"] = "; ".join(alarms)
    return StatusReply(Status(flags), values)


def parse_q1(reply: bytes, *, ignore_sab: bool = False) -> StatusReply:
    """Parse the reply to ``Q1``; see ``parse_status``."""
    return parse_status(reply, dialect=Dialect.Q1, ignore_sab=ignore_sab)


def parse_qs(reply: bytes, *, ignore_sab: bool = False) -> StatusReply:
    """Parse the reply to ``QS`` (Mustek / Voltronic-QS); see ``parse_status``."""
    return parse_status(reply, dialect=Dialect.QS, ignore_sab=ignore_sab)


def parse_rating(reply: bytes, *, dialect: Dialect = Dialect.Q1) -> Mapping[str, float]:
    """Parse the reply to ``F``, the UPS's ratings.

    Args:
        reply: the reply as read, with or without its final CR.
        dialect: QS units rate their output, so they report ``output.*.nominal``.

    Returns:
        ``input.voltage.nominal`` (V), ``input.current.nominal`` (A),
        ``battery.voltage.nominal`` (V, the whole battery) and
        ``input.frequency.nominal`` (Hz); blank fields are absent.

    Raises:
        ReplyError: wrong length, start byte or separator.
    """
    layout = _RATING_LAYOUTS[dialect]
    return MappingProxyType(_numbers(_frame(reply, layout), reply, layout))


def parse_info(reply: bytes) -> UpsInfo:
    """Parse the reply to ``I``: company, model and firmware version.

    Args:
        reply: the reply as read, with or without its final CR.

    Returns:
        An ``UpsInfo`` with ``mfr``, ``model`` and ``firmware``; a blank field is
        None (some units answer all blanks). The caller adds the driver name
        and USB ids with ``dataclasses.replace``.

    Raises:
        ReplyError: wrong length or start byte.
    """
    text = _frame(reply, _INFO_LAYOUT)
    fields = {name: text[columns].strip() or None for name, columns in _INFO_FIELDS}
    return UpsInfo(mfr=fields["mfr"], model=fields["model"], firmware=fields["firmware"])


# Battery packs nut tries, largest first, when the Q1 battery voltage may be per
# cell rather than for the whole battery (protocols.md 1.4).
PACKS: Final[tuple[float, ...]] = (120, 100, 80, 60, 48, 36, 30, 24, 18, 12, 8, 6, 4, 3, 2, 1, 0.5)
# packs * reported voltage must land within this band around the nominal voltage.
_PACK_BAND: Final = (0.8, 1.25)
# Without values from the UPS or the user, empty and full are 104/120 and 130/120
# of nominal: 10.40 V and 13.00 V for a 12 V battery (nut qx_initbattery()).
_LOW_PER_NOMINAL: Final = 104 / 120
_HIGH_PER_NOMINAL: Final = 130 / 120


def detect_packs(reported_v: float, nominal_v: float) -> float | None:
    """How many cells or packs the Q1 battery voltage must be multiplied by.

    Args:
        reported_v: the battery voltage from Q1 (per cell, e.g. 2.27, or total).
        nominal_v: the nominal battery voltage from ``F``.

    Returns:
        The first entry of ``PACKS`` that brings ``reported_v`` within
        0.8 to 1.25 * ``nominal_v`` (1 when the UPS already reports the total), or
        None when none does or either voltage is not positive.
    """
    if not (reported_v > 0 and nominal_v > 0 and math.isfinite(reported_v * nominal_v)):
        return None
    low, high = (factor * nominal_v for factor in _PACK_BAND)
    for packs in PACKS:
        total = packs * reported_v
        if total <= high:
            return packs if total >= low else None
    return None


@dataclass(frozen=True)
class Battery:
    """How to read the Q1 battery field: pack count and the empty/full voltages.

    Q1 reports no charge, so the charge is estimated linearly between
    ``low_v`` and ``high_v`` and marked as estimated.

    Attributes:
        nominal_v: nominal voltage of the whole battery.
        packs: multiplier from the reported to the total voltage.
        low_v: total voltage taken as empty (0 %).
        high_v: total voltage taken as full (100 %).
        derived: the variables among ``battery.voltage.low`` / ``.high`` that
            were derived from the nominal voltage rather than given.
    """

    nominal_v: float
    packs: float
    low_v: float
    high_v: float
    derived: frozenset[str] = frozenset()

    @classmethod
    def detect(
        cls,
        reported_v: float,
        nominal_v: float,
        *,
        packs: float | None = None,
        low_v: float | None = None,
        high_v: float | None = None,
    ) -> Battery | None:
        """Work out the pack count and charge range from one Q1 reading.

        Args:
            reported_v: the battery voltage from a Q1 reply.
            nominal_v: ``battery.voltage.nominal`` from the ``F`` reply.
            packs: the multiplier, if the user knows it; skips detection.
            low_v: the empty voltage, if known; else 104/120 * nominal.
            high_v: the full voltage, if known; else 130/120 * nominal.

        Returns:
            The battery model, or None when no pack count fits the voltages.

        Raises:
            ValueError: ``packs`` is not positive, or ``low_v`` is not below ``high_v``.
        """
        if packs is None:
            packs = detect_packs(reported_v, nominal_v)
            if packs is None:
                return None
        elif not packs > 0:
            raise ValueError(f"packs must be positive, got {packs}")
        derived = frozenset(
            var
            for var, given in (("battery.voltage.low", low_v), ("battery.voltage.high", high_v))
            if given is None
        )
        low = _LOW_PER_NOMINAL * nominal_v if low_v is None else low_v
        high = _HIGH_PER_NOMINAL * nominal_v if high_v is None else high_v
        if not low < high:
            raise ValueError(f"battery empty voltage {low} V must be below full {high} V")
        return cls(nominal_v, packs, low, high, derived)

    def charge(self, total_v: float) -> float:
        """Estimated charge in %, linear from ``low_v`` to ``high_v``, clamped to 0..100."""
        fraction = (total_v - self.low_v) / (self.high_v - self.low_v)
        return round(100.0 * min(1.0, max(0.0, fraction)), 1)

    def apply(self, reply: StatusReply) -> StatusReply:
        """Scale the battery voltage to the whole battery and add the charge estimate.

        Args:
            reply: a parsed Q1/QS reply with the voltage as reported.

        Returns:
            The reply with the total ``battery.voltage``, ``battery.charge``
            (when the voltage is known), ``battery.voltage.low`` and ``.high``.
            ``estimated`` names the charge and any derived low/high voltage.
        """
        values = dict(reply.values)
        values["battery.voltage.low"] = round(self.low_v, 2)
        values["battery.voltage.high"] = round(self.high_v, 2)
        estimated = set(reply.estimated | self.derived)
        reported = _number(values, "battery.voltage")
        if reported is not None:
            total = round(reported * self.packs, 2)
            values["battery.voltage"] = total
            values["battery.charge"] = self.charge(total)
            estimated.add("battery.charge")
        return replace(reply, values=values, estimated=frozenset(estimated))


# nut's defaults for ups.delay.shutdown and ups.delay.start (the Ippon dump shows both).
DEFAULT_OFFDELAY_S: Final = 30
DEFAULT_ONDELAY_S: Final = 180
OFFDELAY_RANGE_S: Final = range(12, 601)
ONDELAY_RANGE_S: Final = range(0, 599941)
TEST_DURATION_RANGE_S: Final = range(60, 5941)


def _check(name: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be {allowed.start}..{allowed.stop - 1} s, got {value}")


def _off_delay(offdelay_s: int) -> str:
    """``n`` of ``S<n>``: tenths of a minute below 60 s, else whole minutes.

    Truncates, as nut does: 59 s becomes ``.9`` (54 s), 119 s becomes ``01``.
    """
    _check("offdelay_s", offdelay_s, OFFDELAY_RANGE_S)
    if offdelay_s < 60:
        return f".{offdelay_s // 6}"
    return f"{offdelay_s // 60:02d}"


def _on_delay_min(ondelay_s: int) -> int:
    _check("ondelay_s", ondelay_s, ONDELAY_RANGE_S)
    return ondelay_s // 60


@dataclass(frozen=True)
class _Args:
    offdelay_s: int
    ondelay_s: int
    duration_s: int | None


def _shutdown_return(args: _Args) -> str:
    # Send: S.5R0003  (off in 30 s, back on 3 min later)
    # Send: S.5       (off in 30 s, back on when mains returns; for ondelay < 60 s)
    minutes = _on_delay_min(args.ondelay_s)
    suffix = f"R{minutes:04d}" if minutes else ""
    return f"S{_off_delay(args.offdelay_s)}{suffix}"


def _shutdown_stayoff(args: _Args) -> str:
    # Send: S.5R0000  (off in 30 s, stay off)
    return f"S{_off_delay(args.offdelay_s)}R0000"


def _timed_test(args: _Args) -> str:
    # Send: T05  (test for 5 minutes; seconds are truncated to whole minutes)
    if args.duration_s is None:
        raise ValueError("test.battery.start needs duration_s")
    _check("duration_s", args.duration_s, TEST_DURATION_RANGE_S)
    return f"T{args.duration_s // 60:02d}"


_Builder = Callable[[_Args], str]

# NUT instant command names → the command, without its CR (protocols.md 1.2).
_FIXED_COMMANDS: Final[Mapping[str, str]] = {
    "test.battery.start.quick": "T",  # 10-second test
    "test.battery.start.deep": "TL",  # until battery low
    "test.battery.stop": "CT",
    "beeper.toggle": "Q",
    "shutdown.stop": "C",
    "load.on": "C",  # cancelling a pending shutdown is what turns the load back on
    "load.off": "S00R0000",  # off now, stay off
}
_BUILT_COMMANDS: Final[Mapping[str, _Builder]] = {
    "test.battery.start": _timed_test,
    "shutdown.return": _shutdown_return,
    "shutdown.stayoff": _shutdown_stayoff,
}
COMMANDS: Final[frozenset[str]] = frozenset(_FIXED_COMMANDS) | frozenset(_BUILT_COMMANDS)


def build_command(
    name: str,
    *,
    offdelay_s: int = DEFAULT_OFFDELAY_S,
    ondelay_s: int = DEFAULT_ONDELAY_S,
    duration_s: int | None = None,
) -> bytes:
    """The bytes to send for a NUT instant command.

    Args:
        name: a name in ``COMMANDS``, e.g. ``"shutdown.return"``.
        offdelay_s: ``ups.delay.shutdown``, 12..600 s; truncated to 6 s steps
            below a minute and to whole minutes from a minute up.
        ondelay_s: ``ups.delay.start``, 0..599940 s, truncated to whole
            minutes; ``shutdown.return`` below a minute restarts when mains returns.
        duration_s: ``test.battery.start`` only: 60..5940 s, truncated to
            whole minutes.

    Returns:
        The command terminated by CR, e.g. ``b"S.5R0003\\r"``.

    Raises:
        UnsupportedCommand: ``name`` is not a Megatec command.
        ValueError: a delay or duration is out of range or missing.
    """
    fixed = _FIXED_COMMANDS.get(name)
    if fixed is not None:
        return fixed.encode("ascii") + CR
    builder = _BUILT_COMMANDS.get(name)
    if builder is None:
        raise UnsupportedCommand(f"{name} is not a Megatec command")
    return builder(_Args(offdelay_s, ondelay_s, duration_s)).encode("ascii") + CR


def command_result(sent: bytes, reply: bytes) -> bool:
    """Whether the UPS accepted an instant command.

    Args:
        sent: the command as sent, e.g. ``b"T\\r"``.
        reply: what came back before the read timed out (``b""`` for nothing).

    Returns:
        True for no reply or ``ACK``; False for any other answer (e.g. ``NAK``).

    Raises:
        UnsupportedCommand: the UPS echoed the command back, which is how
            Megatec units say they do not know it.
    """
    answer = reply.strip()
    if not answer or answer == ACK:
        return True
    if answer == sent.strip():
        raise UnsupportedCommand(f"the UPS echoed {show_reply(sent)}: command not supported")
    return False
