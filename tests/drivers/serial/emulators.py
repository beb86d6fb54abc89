"""Pure emulated Megatec/Q1 and APC Smart UPSes that answer byte for byte like real units."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

# Replies are the ones NUT's nutdrv_qx and apcsmart accept (test-peers.md 2a, 2b),
# so the same emulators can sit behind a socat pty. Tests drive them by setting a
# frozen state; nothing here does I/O.
CR: Final = b"\r"
CRLF: Final = b"\r\n"


def fixed(value: float, width: int, decimals: int) -> str:
    """``value`` zero-padded to exactly ``width`` characters, as the wire format needs.

    Raises:
        ValueError: the value does not fit the field.
    """
    text = f"{value:0{width}.{decimals}f}"
    if len(text) != width:
        raise ValueError(f"{value} does not fit a {width}-character field")
    return text


# --- Megatec / Q1 -----------------------------------------------------------------


@dataclass(frozen=True)
class MegatecState:
    """What the emulated Megatec unit reports and how it treats commands.

    The defaults reproduce test-peers.md 2a's replies exactly.

    Attributes:
        mains: utility present; when False, status bit b7 is set and the input
            voltage reads 000.0 as on a real unit.
        battery_v: the Q1 battery field: per cell (2.xx) or total.
        low_battery: bit b6.
        regulating: bit b5 (bypass, boost or buck).
        failed: bit b4.
        standby: bit b3, an offline / line-interactive unit.
        testing: bit b2; set by the test commands, cleared by ``CT``.
        shutdown_active: bit b1; set by ``S...``, cleared by ``C``.
        beeper: bit b0; toggled by ``Q``.
        instant_commands: the unit knows T, TL, Tnn, Q, S..., C and CT; when
            False they count as unknown.
        echo_unknown: unknown commands are echoed back, as real units do;
            when False they get no reply.
        ack: known instant commands are answered ``ACK`` instead of nothing.
    """

    mains: bool = True
    input_v: float = 230.0
    input_fault_v: float = 230.0
    output_v: float = 230.0
    load_pct: int = 15
    frequency_hz: float = 50.0
    battery_v: float = 13.6
    temperature_c: float = 25.0
    low_battery: bool = False
    regulating: bool = False
    failed: bool = False
    standby: bool = True
    testing: bool = False
    shutdown_active: bool = False
    beeper: bool = True
    rating_v: float = 230.0
    rating_a: int = 4
    battery_nominal_v: float = 12.0
    rating_hz: float = 50.0
    mfr: str = "ACME"
    model: str = "UPS-1000"
    firmware: str = "V1.0"
    instant_commands: bool = True
    echo_unknown: bool = True
    ack: bool = False


def _bit(flag: bool) -> str:
    return "1" if flag else "0"


def q1_reply(state: MegatecState) -> bytes:
    """The 47-byte reply to ``Q1``.

    Recv: (230.0 230.0 230.0 015 50.0 13.6 25.0 00001001\\r
    """
    battery = fixed(state.battery_v, 4, 2 if state.battery_v < 10 else 1)
    bits = "".join(
        _bit(flag)
        for flag in (
            not state.mains,
            state.low_battery,
            state.regulating,
            state.failed,
            state.standby,
            state.testing,
            state.shutdown_active,
            state.beeper,
        )
    )
    fields = (
        fixed(state.input_v if state.mains else 0.0, 5, 1),
        fixed(state.input_fault_v, 5, 1),
        fixed(state.output_v, 5, 1),
        fixed(state.load_pct, 3, 0),
        fixed(state.frequency_hz, 4, 1),
        battery,
        fixed(state.temperature_c, 4, 1),
        bits,
    )
    return ("(" + " ".join(fields)).encode("ascii") + CR


def f_reply(state: MegatecState) -> bytes:
    """The 22-byte reply to ``F``.

    Recv: #230.0 004 12.00 50.0\\r
    """
    fields = (
        fixed(state.rating_v, 5, 1),
        fixed(state.rating_a, 3, 0),
        fixed(state.battery_nominal_v, 5, 2 if state.battery_nominal_v < 100 else 1),
        fixed(state.rating_hz, 4, 1),
    )
    return ("#" + " ".join(fields)).encode("ascii") + CR


def i_reply(state: MegatecState) -> bytes:
    """The 39-byte reply to ``I``: '#', then 15, 10 and 10 characters, space-padded.

    Recv: #ACME            UPS-1000   V1.0      \\r
    """
    text = f"#{state.mfr:<15.15} {state.model:<10.10} {state.firmware:<10.10}"
    return text.encode("ascii") + CR


_Action = Callable[[MegatecState], MegatecState]

# Instant commands a Megatec unit knows, and what each does to the state.
_MEGATEC_ACTIONS: Final[tuple[tuple[re.Pattern[str], _Action], ...]] = (
    (re.compile(r"T|TL|T[0-9]{2}"), lambda s: replace(s, testing=True)),
    (re.compile(r"CT"), lambda s: replace(s, testing=False)),
    (re.compile(r"Q"), lambda s: replace(s, beeper=not s.beeper)),
    (
        re.compile(r"S(?:\.[2-9]|0[0-9]|10)(?:R[0-9]{4})?"),
        lambda s: replace(s, shutdown_active=True),
    ),
    (re.compile(r"C"), lambda s: replace(s, shutdown_active=False)),
)
_MEGATEC_QUERIES: Final[Mapping[str, Callable[[MegatecState], bytes]]] = {
    "Q1": q1_reply,
    "F": f_reply,
    "I": i_reply,
}


class MegatecEmulator:
    """A Megatec/Q1 UPS: one CR-terminated command in, its reply out.

    Attributes:
        state: what the unit reports; tests replace it or call ``update``.
        received: every command handled, without CR, oldest first.
    """

    def __init__(self, state: MegatecState | None = None) -> None:
        self.state = state or MegatecState()
        self.received: list[bytes] = []
        self._partial = b""

    def update(self, **changes: Any) -> None:
        """Change some state fields, e.g. ``update(mains=False, low_battery=True)``."""
        self.state = replace(self.state, **changes)

    def handle(self, command: bytes) -> bytes:
        """Answer one command.

        Args:
            command: the command, with or without its final CR.

        Returns:
            The reply with its CR; ``b""`` when the unit stays silent (known
            instant commands without ``ack``). Unknown commands are echoed back
            when ``echo_unknown`` is set, as real units do.
        """
        body = command.removesuffix(CR)
        self.received.append(body)
        text = body.decode("ascii", "replace")
        query = _MEGATEC_QUERIES.get(text)
        if query is not None:
            return query(self.state)
        if self.state.instant_commands:
            for pattern, action in _MEGATEC_ACTIONS:
                if pattern.fullmatch(text):
                    self.state = action(self.state)
                    return b"ACK" + CR if self.state.ack else b""
        return body + CR if self.state.echo_unknown else b""

    def feed(self, data: bytes) -> bytes:
        """Take bytes as a serial port delivers them; answer each complete command."""
        self._partial += data
        *commands, self._partial = self._partial.split(CR)
        return b"".join(self.handle(command) for command in commands)


# --- APC Smart ----------------------------------------------------------------------

# The capability reply ("a") of a real Smart-UPS, from test-peers.md 2b: protocol
# version, alert characters, command characters.
REALISTIC_CAPABILITIES: Final = (
    "3.!$%+?=#|.\x01\x0e\x1a'()*+-789:<>@ABCDEFGKLMNOPQRSUVWXYZabcdefgjklmnopqrsuxyz~"
)


@dataclass(frozen=True)
class ApcState:
    """What the emulated Smart-UPS reports.

    The defaults reproduce test-peers.md 2b's replies exactly.

    Attributes:
        mains: on line (Q bit 0x08) or on battery (0x10); input reads 000.0
            on battery.
        low_battery: Q bit 0x40.
        replace_battery: Q bit 0x80.
        overload: Q bit 0x20.
        trim / boost / calibrating: Q bits 0x02 / 0x04 / 0x01.
        status_ready: when False, Q is answered ``SM`` as just after power-on.
        runtime_min: the ``j`` reply, in minutes.
        send_alerts: changing mains, low_battery, overload or
            replace_battery through ``update`` queues the matching alert
            character, as a real unit sends it unprompted.
        smart: in smart mode (after ``Y``); in dumb mode nothing but ``Y`` is
            answered.
    """

    mains: bool = True
    low_battery: bool = False
    replace_battery: bool = False
    overload: bool = False
    trim: bool = False
    boost: bool = False
    calibrating: bool = False
    status_ready: bool = True
    charge_pct: float = 100.0
    battery_v: float = 27.0
    input_v: float = 230.0
    output_v: float = 230.0
    load_pct: float = 15.0
    temperature_c: float = 25.0
    frequency_hz: float = 50.0
    runtime_min: int = 30
    model: str = "Smart-UPS 1000"
    firmware: str = "50.9.D"
    firmware_old: str = "GWD"
    serial: str = "AS0123456789"
    capabilities: str = REALISTIC_CAPABILITIES
    send_alerts: bool = True
    smart: bool = False


def status_byte(state: ApcState) -> int:
    """The Q status bits for a state (protocols.md 2.3)."""
    bits = (
        (state.calibrating, 0x01),
        (state.trim, 0x02),
        (state.boost, 0x04),
        (state.mains, 0x08),
        (not state.mains, 0x10),
        (state.overload, 0x20),
        (state.low_battery, 0x40),
        (state.replace_battery, 0x80),
    )
    return sum(mask for on, mask in bits if on)


def _q(state: ApcState) -> str:
    return f"{status_byte(state):02X}" if state.status_ready else "SM"


# Replies without CR LF (test-peers.md 2b); every other byte gets NA.
_APC_REPLIES: Final[Mapping[bytes, Callable[[ApcState], str]]] = {
    b"\x01": lambda s: s.model,
    b"f": lambda s: fixed(s.charge_pct, 5, 1),
    b"L": lambda s: fixed(s.input_v if s.mains else 0.0, 5, 1),
    b"O": lambda s: fixed(s.output_v, 5, 1),
    b"Q": _q,
    b"P": lambda s: fixed(s.load_pct, 5, 1),
    b"B": lambda s: fixed(s.battery_v, 5, 2),
    b"C": lambda s: fixed(s.temperature_c, 5, 1),
    b"V": lambda s: s.firmware_old,
    b"b": lambda s: s.firmware,
    b"n": lambda s: s.serial,
    b"j": lambda s: f"{s.runtime_min:04d}:",
    b"F": lambda s: fixed(s.frequency_hz, 5, 2),
    b"a": lambda s: s.capabilities,
}
# (state field, alert when it becomes True, alert when it becomes False).
_TRANSITION_ALERTS: Final = (
    ("mains", "$", "!"),
    ("low_battery", "%", "+"),
    ("overload", "?", "="),
    ("replace_battery", "#", ""),
)


class ApcSmartEmulator:
    """An APC Smart-UPS: one command byte in, its reply out.

    Attributes:
        state: what the unit reports; tests replace it or call ``update``.
        received: every byte handled, oldest first.
    """

    def __init__(self, state: ApcState | None = None) -> None:
        self.state = state or ApcState()
        self.received: list[bytes] = []
        # (offset into the next reply, alert characters), in the order queued.
        self._alerts: list[tuple[int, str]] = []

    def update(self, **changes: Any) -> None:
        """Change some state fields, queueing the alerts a real unit would send."""
        old = self.state
        self.state = replace(old, **changes)
        if not self.state.send_alerts:
            return
        for name, rising, falling in _TRANSITION_ALERTS:
            before, after = getattr(old, name), getattr(self.state, name)
            alert = rising if after and not before else falling if before and not after else ""
            if alert:
                self.inject(alert)

    def inject(self, alerts: str, at: int = 0) -> None:
        """Send alert characters with the next reply.

        Args:
            alerts: e.g. ``"!"``.
            at: byte offset into the next reply (CR LF included); 0 puts them
                before it, 2 splits ``27.00`` into ``27!.00``.
        """
        self._alerts.append((at, alerts))

    def unsolicited(self) -> bytes:
        """Take every queued alert now, as a real unit sends them between replies."""
        data = "".join(alerts for _, alerts in self._alerts).encode("ascii")
        self._alerts.clear()
        return data

    def handle(self, command: bytes) -> bytes:
        """Answer one command byte.

        Args:
            command: exactly one byte.

        Returns:
            The reply with CR LF and any queued alerts; ``NA`` for commands this
            unit does not know; ``b""`` in dumb mode for anything but ``Y``.

        Raises:
            ValueError: ``command`` is not one byte.
        """
        if len(command) != 1:
            raise ValueError(f"APC Smart commands are single bytes, got {command!r}")
        self.received.append(command)
        if command == b"Y":
            self.state = replace(self.state, smart=True)
            text = "SM"
        elif not self.state.smart:
            return b""
        elif command == b"R":
            self.state = replace(self.state, smart=False)
            text = "BYE"
        else:
            reply = _APC_REPLIES.get(command)
            text = reply(self.state) if reply is not None else "NA"
        return self._with_alerts(text.encode("latin-1") + CRLF)

    def feed(self, data: bytes) -> bytes:
        """Take bytes as a serial port delivers them; answer each one."""
        return b"".join(self.handle(data[i : i + 1]) for i in range(len(data)))

    def _with_alerts(self, wire: bytes) -> bytes:
        # Insert from the highest offset down so earlier offsets stay valid; at one
        # offset, the last queued goes in first so the queue order survives.
        for at, alerts in sorted(reversed(self._alerts), key=lambda item: -item[0]):
            position = min(max(at, 0), len(wire))
            wire = wire[:position] + alerts.encode("ascii") + wire[position:]
        self._alerts.clear()
        return wire
