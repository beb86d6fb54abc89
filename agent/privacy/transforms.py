"""Upload transforms: pure functions that coarsen, pseudonymise or scrub a value before sending."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypedDict

BUCKET_S: Final = 900
"""Length of one aggregation bucket: 15 minutes."""

MIN_SECRET_BYTES: Final = 16
"""Shortest install secret accepted as an HMAC key; the spec makes it 32 random bytes (§4.3)."""

UNDETERMINED_LANGUAGE: Final = "und"
"""BCP 47's tag for "no language chosen", sent for the POSIX ``C`` locale."""

OTHER: Final = "<other>"
"""What a crash report shows instead of a module, function or type it may not name."""

_VERSION: Final = re.compile(r"(\d+)(?:\.(\d+))?")
# POSIX: language[_territory][.codeset][@modifier]; BCP 47 spellings (en-US, zh-Hant-TW) also parse.
_LOCALE: Final = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:[_-](?P<script>[A-Za-z]{4}))?"
    r"(?:[_-](?P<region>[A-Za-z]{2}|\d{3}))?(?:\.[^@]*)?(?:@(?P<modifier>.*))?"
)
_NO_LANGUAGE: Final = frozenset({"C", "POSIX"})
# glibc names scripts in the modifier (sr_RS@latin); other modifiers (@euro) carry no language.
_SCRIPT_MODIFIERS: Final = {"latin": "Latn", "cyrillic": "Cyrl"}

_IDENTIFIER: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED: Final = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*")
_FUNCTION: Final = re.compile(
    rf"{_IDENTIFIER}|<(?:module|lambda|listcomp|dictcomp|setcomp|genexpr)>"
)
KNOWN_PACKAGES: Final[frozenset[str]] = frozenset(sys.stdlib_module_names) | {
    "upsight",
    "serial",
    "usb",
    "hid",
    "requests",
    "urllib3",
    "certifi",
    "truststore",
    "jsonschema",
    "keyring",
    "psutil",
    "platformdirs",
    "tomli_w",
    "PySide6",
    "shiboken6",
}
"""Top-level packages whose module names a crash report may carry.

Anything else (a user's own script, a plug-in named after a person or host) shows as
:data:`OTHER`, because a module name outside known code can say who or where the user is.
"""


class Frame(TypedDict):
    """One scrubbed stack frame."""

    module: str
    function: str
    line: int


class CrashReport(TypedDict):
    """A scrubbed crash: its type, the frames kept (innermost last) and how many were cut."""

    type: str
    frames: list[Frame]
    frames_omitted: int


def round_to_step(value: float, step: float) -> int | float:
    """Round to the nearest multiple of ``step``; halves go away from zero.

    Rounding works on the decimal text of both numbers, so ``13.65`` with step ``0.1``
    gives ``13.7`` although the binary float is slightly below 13.65.

    Returns:
        An int when ``step`` is whole (1 %, 30 s), else a float.

    Raises:
        ValueError: ``value`` is not finite or ``step`` is not positive.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot round {value!r}")
    if not step > 0:
        raise ValueError(f"rounding step must be positive, not {step!r}")
    unit = Decimal(repr(float(step)))
    count = (Decimal(repr(float(value))) / unit).to_integral_value(rounding=ROUND_HALF_UP)
    if count.is_zero():
        # A negative value that rounds to nothing must not be sent as -0.
        count = count.copy_abs()
    result = count * unit
    if unit == unit.to_integral_value():
        return int(result)
    return float(result)


def major_minor(version: str) -> str | None:
    """The first ``major.minor`` in a version string: ``6.1.0-18-amd64`` gives ``6.1``.

    A lone major number gets minor ``0``; leading zeros go. None when there is no number.
    """
    match = _VERSION.search(version)
    if match is None:
        return None
    return f"{int(match.group(1))}.{int(match.group(2) or '0')}"


def language_tag(locale: str) -> str | None:
    """A BCP 47 language tag from a POSIX locale: ``zh_CN.UTF-8`` gives ``zh-CN``.

    The codeset goes; ``@latin`` / ``@cyrillic`` become a script subtag; ``C`` and
    ``POSIX`` give ``und``. None when the text is not a locale at all.
    """
    text = locale.strip()
    if text.split(".")[0] in _NO_LANGUAGE:
        return UNDETERMINED_LANGUAGE
    match = _LOCALE.fullmatch(text)
    if match is None:
        return None
    parts = [match["language"].lower()]
    script = match["script"] or _SCRIPT_MODIFIERS.get((match["modifier"] or "").lower())
    if script:
        parts.append(script.title())
    if match["region"]:
        parts.append(match["region"].upper())
    return "-".join(parts)


def utc_offset_minutes(offset_s: int) -> int:
    """Seconds east of UTC as whole minutes, half a minute rounding away from zero."""
    minutes, rest = divmod(abs(offset_s), 60)
    if rest >= 30:
        minutes += 1
    return minutes if offset_s >= 0 else -minutes


def pseudonym(secret: bytes, value: str) -> str:
    """``HMAC-SHA256(secret, value)`` in hex: stable per install, unlinkable once the key rotates.

    A plain hash is never used: serials and MACs are short and structured enough to be
    found again by trying every candidate (§4.3).

    Raises:
        ValueError: ``secret`` is shorter than :data:`MIN_SECRET_BYTES`.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the install secret must be at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def utc_events(events: Iterable[tuple[str, float]]) -> list[dict[str, str | int]]:
    """``(kind, epoch seconds)`` pairs as ``{"kind", "at"}`` with whole UTC seconds, oldest first.

    Events at a time that is not a finite number are left out.
    """
    timed = sorted((at, kind) for kind, at in events if math.isfinite(at))
    return [{"kind": kind, "at": math.floor(at)} for at, kind in timed]


