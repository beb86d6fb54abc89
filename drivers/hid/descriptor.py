"""Pure HID 1.11 report-descriptor parser: Item → Field → Report → ReportDescriptor."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from upsight.drivers.errors import ProtocolError
from upsight.drivers.hid.usages import USAGE_NAMES, usage_name

# Bounds that keep a hostile or corrupt descriptor from allocating without limit.
# The largest real UPS descriptor seen (Eaton 9PX) declares 375 fields and a
# 256-byte report, so both caps leave ample headroom.
MAX_FIELDS: Final = 4096
MAX_REPORT_BITS: Final = 8 * 8192
# Usage Minimum..Maximum can name 2**32 usages; arrays list theirs on the field.
MAX_ARRAY_USAGES: Final = 65536
# Linux refuses wider fields too; it keeps every value a float-sized number.
MAX_REPORT_SIZE: Final = 256
# HID 1.11 defines -8..7; a signed byte is the widest form firmware is seen to use.
_UNIT_EXPONENT_RANGE: Final = range(-128, 128)

_SHORT_DATA_SIZES: Final = (0, 1, 2, 4)
# HID 1.11 §6.2.2.3: a long item is 0xFE, bDataSize, bLongItemTag, data.
_LONG_ITEM_PREFIX: Final = 0xFE
_VENDOR_COLLECTION_BASE: Final = 0x80


class DescriptorError(ProtocolError):
    """A report descriptor is malformed; names the byte offset and the item.

    Attributes:
        offset: byte offset of the offending item in the descriptor.
        item: the offending item, or None when it could not be read whole.
        reason: what is wrong, without the location.
    """

    def __init__(self, reason: str, offset: int, item: Item | None = None) -> None:
        where = f"offset {offset}" + (f" ({item})" if item is not None else "")
        super().__init__(f"{reason} at {where}")
        self.reason = reason
        self.offset = offset
        self.item = item


class ItemType(enum.IntEnum):
    """The bType of an item prefix (HID 1.11 §6.2.2.2); LONG marks a long item."""

    MAIN = 0
    GLOBAL = 1
    LOCAL = 2
    RESERVED = 3
    LONG = 4


class MainTag(enum.IntEnum):
    """Main item tags (HID 1.11 §6.2.2.4)."""

    INPUT = 0x8
    OUTPUT = 0x9
    COLLECTION = 0xA
    FEATURE = 0xB
    END_COLLECTION = 0xC


class GlobalTag(enum.IntEnum):
    """Global item tags (HID 1.11 §6.2.2.7)."""

    USAGE_PAGE = 0x0
    LOGICAL_MINIMUM = 0x1
    LOGICAL_MAXIMUM = 0x2
    PHYSICAL_MINIMUM = 0x3
    PHYSICAL_MAXIMUM = 0x4
    UNIT_EXPONENT = 0x5
    UNIT = 0x6
    REPORT_SIZE = 0x7
    REPORT_ID = 0x8
    REPORT_COUNT = 0x9
    PUSH = 0xA
    POP = 0xB


class LocalTag(enum.IntEnum):
    """Local item tags (HID 1.11 §6.2.2.8)."""

    USAGE = 0x0
    USAGE_MINIMUM = 0x1
    USAGE_MAXIMUM = 0x2
    DESIGNATOR_INDEX = 0x3
    DESIGNATOR_MINIMUM = 0x4
    DESIGNATOR_MAXIMUM = 0x5
    STRING_INDEX = 0x7
    STRING_MINIMUM = 0x8
    STRING_MAXIMUM = 0x9
    DELIMITER = 0xA


_TAGS: Final[dict[ItemType, type[enum.IntEnum]]] = {
    ItemType.MAIN: MainTag,
    ItemType.GLOBAL: GlobalTag,
    ItemType.LOCAL: LocalTag,
}
# (type, tag) → the spec's name: REPORT_ID → "Report ID".
_ITEM_NAMES: Final[dict[tuple[ItemType, int], str]] = {
    (item_type, tag.value): " ".join(
        word if word == "ID" else word.capitalize() for word in tag.name.split("_")
    )
    for item_type, tags in _TAGS.items()
    for tag in tags
}


class ReportType(enum.Enum):
    """The three report types, valued as NUT prints them."""

    INPUT = "Input"
    OUTPUT = "Output"
    FEATURE = "Feature"


_REPORT_TYPES: Final = {
    MainTag.INPUT: ReportType.INPUT,
    MainTag.OUTPUT: ReportType.OUTPUT,
    MainTag.FEATURE: ReportType.FEATURE,
}


class MainFlags(enum.IntFlag):
    """Data bits of an Input/Output/Feature item (HID 1.11 §6.2.2.5); 0 is Data, Array."""

    CONSTANT = 1 << 0
    VARIABLE = 1 << 1
    RELATIVE = 1 << 2
    WRAP = 1 << 3
    NONLINEAR = 1 << 4
    NO_PREFERRED = 1 << 5
    NULL_STATE = 1 << 6
    VOLATILE = 1 << 7
    BUFFERED_BYTES = 1 << 8


@dataclass(frozen=True)
class Item:
    """One item of a report descriptor.

    Attributes:
        offset: byte offset of the item's prefix in the descriptor.
        type: main, global, local, reserved, or LONG for a long item.
        tag: bTag, or bLongItemTag for a long item.
        data: the item's data bytes (0, 1, 2 or 4 for short items).
    """

    offset: int
    type: ItemType
    tag: int
    data: bytes

    @property
    def unsigned(self) -> int:
        """The data as an unsigned little-endian number (0 when empty)."""
        return int.from_bytes(self.data, "little")

    @property
    def signed(self) -> int:
        """The data as a signed little-endian number of its own width (0 when empty)."""
        return int.from_bytes(self.data, "little", signed=True)

    @property
    def name(self) -> str:
        """The spec's name for the item, e.g. ``Report Count``; ``Long Item`` or a tag number."""
        return _item_name(self.type, self.tag)

    @property
    def raw(self) -> bytes:
        """The item's bytes as they appear in the descriptor."""
        if self.type is ItemType.LONG:
            return bytes((_LONG_ITEM_PREFIX, len(self.data), self.tag)) + self.data
        size_code = _SHORT_DATA_SIZES.index(len(self.data))
        return bytes(((self.tag << 4) | (self.type << 2) | size_code,)) + self.data

    def __str__(self) -> str:
        return f"{self.name} [{self.raw.hex(' ')}]"


