"""Pure decoding of one field from report bytes: bits → logical → physical → SI units."""

from __future__ import annotations

from typing import Final

from upsight.drivers.errors import ProtocolError
from upsight.drivers.hid.descriptor import Field

# HID Unit items in the "SI Linear" (cgs) system, nibbles low to high:
# system, length (cm), mass (g), time (s), temperature (K), current (A), luminosity.
UNIT_NONE: Final = 0x00000000
UNIT_VOLT: Final = 0x00F0D121  # cm² g s⁻³ A⁻¹
UNIT_WATT: Final = 0x0000D121  # cm² g s⁻³, also used for VA
UNIT_AMPERE: Final = 0x00100001
UNIT_SECOND: Final = 0x00001001
UNIT_KELVIN: Final = 0x00010001
UNIT_HERTZ: Final = 0x0000F001
UNIT_AMPERE_SECOND: Final = 0x00101001

# The Unit Exponent at which a value is in whole SI units (HID Power Device Class
# §3.2.3): cgs volts and watts are 10^7 base units, the others are base units.
_UNIT_BASE_EXPONENTS: Final[dict[int, int]] = {UNIT_VOLT: 7, UNIT_WATT: 7}


class ReportError(ProtocolError):
    """Report bytes do not hold the field asked for (too short, or another report ID)."""


def unit_base_exponent(unit: int) -> int:
    """The Unit Exponent at which a value of this unit is in whole SI units.

    Args:
        unit: the field's Unit item value.

    Returns:
        7 for volt and watt/VA, 0 for every other unit and for no unit.
    """
    return _UNIT_BASE_EXPONENTS.get(unit, 0)


def raw_value(field: Field, report: bytes) -> int:
    """The field's bits as an unsigned number.

    Args:
        field: where the bits are.
        report: the report as read, report-ID byte first when the field has an ID.

    Returns:
        The bits, least significant first as HID orders them.

    Raises:
        ReportError: the report is too short or starts with another report ID.
    """
    data = report
    if field.report_id:
        if not report or report[0] != field.report_id:
            got = f"{report[0]:#04x}" if report else "nothing"
            raise ReportError(f"expected report {field.report_id:#04x}, got {got}")
        data = report[1:]
    first = field.bit_offset // 8
    last = (field.bit_offset + field.bit_size + 7) // 8
    if last > len(data):
        raise ReportError(
            f"report {field.report_id:#04x} has {len(data)} data bytes;"
            f" bits {field.bit_offset}..{field.bit_offset + field.bit_size - 1} need {last}"
        )
    window = int.from_bytes(data[first:last], "little")
    return (window >> (field.bit_offset % 8)) & ((1 << field.bit_size) - 1)


def logical_value(field: Field, report: bytes) -> int:
    """The field's logical value, sign-extended only when Logical Minimum is negative.

    Args:
        field: where the bits are and their logical range.
        report: the report as read, report-ID byte first when the field has an ID.

    Returns:
        The logical value.

    Raises:
        ReportError: the report does not hold the field.
    """
    value = raw_value(field, report)
    sign_bit = 1 << (field.bit_size - 1)
    if field.logical_minimum < 0 and value & sign_bit:
        value -= 1 << field.bit_size
    return value


def array_usage(field: Field, report: bytes) -> int | None:
    """The usage an array element selects (a pressed key, an active alarm).

    Args:
        field: an array element (``field.is_array``).
        report: the report as read, report-ID byte first when the field has an ID.

    Returns:
        The extended usage, or None when the value is outside the list, which
        HID 1.11 §6.2.2.5 uses to mean "nothing selected".

    Raises:
        ValueError: the field is a variable, whose value is a quantity, not an index.
        ReportError: the report does not hold the field.
    """
    if not field.is_array:
        raise ValueError(f"{field.path()} is a variable, not an array element")
    index = logical_value(field, report) - field.logical_minimum
    return field.usages[index] if 0 <= index < len(field.usages) else None


def physical_value(field: Field, logical: int) -> float:
    """Map a logical value onto the field's physical range.

    Physical equals logical when Physical Minimum and Maximum are both undefined
    or both 0; otherwise Logical Min..Max maps linearly onto Physical Min..Max.

    Args:
        field: the field whose ranges apply.
        logical: a logical value of that field.

    Returns:
        The physical value, not yet scaled by the unit exponent.
    """
    low, high = field.physical_minimum or 0, field.physical_maximum or 0
    span = field.logical_maximum - field.logical_minimum
    # An empty logical range cannot be mapped; keep the number rather than divide by 0.
    if (low == 0 and high == 0) or span == 0:
        return float(logical)
    return (logical - field.logical_minimum) * (high - low) / span + low


def scale_units(field: Field, physical: float) -> float:
    """Apply the Unit Exponent relative to the unit's own base exponent.

    Args:
        field: the field whose Unit and Unit Exponent apply.
        physical: its physical value.

    Returns:
        The value in whole SI units (volts, watts, amperes, seconds, ...).
    """
    power = field.unit_exponent - unit_base_exponent(field.unit)
    # Divide for negative powers: 2730 / 100 is exactly 27.3, 2730 * 0.01 is not.
    return physical * 10.0**power if power >= 0 else physical / 10.0**-power


def decode(field: Field, report: bytes) -> float:
    """Decode one field from a report: logical, then physical, then unit scaling.

    Args:
        field: the field to read.
        report: the report as read, report-ID byte first when the field has an ID.

    Returns:
        The value in SI units, with no vendor correction applied.

    Raises:
        ReportError: the report does not hold the field.
    """
    return scale_units(field, physical_value(field, logical_value(field, report)))
