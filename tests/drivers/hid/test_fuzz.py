"""Property tests: any input parses or fails with DescriptorError, quickly and within bounds."""

from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upsight.drivers.hid.decode import decode
from upsight.drivers.hid.descriptor import (
    MAX_FIELDS,
    MAX_REPORT_BITS,
    DescriptorError,
    ReportDescriptor,
)

from .captures import CAPTURES

# A parse must finish well inside this, or Hypothesis reports the example as a
# failure: that is the "never hangs" check.
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)

REAL = [c.descriptor for c in CAPTURES]


def parse_or_descriptor_error(data: bytes) -> ReportDescriptor | None:
    """Parse, accepting DescriptorError only; any other exception fails the test."""
    try:
        descriptor = ReportDescriptor.from_bytes(data)
    except DescriptorError as error:
        offset = error.offset
    else:
        check_bounds(descriptor)
        return descriptor
    assert 0 <= offset < len(data)
    return None


def check_bounds(descriptor: ReportDescriptor) -> None:
    """What a successful parse promises: bounded fields, each decodable from its report."""
    assert len(descriptor.fields) <= MAX_FIELDS
    for report in descriptor.reports:
        assert report.bit_length <= MAX_REPORT_BITS
        data = bytes([report.report_id] if report.report_id else []) + b"\xa5" * (
            report.byte_length - (1 if report.report_id else 0)
        )
        for f in report.fields:
            assert f.bit_offset + f.bit_size <= report.bit_length
            assert not math.isnan(decode(f, data))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real descriptor with a few bytes flipped, inserted or deleted."""
    data = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "insert" or not data:
            data.insert(position, draw(st.integers(0, 255)))
        elif action == "flip":
            data[position % len(data)] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[position % len(data)]
    return bytes(data)


# Plausible items by kind, so that parses get deep into the state machine more
# often than random bytes do.
_GLOBALS = [
    "05 84", "05 85", "06 ff ff", "15 00", "15 ff", "16 ff ff", "25 01", "26 ff 00",
    "27 ff ff ff 7f", "35 c4", "46 ff 00", "55 0f", "55 07", "67 21 d1 f0 00", "65 00",
    "75 01", "75 08", "75 10", "75 20", "95 01", "95 03", "95 40", "85 01", "85 02",
]  # fmt: skip
_LOCALS = ["09 30", "09 66", "0b 30 00 84 00", "19 01 29 05", "a9 01 09 31 09 32 a9 00"]
_MAINS = ["81 02", "81 00", "b1 02", "b1 03", "b2 a2 01", "91 02"]


@st.composite
def random_item(draw: st.DrawFn) -> bytes:
    prefix = draw(st.integers(0, 255))
    size = 2 if prefix == 0xFE else (0, 1, 2, 4)[prefix & 0x03]
    return bytes([prefix]) + draw(st.binary(min_size=size, max_size=size))


@st.composite
def items(draw: st.DrawFn) -> bytes:
    """Mostly well-nested plausible items, with a random item now and then."""
    out = bytearray(bytes.fromhex("75 08 95 01"))  # Report Size 8, Count 1 to start from
    depth = pushed = 0
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(["global", "local", "main", "open", "close", "push", "pop"]))
        if kind == "open":
            out += bytes.fromhex(draw(st.sampled_from(["09 04 a1 01", "a1 00", "09 1e a1 81"])))
            depth += 1
        elif kind == "close" and depth:
            out.append(0xC0)
            depth -= 1
        elif kind == "push":
            out.append(0xA4)
            pushed += 1
        elif kind == "pop" and pushed:
            out.append(0xB4)
            pushed -= 1
        elif kind == "main":
            usages = draw(st.lists(st.sampled_from(_LOCALS), max_size=3))
            out += bytes.fromhex(" ".join([*usages, draw(st.sampled_from(_MAINS))]))
        elif kind in ("global", "local"):
            out += bytes.fromhex(draw(st.sampled_from(_GLOBALS if kind == "global" else _LOCALS)))
        if draw(st.integers(0, 9)) == 0:
            out += draw(random_item())
    return bytes(out) + b"\xc0" * depth


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_parse_or_raise_descriptor_error(data: bytes) -> None:
    parse_or_descriptor_error(data)


@FUZZ
@given(mutated())
def test_mutated_real_descriptors_parse_or_raise_descriptor_error(data: bytes) -> None:
    parse_or_descriptor_error(data)


@FUZZ
@given(items())
def test_random_item_sequences_parse_or_raise_descriptor_error(data: bytes) -> None:
    parse_or_descriptor_error(data)


@given(st.sampled_from(REAL), st.data())
def test_every_real_descriptor_cut_short_fails_cleanly(data: bytes, draw: st.DataObject) -> None:
    cut = draw.draw(st.integers(0, len(data) - 1))
    parse_or_descriptor_error(data[:cut])


def test_real_descriptors_are_within_the_bounds() -> None:
    for data in REAL:
        descriptor = parse_or_descriptor_error(data)
        assert descriptor is not None