def _item_name(item_type: ItemType, tag: int) -> str:
    if item_type is ItemType.LONG:
        return "Long Item"
    known = _ITEM_NAMES.get((item_type, tag))
    return known or f"Reserved {item_type.name.capitalize()} Item {tag:#x}"


def iter_items(data: bytes) -> Iterator[Item]:
    """Split a report descriptor into items, without interpreting them.

    Args:
        data: the descriptor bytes.

    Yields:
        Each short or long item, in order.

    Raises:
        DescriptorError: an item runs past the end of the descriptor.
    """
    offset = 0
    end = len(data)
    while offset < end:
        prefix = data[offset]
        if prefix == _LONG_ITEM_PREFIX:
            # Long item: FE <bDataSize> <bLongItemTag> <data…>
            if offset + 3 > end:
                raise DescriptorError(
                    f"Long Item [{data[offset:end].hex(' ')}] is truncated:"
                    f" its header needs 3 bytes, {end - offset} left",
                    offset,
                )
            size = data[offset + 1]
            start = offset + 3
            item_type, tag = ItemType.LONG, data[offset + 2]
        else:
            size = _SHORT_DATA_SIZES[prefix & 0x03]
            start = offset + 1
            item_type, tag = ItemType((prefix >> 2) & 0x03), prefix >> 4
        if start + size > end:
            raise DescriptorError(
                f"{_item_name(item_type, tag)} [{data[offset:end].hex(' ')}] is truncated:"
                f" needs {size} data bytes, {end - start} left",
                offset,
            )
        yield Item(offset, item_type, tag, data[start : start + size])
        offset = start + size


