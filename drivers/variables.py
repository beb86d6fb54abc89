"""Which NUT variables are numbers, and how text from a device becomes a value.

NUT keeps every value as a string and leaves the format open ("000.0", "048",
trailing spaces). Upsight converts the variables that are physically numeric
and keeps identities (serials, product ids such as ``0002``, dates) as text.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Final

from upsight.drivers.model import Value

# Patterns over dotted NUT names (nut docs/nut-names.txt); ``*`` spans one or more
# components. Identity, date and enumeration variables are deliberately absent.
_NUMERIC_PATTERNS: Final[tuple[str, ...]] = (
    "battery.charge",
    "battery.charge.*",
    "battery.runtime",
    "battery.runtime.*",
    "battery.voltage",
    "battery.voltage.*",
    "battery.current",
    "battery.current.*",
    "battery.temperature",
    "battery.temperature.*",
    "battery.capacity",
    "battery.capacity.*",
    "battery.packs",
    "battery.packs.*",
    "input.voltage",
    "input.voltage.*",
    "input.current",
    "input.current.*",
    "input.frequency",
    "input.frequency.*",
    "input.transfer.low",
    "input.transfer.high",
    "input.transfer.*.low",
    "input.transfer.*.high",
    "input.transfer.low.*",
    "input.transfer.high.*",
    "input.load",
    "input.realpower",
    "input.realpower.*",
    "input.power",
    "input.power.*",
    "input.*.voltage",
    "input.*.current",
    "input.*.voltage.*",
    "input.*.current.*",
    "input.*.realpower",
    "input.*.power",
    "output.voltage",
    "output.voltage.*",
    "output.current",
    "output.current.*",
    "output.frequency",
    "output.frequency.*",
    "output.realpower",
    "output.realpower.*",
    "output.power",
    "output.power.*",
    "output.powerfactor",
    "output.*.voltage",
    "output.*.current",
    "output.*.realpower",
    "output.*.power",
    "output.*.power.percent",
    "output.*.voltage.*",
    "output.*.current.*",
    "ups.load",
    "ups.load.*",
    "ups.realpower",
    "ups.realpower.*",
    "ups.power",
    "ups.power.*",
    "ups.temperature",
    "ups.temperature.*",
    "ups.efficiency",
    "ups.delay.shutdown",
    "ups.delay.start",
    "ups.delay.reboot",
    "ups.timer.shutdown",
    "ups.timer.start",
    "ups.timer.reboot",
    "ups.test.interval",
    "ambient.temperature",
    "ambient.temperature.*",
    "ambient.humidity",
    "ambient.humidity.*",
    "ambient.*.temperature",
    "ambient.*.humidity",
    "outlet.current",
    "outlet.realpower",
    "outlet.power",
    "outlet.voltage",
    "outlet.*.current",
    "outlet.*.realpower",
    "outlet.*.power",
    "outlet.*.voltage",
    "outlet.*.delay.shutdown",
    "outlet.*.delay.start",
    "outlet.*.timer.shutdown",
    "outlet.*.timer.start",
)


# Text variables that live under a numeric prefix (yes/no switches and states).
_TEXT_EXCEPTIONS: Final[frozenset[str]] = frozenset(
    {
        "input.voltage.extended",
        "input.voltage.status",
        "input.frequency.status",
        "input.current.status",
        "output.voltage.status",
        "output.current.status",
        "ups.load.status",
        "ups.temperature.status",
        "battery.charge.status",
        "ambient.temperature.status",
        "ambient.humidity.status",
    }
)


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    parts = [re.escape(p).replace(r"\*", r"[^.]+(?:\.[^.]+)*") for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts))


_NUMERIC: Final = _compile(_NUMERIC_PATTERNS)


def is_numeric(var: str) -> bool:
    """True when ``var`` is a physical quantity that Upsight stores as a number."""
    return var not in _TEXT_EXCEPTIONS and _NUMERIC.fullmatch(var) is not None


# Numeric variables that describe the device's configuration rather than measure
# anything: ratings, thresholds, transfer points, delays and countdown timers.
_SETTING_PATTERNS: Final[tuple[str, ...]] = (
    "*.nominal",
    "*.low",
    "*.high",
    "*.warning",
    "*.critical",
    "*.restart",
    "input.transfer.*",
    "ups.delay.*",
    "ups.timer.*",
    "outlet.*.delay.*",
    "outlet.*.timer.*",
    "ups.test.interval",
    "battery.packs",
    "battery.packs.*",
    "battery.capacity",
    "battery.capacity.*",
)
_SETTING: Final = _compile(_SETTING_PATTERNS)


@functools.lru_cache(maxsize=1024)
def is_measurement(var: str) -> bool:
    """True for numeric variables that measure something and so belong in history.

    Settings such as ``battery.charge.low`` or ``input.voltage.nominal`` are numbers
    too, but they change only when someone changes them: history would store the
    same value every minute for years.
    """
    return is_numeric(var) and _SETTING.fullmatch(var) is None


def parse_value(var: str, text: str) -> Value | None:
    """Convert device text to a value; None when a numeric variable holds no number.

    Text keeps its content but loses surrounding whitespace. For numeric
    variables, placeholders such as ``---.-`` mean "unknown", so they return None
    and the caller leaves the variable out.
    """
    stripped = text.strip()
    if not is_numeric(var):
        return stripped
    try:
        number = float(stripped)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
