"""Plausible ranges for mapped values: readings outside physical sense are rejected, not shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

from upsight.drivers.model import Status, UpsFlag, Value


@dataclass(frozen=True)
class Plausible:
    """A variable must lie in ``low..high`` while the status matches.

    Attributes:
        var: a variable name; ``*`` matches any run of characters.
        low: the smallest plausible value.
        high: the largest plausible value.
        reason: why values outside are wrong, for logs and bug reports.
        when: the rule applies only while all these flags are set.
        unless: the rule does not apply while any of these flags is set.
    """

    var: str
    low: float
    high: float
    reason: str
    when: UpsFlag = UpsFlag.NONE
    unless: UpsFlag = UpsFlag.NONE


@dataclass(frozen=True)
class Sentinel:
    """A value that firmware sends to mean "unknown", never a reading.

    Attributes:
        var: a variable name; ``*`` matches any run of characters.
        value: the sentinel.
        reason: what the sentinel means.
    """

    var: str
    value: float
    reason: str


@dataclass(frozen=True)
class Ceiling:
    """A variable must not exceed ``factor`` times a rating derived from others.

    The rating is ``values[rating]``, divided by ``values[per]`` when ``per``
    is given; the rule is skipped when those are missing or not positive.

    Attributes:
        var: the variable checked.
        rating: the variable holding the rating.
        per: a variable to divide the rating by (VA / V gives A), or None.
        factor: how far above the rating a reading may go.
        reason: why values above are wrong.
    """

    var: str
    rating: str
    per: str | None
    factor: float
    reason: str


Rule = Plausible | Sentinel | Ceiling


@dataclass(frozen=True)
class Rejection:
    """A value the sanity table refused, and the rule's reason."""

    value: Value
    reason: str


# Generous bounds: they catch decoding and firmware errors (wrong exponents,
# sentinels, unit leaks), not unusual but real conditions. Examples are from
# tests/fixtures/hid and protocols.md 9.
RULES: Final[tuple[Rule, ...]] = (
    Plausible("battery.charge", 0, 100, "a charge is a percentage"),
    Plausible("battery.charge.*", 0, 100, "a charge threshold is a percentage"),
    # APC Back-UPS and others send -1 as unsigned 16 bits when they cannot estimate.
    Sentinel("battery.runtime", 65535, "65535 s is -1: the UPS cannot estimate its runtime"),
    Plausible("battery.runtime", 0, 7 * 86400, "no UPS battery lasts a week"),
    Plausible("battery.runtime.low", 0, 86400, "a runtime threshold is below a day"),
    # 1 V: a UPS battery is at least one 6 V block; Legrand and Minuteman
    # voltages read with their literal exponent come out near 0.001 V.
    Plausible("battery.voltage", 1, 1000, "not a battery voltage"),
    Plausible("battery.voltage.nominal", 1, 1000, "not a battery voltage"),
    Plausible("*.temperature", -40, 100, "outside the -40..100 °C any UPS survives"),
    Plausible("input.voltage", 0, 600, "not a mains voltage"),
    # Tripp Lite SMART1500LCDT under old NUT read 0 V with the mains present.
    Plausible("input.voltage", 40, 600, "0 V in while on line", when=UpsFlag.OL, unless=UpsFlag.OB),
    Plausible(
        "output.voltage", 40, 600, "0 V out while the UPS supplies the load", unless=UpsFlag.OFF
    ),
    Plausible("input.voltage.nominal", 80, 500, "not a nominal mains voltage"),
    Plausible("output.voltage.nominal", 80, 500, "not a nominal mains voltage"),
    Plausible("input.transfer.*", 40, 600, "a transfer point of 0 V or less is no setting"),
    # 5990 Hz (Tripp Lite 0x3016, old NUT) and 870 Hz (Minuteman, Hertz with exponent 1).
    Plausible("input.frequency", 0, 70, "not a mains frequency"),
    Plausible(
        "input.frequency",
        40,
        70,
        "no mains frequency while on line",
        when=UpsFlag.OL,
        unless=UpsFlag.OB,
    ),
    Plausible("output.frequency", 40, 70, "not a mains frequency", unless=UpsFlag.OFF),
    Plausible("*.frequency.nominal", 40, 70, "not a nominal mains frequency"),
    Plausible("ups.load", 0, 200, "a load far beyond any overload trip"),
    Plausible("ups.efficiency", 0, 100, "an efficiency is a percentage"),
    Plausible("output.powerfactor", 0, 1, "a power factor is at most 1"),
    Plausible("ups.timer.*", -60, 86400, "not a countdown in seconds"),
    # 220 A from a 1500 VA / 120 V Minuteman, 20 A from an 800 VA Legrand:
    # Ampere declared with exponent 1 for a value in 0.1 A.
    Ceiling(
        "output.current",
        "ups.power.nominal",
        "output.voltage.nominal",
        2,
        "over twice the rated current",
    ),
    Ceiling("ups.power", "ups.power.nominal", None, 2, "over twice the rated power"),
    Ceiling("ups.realpower", "ups.realpower.nominal", None, 2, "over twice the rated power"),
)
"""The plausibility table every mapped value goes through."""


def _number(values: Mapping[str, Value], var: str | None) -> float | None:
    value = values.get(var) if var is not None else None
    return value if isinstance(value, float) else None


def _violation(
    rule: Rule, var: str, value: float, values: Mapping[str, Value], status: Status
) -> bool:
    if not fnmatchcase(var, rule.var):
        return False
    if isinstance(rule, Sentinel):
        return value == rule.value
    if isinstance(rule, Plausible):
        applies = (status.flags & rule.when) == rule.when and not status.flags & rule.unless
        return applies and not rule.low <= value <= rule.high
    rating = _number(values, rule.rating)
    per = _number(values, rule.per) if rule.per is not None else 1.0
    if rating is None or per is None or rating <= 0 or per <= 0:
        return False
    return value > rule.factor * rating / per


def check(
    values: Mapping[str, Value], status: Status, rules: tuple[Rule, ...] = RULES
) -> tuple[dict[str, Value], dict[str, Rejection]]:
    """Split mapped values into plausible ones and rejected ones.

    Args:
        values: NUT variable → value; text values are not checked.
        status: the device's status, which some rules depend on.
        rules: the table to apply.

    Returns:
        The plausible values, and variable → rejection for the rest.
    """
    kept: dict[str, Value] = {}
    rejected: dict[str, Rejection] = {}
    for var, value in values.items():
        broken = (
            next((r for r in rules if _violation(r, var, value, values, status)), None)
            if isinstance(value, float)
            else None
        )
        if broken is None:
            kept[var] = value
        else:
            rejected[var] = Rejection(value, broken.reason)
    return kept, rejected