@dataclass(frozen=True)
class Collection:
    """One Collection a field sits in.

    Attributes:
        usage: extended usage that preceded the Collection item, or None if none did.
        kind: collection type: 0 Physical, 1 Application, 2 Logical, … 0x80+ vendor.
        offset: byte offset of the Collection item, which tells equal-looking
            collections apart.
    """

    usage: int | None
    kind: int
    offset: int

    def path_parts(self, names: Mapping[int, str] = USAGE_NAMES) -> tuple[str, ...]:
        """Path components as NUT prints them: the usage, then ``[n]`` if vendor-typed.

        Args:
            names: extended usage → name.

        Returns:
            One component, or two for a vendor-typed collection (``Flow``, ``[1]``).
        """
        head = "00000000" if self.usage is None else usage_name(self.usage, names)
        if self.kind >= _VENDOR_COLLECTION_BASE:
            return (head, f"[{self.kind - _VENDOR_COLLECTION_BASE}]")
        return (head,)


@dataclass(frozen=True)
class Field:
    """One value slot of a report: where its bits are and how to read them.

    A main item with Report Count n yields n fields; padding (no usage) yields none.

    Attributes:
        report_type: Input, Output or Feature.
        report_id: the Report ID, 0 when the descriptor declares none.
        bit_offset: first bit in the report, not counting the report-ID byte.
        bit_size: Report Size in bits.
        usage: extended usage (page << 16 | ID); for an array element, the first
            of ``usages`` (the element's value selects the actual one).
        collections: enclosing collections, outermost first.
        flags: the main item's data bits.
        logical_minimum: Logical Minimum.
        logical_maximum: Logical Maximum.
        physical_minimum: Physical Minimum, None if never declared.
        physical_maximum: Physical Maximum, None if never declared.
        unit: the Unit item's value (e.g. 0x00F0D121 volt), 0 for none.
        unit_exponent: base-10 exponent, sign already applied.
        item_offset: byte offset of the main item in the descriptor.
        index: position of this slot within its main item.
        usages: for arrays, every usage an element may select, in order (value
            Logical Minimum selects the first); empty for variables.
    """

    report_type: ReportType
    report_id: int
    bit_offset: int
    bit_size: int
    usage: int
    collections: tuple[Collection, ...]
    flags: MainFlags
    logical_minimum: int
    logical_maximum: int
    physical_minimum: int | None
    physical_maximum: int | None
    unit: int
    unit_exponent: int
    item_offset: int
    index: int
    usages: tuple[int, ...] = ()

    @property
    def is_array(self) -> bool:
        """True for array elements (values are indexes into ``usages``)."""
        return not self.flags & MainFlags.VARIABLE

    @property
    def is_constant(self) -> bool:
        """True when flagged Constant; some UPSes still put live data there."""
        return bool(self.flags & MainFlags.CONSTANT)

    def path(self, names: Mapping[int, str] = USAGE_NAMES) -> str:
        """The dotted usage path as NUT names it, e.g. ``UPS.PowerSummary.Voltage``.

        Args:
            names: extended usage → name; unknown usages print as 8 hex digits.

        Returns:
            Collection usages from the outside in, then the field's usage.
        """
        parts = [part for c in self.collections for part in c.path_parts(names)]
        parts.append(usage_name(self.usage, names))
        return ".".join(parts)


@dataclass(frozen=True)
class Report:
    """All fields of one (report type, report ID).

    Attributes:
        report_type: Input, Output or Feature.
        report_id: the Report ID, 0 when the descriptor declares none.
        fields: its fields in bit order of declaration.
        bit_length: declared data bits, padding included, report-ID byte excluded.
    """

    report_type: ReportType
    report_id: int
    fields: tuple[Field, ...]
    bit_length: int

    @property
    def byte_length(self) -> int:
        """Bytes on the wire, including the report-ID byte when there is one."""
        return (self.bit_length + 7) // 8 + (1 if self.report_id else 0)