def aggregate_15min(
    buckets: Iterable[tuple[int, float, float, float]], step: float | None
) -> list[dict[str, int | float]]:
    """``(start, min, avg, max)`` buckets as ``{"t", "min", "avg", "max"}``, oldest first.

    Args:
        buckets: 15-minute aggregates of one variable.
        step: The field's rounding step, or None to send the aggregates unrounded.

    Buckets holding a value that is not a finite number are left out.
    """
    out: list[dict[str, int | float]] = []
    for start, low, mean, high in sorted(buckets):
        stats = {"min": low, "avg": mean, "max": high}
        if not all(math.isfinite(v) for v in stats.values()):
            continue
        row: dict[str, int | float] = {"t": start}
        for name, v in stats.items():
            row[name] = v if step is None else round_to_step(v, step)
        out.append(row)
    return out


def sum_15min(amounts: Iterable[tuple[float, float]]) -> list[dict[str, int | float]]:
    """``(time, Wh)`` amounts summed per 15-minute bucket as ``{"t", "kwh"}``, oldest first.

    Each bucket's energy is sent in kWh to the nearest Wh. Amounts that are not finite
    numbers are left out.
    """
    totals: dict[int, float] = {}
    for at, wh in amounts:
        if math.isfinite(at) and math.isfinite(wh):
            start = math.floor(at) // BUCKET_S * BUCKET_S
            totals[start] = totals.get(start, 0.0) + wh
    return [{"t": t, "kwh": round_to_step(wh / 1000, 0.001)} for t, wh in sorted(totals.items())]


def numbers_only(values: Mapping[str, object]) -> dict[str, int | float]:
    """Only the entries whose value is a finite number; text, flags and lists are dropped."""
    return {
        name: value
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def daily_count(value: float) -> int:
    """A per-day counter as a whole number; a fraction of a count (part of a second) is dropped.

    Raises:
        ValueError: ``value`` is not finite.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a count: {value!r}")
    return math.floor(value)


def enum_count(counts: Mapping[str, int]) -> dict[str, int]:
    """Codes with how often each occurred; codes that did not occur are left out."""
    return {code: count for code, count in counts.items() if count > 0}


def scrub_stack(
    exc_type: str, frames: Sequence[tuple[str, str, int]], max_bytes: int
) -> CrashReport:
    """A crash as exception type and ``(module, function, line)`` frames, with nothing else.

    No message, local values or file paths are taken in, so none can come out; module,
    function and type names outside :data:`KNOWN_PACKAGES`, or that are not identifiers,
    become :data:`OTHER`. When the result is over ``max_bytes`` as compact JSON the
    outermost frames go first, since the innermost show where it failed.

    Args:
        exc_type: The exception's qualified name, e.g. ``upsight.drivers.errors.Disconnected``.
        frames: Outermost first, as Python prints a traceback.
        max_bytes: The size cap of the field.
    """
    name = _scrub_name(exc_type)
    scrubbed = [_frame(module, function, line) for module, function, line in frames]

    def report(omitted: int) -> CrashReport:
        return {"type": name, "frames": scrubbed[omitted:], "frames_omitted": omitted}

    # Each dropped frame shrinks the report by far more than its count can grow, so the
    # size falls with every frame dropped and the fewest to drop can be bisected.
    low, high = 0, len(scrubbed)
    while low < high:
        middle = (low + high) // 2
        if len(_compact(report(middle))) <= max_bytes:
            high = middle
        else:
            low = middle + 1
    return report(low)


def _scrub_name(name: str) -> str:
    # A builtin has no module part; anything else must come from a known package.
    if _DOTTED.fullmatch(name) and ("." not in name or _known(name)):
        return name
    return OTHER


def _frame(module: str, function: str, line: int) -> Frame:
    if _DOTTED.fullmatch(module) and _known(module):
        shown = function if _FUNCTION.fullmatch(function) else OTHER
        return {"module": module, "function": shown, "line": max(line, 0)}
    return {"module": OTHER, "function": OTHER, "line": 0}


def _known(dotted: str) -> bool:
    return dotted.partition(".")[0] in KNOWN_PACKAGES


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
