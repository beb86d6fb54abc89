"""Malformed descriptors fail with a DescriptorError naming the byte offset and the item."""

from __future__ import annotations

import pytest

from upsight.drivers.errors import ProtocolError
from upsight.drivers.hid.descriptor import (
    MAX_FIELDS,
    MAX_REPORT_BITS,
    DescriptorError,
    ReportDescriptor,
)

from .hexdump import unhex

# (descriptor, offset of the offending item, the item as printed, words of the reason)
CASES = [
    pytest.param("05 84 26 ff", 2, None, "Logical Maximum [26 ff] is truncated", id="truncated"),
    pytest.param("05 84 27 ff ff", 2, None, "needs 4 data bytes, 2 left", id="truncated-4"),
    pytest.param("09 30 fe 05 10 aa", 2, None, "Long Item [fe 05 10 aa]", id="truncated-long"),
    pytest.param("09 30 fe 05", 2, None, "header needs 3 bytes", id="truncated-long-header"),
    pytest.param(
        "05 84 09 04 a1 01 09 24 a1 00 c0",
        4,
        "Collection [a1 01]",
        "never closed",
        id="collection-not-closed",
    ),
    pytest.param(
        "05 84 09 04 a1 01 c0 c0",
        7,
        "End Collection [c0]",
        "End Collection without Collection",
        id="end-without-collection",
    ),
    pytest.param("05 84 a4 b4 b4", 4, "Pop [b4]", "Pop without Push", id="pop-without-push"),
    pytest.param(
        "75 00 95 01 09 30 b1 02", 6, "Feature [b1 02]", "Report Size 0", id="report-size-0"
    ),
    pytest.param(
        "76 01 01 95 01 09 30 81 02", 7, "Input [81 02]", "Report Size 257", id="report-size-huge"
    ),
    pytest.param(
        "75 08 97 ff ff ff ff 09 30 b1 02",
        9,
        "Feature [b1 02]",
        f"would exceed {MAX_REPORT_BITS} bits",
        id="count-4g",
    ),
    pytest.param(
        "75 01 96 01 10 09 30 b1 02",
        7,
        "Feature [b1 02]",
        f"more than {MAX_FIELDS} fields",
        id="count-4097",
    ),
    pytest.param(
        "75 ff 95 ff 09 30 b1 02 b1 02",
        8,
        "Feature [b1 02]",
        "would exceed",
        id="report-grows-too-long",
    ),
    pytest.param("85 00", 0, "Report ID [85 00]", "Report ID must be 1..255", id="report-id-0"),
    pytest.param("86 00 01", 0, "Report ID [86 00 01]", "1..255", id="report-id-256"),
    pytest.param(
        "07 00 00 01 00", 0, "Usage Page [07 00 00 01 00]", "wider than 16 bits", id="page-wide"
    ),
    pytest.param("56 00 01", 0, "Unit Exponent [56 00 01]", "absurd", id="exponent-absurd"),
    pytest.param(
        "05 84 29 05", 2, "Usage Maximum [29 05]", "without Usage Minimum", id="max-without-min"
    ),
    pytest.param(
        "05 84 19 05 29 01", 4, "Usage Maximum [29 01]", "do not form a range", id="range-reversed"
    ),
    pytest.param(
        "05 84 19 05 05 85 29 09",
        6,
        "Usage Maximum [29 09]",
        "do not form a range",
        id="range-across-pages",
    ),
    pytest.param("a9 00", 0, "Delimiter [a9 00]", "unbalanced Delimiter", id="delimiter-close"),
    pytest.param("a9 01 a9 01", 2, "Delimiter [a9 01]", "unbalanced", id="delimiter-nested"),
]


@pytest.mark.parametrize(("text", "offset", "item", "reason"), CASES)
def test_malformed_descriptor_names_offset_and_item(
    text: str, offset: int, item: str | None, reason: str
) -> None:
    with pytest.raises(DescriptorError) as caught:
        ReportDescriptor.from_bytes(unhex(text))
    error = caught.value
    assert error.offset == offset
    assert f"at offset {offset}" in str(error)
    assert reason in str(error)
    if item is None:
        assert error.item is None
    else:
        assert str(error.item) == item
        assert f"({item})" in str(error)


def test_descriptor_error_is_a_protocol_error() -> None:
    assert issubclass(DescriptorError, ProtocolError)


def test_a_lone_usage_minimum_is_ignored() -> None:
    descriptor = ReportDescriptor.from_bytes(unhex("05 84 19 05 09 30 75 08 95 01 b1 02"))
    assert [f.usage for f in descriptor.fields] == [0x840030]


def test_report_count_0_declares_nothing() -> None:
    descriptor = ReportDescriptor.from_bytes(unhex("75 00 95 00 09 30 b1 02"))
    assert descriptor.fields == ()
    assert descriptor.reports == ()


def test_empty_descriptor_is_empty_not_an_error() -> None:
    descriptor = ReportDescriptor.from_bytes(b"")
    assert (descriptor.items, descriptor.fields, descriptor.reports) == ((), (), ())