@dataclass(frozen=True)
class ReportDescriptor:
    """A parsed report descriptor.

    Attributes:
        data: the descriptor bytes.
        items: every item in order.
        fields: every field in declaration order.
        reports: one entry per (report type, report ID), in order of first use.
    """

    data: bytes
    items: tuple[Item, ...]
    fields: tuple[Field, ...]
    reports: tuple[Report, ...]

    @classmethod
    def from_bytes(cls, data: bytes) -> ReportDescriptor:
        """Parse a report descriptor.

        Args:
            data: the descriptor as read from the device (HID class descriptor 0x22).

        Returns:
            The parsed descriptor.

        Raises:
            DescriptorError: the descriptor is malformed; the message names the
                byte offset and the item.
        """
        parser = _Parser()
        items = tuple(iter_items(bytes(data)))
        for item in items:
            parser.feed(item)
        return parser.finish(bytes(data), items)

    @property
    def uses_report_ids(self) -> bool:
        """True when reports start with a report-ID byte."""
        return any(report.report_id for report in self.reports)

    def report(self, report_type: ReportType, report_id: int) -> Report | None:
        """The report of that type and ID, or None if the descriptor has none."""
        for report in self.reports:
            if report.report_type is report_type and report.report_id == report_id:
                return report
        return None

    def find(self, path: str, names: Mapping[int, str] = USAGE_NAMES) -> tuple[Field, ...]:
        """Every field whose path is ``path`` (several for arrays of one usage).

        Args:
            path: dotted usage path, e.g. ``UPS.PowerSummary.RemainingCapacity``.
            names: the usage names the path was written with.

        Returns:
            Matching fields in declaration order; empty if none.
        """
        return tuple(f for f in self.fields if f.path(names) == path)

    def field_at(self, report_type: ReportType, report_id: int, bit_offset: int) -> Field | None:
        """The field starting at that bit, which tells apart fields sharing a path.

        Args:
            report_type: Input, Output or Feature.
            report_id: the Report ID, 0 when the descriptor declares none.
            bit_offset: first bit, not counting the report-ID byte.

        Returns:
            The field, or None if no field starts there.
        """
        report = self.report(report_type, report_id)
        if report is None:
            return None
        return next((f for f in report.fields if f.bit_offset == bit_offset), None)


@dataclass(frozen=True)
class _Globals:
    """The global item state; frozen so that Push can keep a reference."""

    usage_page: int = 0
    logical_minimum: int = 0
    logical_maximum: int = 0
    # HID extents are signed, but firmware often writes 0..255 as `25 ff`; the
    # unsigned reading is kept for the min ≥ 0 > max repair in _extent().
    logical_maximum_unsigned: int = 0
    physical_minimum: int | None = None
    physical_maximum: int | None = None
    physical_maximum_unsigned: int | None = None
    unit_exponent: int = 0
    unit: int = 0
    report_size: int = 0
    report_id: int = 0
    report_count: int = 0


@dataclass
class _Locals:
    """Local item state, cleared after every main item."""

    # Spans of extended usages, (first, last) inclusive, in declaration order.
    spans: list[tuple[int, int]] = field(default_factory=list)
    # A Usage Minimum still waiting for its Maximum; one never followed by a
    # Maximum names no range and is ignored, as hosts commonly do.
    minimum: int | None = None
    delimiter_open: bool = False
    delimiter_usage_taken: bool = False

    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.spans)

    def first(self, limit: int) -> list[int]:
        """Up to ``limit`` usages in order, expanding ranges only as far as needed."""
        usages: list[int] = []
        for first, last in self.spans:
            usages.extend(range(first, min(last + 1, first + limit - len(usages))))
            if len(usages) == limit:
                break
        return usages


def _extent(minimum: int, maximum: int, maximum_unsigned: int) -> int:
    # HID 1.11 says extents are signed, yet `15 00 25 ff` (0..255) is common
    # firmware; a maximum below a non-negative minimum can only mean that.
    return maximum_unsigned if minimum >= 0 > maximum else maximum


def _unit_exponent(item: Item) -> int:
    # HID 1.11 §6.2.2.7: the exponent is a 4-bit two's-complement nibble
    # (0x0F = -1); some firmware writes a whole signed byte (0xFE = -2) instead.
    if 0 <= item.unsigned <= 0x0F:
        return item.unsigned - 16 if item.unsigned > 7 else item.unsigned
    return item.signed


