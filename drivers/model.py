"""Frozen values that drivers return and that cross threads: status, identity, readings."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Value = float | str


class UpsFlag(enum.Flag):
    """The NUT ``ups.status`` tokens (nut docs/nut-names.txt)."""

    NONE = 0
    OL = enum.auto()
    OB = enum.auto()
    LB = enum.auto()
    HB = enum.auto()
    RB = enum.auto()
    CHRG = enum.auto()
    DISCHRG = enum.auto()
    BYPASS = enum.auto()
    CAL = enum.auto()
    OFF = enum.auto()
    OVER = enum.auto()
    TRIM = enum.auto()
    BOOST = enum.auto()
    FSD = enum.auto()
    ALARM = enum.auto()


# upsd prepends FSD and drivers put ALARM first; the rest follow nut-names.txt order.
_TOKEN_ORDER: tuple[UpsFlag, ...] = (
    UpsFlag.FSD,
    UpsFlag.ALARM,
    UpsFlag.OL,
    UpsFlag.OB,
    UpsFlag.LB,
    UpsFlag.HB,
    UpsFlag.RB,
    UpsFlag.CHRG,
    UpsFlag.DISCHRG,
    UpsFlag.BYPASS,
    UpsFlag.CAL,
    UpsFlag.OFF,
    UpsFlag.OVER,
    UpsFlag.TRIM,
    UpsFlag.BOOST,
)
_BY_TOKEN: Mapping[str, UpsFlag] = {flag.name: flag for flag in _TOKEN_ORDER if flag.name}
# Plain integers for the checks made on every poll: enum.Flag operators are slow.
_OB: int = UpsFlag.OB.value
_OB_LB: int = UpsFlag.OB.value | UpsFlag.LB.value
_FSD: int = UpsFlag.FSD.value


@dataclass(frozen=True)
class Status:
    """A parsed ``ups.status``: known flags plus any tokens this version does not know.

    Tokens are matched whole, in any order (``DISCHRG`` never implies ``CHRG``).
    """

    flags: UpsFlag = UpsFlag.NONE
    unknown: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Status:
        """Parse a space-separated token list such as ``"OB DISCHRG LB"``."""
        flags = UpsFlag.NONE
        unknown: list[str] = []
        for token in text.split():
            flag = _BY_TOKEN.get(token.upper())
            if flag is None:
                if token not in unknown:
                    unknown.append(token)
            else:
                flags |= flag
        return cls(flags, tuple(unknown))

    @classmethod
    def of(cls, *flags: UpsFlag) -> Status:
        """Build a status from flags, e.g. ``Status.of(UpsFlag.OB, UpsFlag.LB)``."""
        combined = UpsFlag.NONE
        for flag in flags:
            combined |= flag
        return cls(combined)

    def __contains__(self, flag: UpsFlag) -> bool:
        return bool(self.flags.value & flag.value)

    def tokens(self) -> tuple[str, ...]:
        """The tokens in canonical order, unknown ones last in the order first seen."""
        known = tuple(f.name for f in _TOKEN_ORDER if f in self.flags and f.name)
        return known + self.unknown

    def __str__(self) -> str:
        return " ".join(self.tokens())

    @property
    def on_battery(self) -> bool:
        """True when the load runs from the battery (OB)."""
        return bool(self.flags.value & _OB)

    @property
    def critical(self) -> bool:
        """True in the states upsmon treats as critical: OB together with LB, or FSD."""
        bits = self.flags.value
        return bits & _OB_LB == _OB_LB or bool(bits & _FSD)


_FAKE_SERIALS = frozenset({"", "unknown", "none", "n/a", "na", "not set", "default"})


def clean_serial(serial: str | None) -> str | None:
    """Return the serial, or None for the placeholders real devices report.

    All zeros, all ``x`` (masked dumps such as ``Gxxxxxxxx`` keep a prefix, so we
    look at the tail), blanks and words like "unknown" carry no identity.
    """
    if serial is None:
        return None
    text = serial.strip()
    if text.lower() in _FAKE_SERIALS:
        return None
    if set(text) <= {"0"} or set(text.lower()[1:]) <= {"x"}:
        return None
    return text


@dataclass(frozen=True)
class UpsInfo:
    """Identity of a device, read once when the driver connects."""

    mfr: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    vid: int | None = None
    pid: int | None = None
    driver: str = ""
    simulated: bool = False

    def label(self) -> str:
        """A human name such as "APC Back-UPS CS 650" or "Simulated UPS"."""
        if self.simulated:
            return "Simulated UPS"
        parts = [p for p in (self.mfr, self.model) if p]
        return " ".join(parts) if parts else "UPS"


def _freeze(values: Mapping[str, Value]) -> Mapping[str, Value]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Reading:
    """One poll: wall-clock time, status and values keyed by NUT variable names.

    Values are in NUT units (V, Hz, %, s, W, VA, °C). A value the device does not
    report is absent, never 0 or "".
    """

    at: float
    status: Status
    values: Mapping[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _freeze(self.values))

    def number(self, var: str) -> float | None:
        """The variable as a finite number, or None when absent or not numeric."""
        value = self.values.get(var)
        if isinstance(value, float) and math.isfinite(value):
            return value
        return None

    def text(self, var: str) -> str | None:
        """The variable as text, or None when absent."""
        value = self.values.get(var)
        if value is None:
            return None
        return format_value(value)

    def as_nut(self) -> dict[str, str]:
        """All variables as NUT prints them, ``ups.status`` included, sorted by name."""
        out = {name: format_value(value) for name, value in self.values.items()}
        out["ups.status"] = str(self.status)
        return dict(sorted(out.items()))


def format_value(value: Value) -> str:
    """Print a value the way upsc shows it: integers without a fraction."""
    if isinstance(value, str):
        return value
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
