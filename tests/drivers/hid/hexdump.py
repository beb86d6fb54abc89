"""Descriptors written one item per line, with the item's meaning after a ``#``."""

from __future__ import annotations

from upsight.drivers.hid.descriptor import ReportDescriptor


def unhex(text: str) -> bytes:
    """The bytes of a commented hex listing."""
    return bytes.fromhex(" ".join(line.split("#", 1)[0] for line in text.splitlines()))


def parse(text: str) -> ReportDescriptor:
    """Parse a commented hex listing."""
    return ReportDescriptor.from_bytes(unhex(text))