class _Parser:
    """The HID item state machine; feed items in order, then finish()."""

    def __init__(self) -> None:
        self.globals = _Globals()
        self.stack: list[_Globals] = []
        self.locals = _Locals()
        self.open: list[tuple[Collection, Item]] = []
        self.bit_offsets: dict[tuple[ReportType, int], int] = {}
        self.fields: list[Field] = []
        self.array_usages = 0

    def feed(self, item: Item) -> None:
        if item.type is ItemType.MAIN and (ItemType.MAIN, item.tag) in _ITEM_NAMES:
            self._main(item)
        elif item.type is ItemType.GLOBAL:
            self._global(item)
        elif item.type is ItemType.LOCAL:
            self._local(item)
        # Reserved tags and long items carry nothing HID 1.11 defines: they are
        # skipped, as the spec asks of parsers that meet items they do not know.

    def finish(self, data: bytes, items: tuple[Item, ...]) -> ReportDescriptor:
        if self.open:
            item = self.open[-1][1]
            raise DescriptorError("Collection is never closed", item.offset, item)
        by_report: dict[tuple[ReportType, int], list[Field]] = {key: [] for key in self.bit_offsets}
        for f in self.fields:
            by_report[(f.report_type, f.report_id)].append(f)
        reports = tuple(
            Report(key[0], key[1], tuple(fields), self.bit_offsets[key])
            for key, fields in by_report.items()
        )
        return ReportDescriptor(data, items, tuple(self.fields), reports)

    # --- main items -------------------------------------------------------

    def _main(self, item: Item) -> None:
        if item.tag == MainTag.COLLECTION:
            usage = self.locals.spans[0][0] if self.locals.spans else None
            self.open.append((Collection(usage, item.unsigned & 0xFF, item.offset), item))
        elif item.tag == MainTag.END_COLLECTION:
            if not self.open:
                raise DescriptorError("End Collection without Collection", item.offset, item)
            self.open.pop()
        elif item.tag in _REPORT_TYPES:
            self._data_item(item, _REPORT_TYPES[MainTag(item.tag)])
        self.locals = _Locals()

    def _data_item(self, item: Item, report_type: ReportType) -> None:
        g = self.globals
        count, size = g.report_count, g.report_size
        if count == 0:
            return
        key = (report_type, g.report_id)
        start = self.bit_offsets.get(key, 0)
        if not 0 < size <= MAX_REPORT_SIZE:
            raise DescriptorError(
                f"Report Size {size} is outside 1..{MAX_REPORT_SIZE} bits", item.offset, item
            )
        if start + count * size > MAX_REPORT_BITS:
            raise DescriptorError(
                f"report {g.report_id:#04x} would exceed {MAX_REPORT_BITS} bits"
                f" (Report Size {size} x Report Count {count})",
                item.offset,
                item,
            )
        self.bit_offsets[key] = start + count * size
        known = self.locals.count()
        if known == 0:
            return  # padding: it only moves the bit offset
        if len(self.fields) + count > MAX_FIELDS:
            raise DescriptorError(
                f"more than {MAX_FIELDS} fields (Report Count {count})", item.offset, item
            )
        flags = MainFlags(item.unsigned & 0x1FF)
        array_usages: tuple[int, ...] = ()
        if flags & MainFlags.VARIABLE:
            usages = self.locals.first(count)
        else:
            self.array_usages += known
            if self.array_usages > MAX_ARRAY_USAGES:
                raise DescriptorError(
                    f"arrays list more than {MAX_ARRAY_USAGES} usages", item.offset, item
                )
            array_usages = tuple(self.locals.first(known))
            usages = [array_usages[0]]
        logical_maximum = _extent(g.logical_minimum, g.logical_maximum, g.logical_maximum_unsigned)
        physical_maximum = g.physical_maximum
        if (
            g.physical_minimum is not None
            and g.physical_maximum is not None
            and g.physical_maximum_unsigned is not None
        ):
            physical_maximum = _extent(
                g.physical_minimum, g.physical_maximum, g.physical_maximum_unsigned
            )
        collections = tuple(c for c, _ in self.open)
        for index in range(count):
            # HID 1.11 §6.2.2.8: when there are fewer usages than values, the
            # last usage applies to the rest (GXT5's three ConfigVoltage values).
            # Every array element gets the first usage: its value selects the real one.
            self.fields.append(
                Field(
                    report_type=report_type,
                    report_id=g.report_id,
                    bit_offset=start + index * size,
                    bit_size=size,
                    usage=usages[min(index, len(usages) - 1)],
                    collections=collections,
                    flags=flags,
                    logical_minimum=g.logical_minimum,
                    logical_maximum=logical_maximum,
                    physical_minimum=g.physical_minimum,
                    physical_maximum=physical_maximum,
                    unit=g.unit,
                    unit_exponent=g.unit_exponent,
                    item_offset=item.offset,
                    index=index,
                    usages=array_usages,
                )
            )

    # --- global items -----------------------------------------------------

    def _global(self, item: Item) -> None:
        g = self.globals
        tag = item.tag
        if tag == GlobalTag.USAGE_PAGE:
            if item.unsigned > 0xFFFF:
                raise DescriptorError("Usage Page wider than 16 bits", item.offset, item)
            self.globals = replace(g, usage_page=item.unsigned)
        elif tag == GlobalTag.LOGICAL_MINIMUM:
            self.globals = replace(g, logical_minimum=item.signed)
        elif tag == GlobalTag.LOGICAL_MAXIMUM:
            self.globals = replace(
                g, logical_maximum=item.signed, logical_maximum_unsigned=item.unsigned
            )
        elif tag == GlobalTag.PHYSICAL_MINIMUM:
            self.globals = replace(g, physical_minimum=item.signed)
        elif tag == GlobalTag.PHYSICAL_MAXIMUM:
            self.globals = replace(
                g, physical_maximum=item.signed, physical_maximum_unsigned=item.unsigned
            )
        elif tag == GlobalTag.UNIT_EXPONENT:
            exponent = _unit_exponent(item)
            if exponent not in _UNIT_EXPONENT_RANGE:
                raise DescriptorError(f"Unit Exponent {exponent} is absurd", item.offset, item)
            self.globals = replace(g, unit_exponent=exponent)
        elif tag == GlobalTag.UNIT:
            self.globals = replace(g, unit=item.unsigned)
        elif tag == GlobalTag.REPORT_SIZE:
            self.globals = replace(g, report_size=item.unsigned)
        elif tag == GlobalTag.REPORT_ID:
            if not 0 < item.unsigned <= 0xFF:
                raise DescriptorError("Report ID must be 1..255", item.offset, item)
            self.globals = replace(g, report_id=item.unsigned)
        elif tag == GlobalTag.REPORT_COUNT:
            self.globals = replace(g, report_count=item.unsigned)
        elif tag == GlobalTag.PUSH:
            self.stack.append(g)
        elif tag == GlobalTag.POP:
            if not self.stack:
                raise DescriptorError("Pop without Push", item.offset, item)
            self.globals = self.stack.pop()

    # --- local items ------------------------------------------------------

    def _extended(self, item: Item) -> int:
        # HID 1.11 §6.2.2.8: a 4-byte usage carries its own page; a shorter one
        # takes the Usage Page in force when it is read (GXT5 report 0x08
        # switches pages in the middle of one usage list).
        if len(item.data) == 4:
            return item.unsigned
        return (self.globals.usage_page << 16) | item.unsigned

    def _local(self, item: Item) -> None:
        loc = self.locals
        tag = item.tag
        if tag == LocalTag.USAGE:
            if loc.delimiter_open:
                # Inside a Delimiter set the usages are aliases; the first is preferred.
                if loc.delimiter_usage_taken:
                    return
                loc.delimiter_usage_taken = True
            usage = self._extended(item)
            loc.spans.append((usage, usage))
        elif tag == LocalTag.USAGE_MINIMUM:
            loc.minimum = self._extended(item)
        elif tag == LocalTag.USAGE_MAXIMUM:
            self._usage_range(item)
        elif tag == LocalTag.DELIMITER:
            self._delimiter(item)

    def _usage_range(self, item: Item) -> None:
        loc = self.locals
        if loc.minimum is None:
            raise DescriptorError("Usage Maximum without Usage Minimum", item.offset, item)
        first, last = loc.minimum, self._extended(item)
        if first >> 16 != last >> 16 or last < first:
            raise DescriptorError(
                f"Usage Minimum {first:#010x} and Usage Maximum {last:#010x} do not form a range",
                item.offset,
                item,
            )
        loc.spans.append((first, last))
        loc.minimum = None

    def _delimiter(self, item: Item) -> None:
        loc = self.locals
        opening = item.unsigned == 1
        if item.unsigned not in (0, 1) or opening == loc.delimiter_open:
            raise DescriptorError("unbalanced Delimiter", item.offset, item)
        loc.delimiter_open = opening
        loc.delimiter_usage_taken = False
