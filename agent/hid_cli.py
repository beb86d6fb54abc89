"""``upsight hid decode``: decode a HID report descriptor and reports, for bug reports."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from upsight.drivers.errors import ProtocolError
from upsight.drivers.hid.decode import decode
from upsight.drivers.hid.descriptor import Field, ReportDescriptor, ReportType
from upsight.drivers.hid.mapping import Mapped, Mapper, decode_reports, readable_reports
from upsight.drivers.hid.vendors import vendor_for
from upsight.drivers.model import Value, format_value

_KINDS: Final = {"input": ReportType.INPUT, "feature": ReportType.FEATURE}
_ERROR_EXIT: Final = 2

ReportKey = tuple[ReportType, int]


class DecodeError(Exception):
    """Input the command cannot use; printed as one line, exit code 2."""


def _hex_token(token: str) -> bytes:
    return bytes.fromhex(token[2:] if token.lower().startswith("0x") else token)


def parse_hex(text: str, what: str) -> bytes:
    """Bytes from hex written as ``05 84 09 04``, ``0x05,0x84`` or ``05840904``.

    Args:
        text: the hex text.
        what: what the text is, for the error message.

    Returns:
        The bytes.

    Raises:
        DecodeError: the text is empty or not hex.
    """
    data = bytearray()
    for token in text.replace(",", " ").split():
        try:
            data += _hex_token(token)
        except ValueError:
            raise DecodeError(f"{what}: {token!r} is not hex bytes") from None
    if not data:
        raise DecodeError(f"{what}: no hex bytes")
    return bytes(data)


def parse_report(text: str, descriptor: ReportDescriptor) -> tuple[ReportKey, bytes]:
    """One ``--report`` argument: ``[input:|feature:]HEX``, Feature by default.

    Args:
        text: the argument.
        descriptor: the descriptor, which says whether reports start with an ID.

    Returns:
        ((type read as, report ID), bytes).

    Raises:
        DecodeError: bad kind, bad hex, or a report ID the descriptor lacks.
    """
    kind_text, sep, hex_text = text.partition(":")
    if not sep:
        kind_text, hex_text = "feature", text
    kind = _KINDS.get(kind_text.strip().lower())
    if kind is None:
        raise DecodeError(f"report {text!r}: the kind must be input: or feature:")
    data = parse_hex(hex_text, f"report {text!r}")
    report_id = data[0] if descriptor.uses_report_ids else 0
    if not readable_reports(descriptor, kind, report_id):
        raise DecodeError(f"report {text!r}: the descriptor declares no report {report_id:#04x}")
    return (kind, report_id), data


def usb_id(text: str) -> int:
    """A USB vendor or product ID written in hex, ``0x051d`` or ``051d``."""
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a 16-bit hex ID such as 0x051d")
    return value


@dataclass(frozen=True)
class Decoded:
    """Everything the command prints.

    Attributes:
        descriptor: the descriptor as given.
        mapper: the vendor's table over the repaired descriptor.
        raw: field of ``descriptor`` → value, as declared (no repairs, no range check).
        readings: field of the repaired descriptor → value the mapping used.
        mapped: status, variables, estimates and rejections.
    """

    descriptor: ReportDescriptor
    mapper: Mapper
    raw: dict[Field, float]
    readings: dict[Field, float]
    mapped: Mapped

    def variables(self) -> dict[str, Value]:
        """NUT variables, with ``ups.status`` when the device reported any status, by name."""
        out: dict[str, Value] = dict(self.mapped.values)
        if self.mapped.status.tokens():
            out["ups.status"] = str(self.mapped.status)
        return dict(sorted(out.items()))


def decode_input(descriptor_text: str, report_args: Sequence[str], vid: int, pid: int) -> Decoded:
    """Parse, repair, decode and map, as the command does.

    Args:
        descriptor_text: the descriptor as hex text.
        report_args: ``[input:|feature:]HEX`` strings.
        vid: USB vendor ID, choosing the vendor tables.
        pid: USB product ID.

    Returns:
        The decoding.

    Raises:
        DecodeError: bad hex, a malformed descriptor, or unusable reports.
    """
    try:
        descriptor = ReportDescriptor.from_bytes(parse_hex(descriptor_text, "descriptor"))
    except ProtocolError as exc:
        raise DecodeError(f"malformed descriptor: {exc}") from None
    reports = dict(parse_report(text, descriptor) for text in report_args)
    vendor = vendor_for(vid, pid)
    fixed = vendor.fixed(descriptor, pid)
    mapper = Mapper(fixed, vendor, pid)
    raw: dict[Field, float] = {}
    try:
        for (kind, report_id), data in reports.items():
            for report in readable_reports(descriptor, kind, report_id):
                for f in report.fields:
                    raw.setdefault(f, decode(f, data))
        readings = decode_reports(fixed, reports)
    except ProtocolError as exc:
        raise DecodeError(str(exc)) from None
    return Decoded(descriptor, mapper, raw, readings, mapper.map(readings))


def to_json(decoded: Decoded) -> dict[str, object]:
    """The ``--json`` document: every field with its value, and the NUT variables."""
    names = decoded.mapper.vendor.names
    return {
        "fields": [
            {
                "path": f.path(names),
                "type": f.report_type.value,
                "report_id": f.report_id,
                "offset": f.bit_offset,
                "size": f.bit_size,
                "value": decoded.raw.get(f),
            }
            for f in decoded.descriptor.fields
        ],
        "variables": decoded.variables(),
    }


def to_text(decoded: Decoded, vid: int, pid: int) -> str:
    """The readable form: a field table, then variables, rejections and unmapped fields."""
    mapper = decoded.mapper
    descriptor = decoded.descriptor
    lines = [
        f"# {len(descriptor.data)} descriptor bytes, {len(descriptor.fields)} fields in"
        f" {len(descriptor.reports)} reports; vendor tables: {mapper.vendor.name}"
        f" ({vid:04x}:{pid:04x})"
    ]
    table = [("PATH", "TYPE", "ID", "OFFSET", "SIZE", "VALUE", "MAPS TO")]
    # The repairs replace fields one for one, so both descriptors list them in step.
    for f, repaired in zip(descriptor.fields, mapper.descriptor.fields, strict=True):
        number = decoded.raw.get(f)
        shown = "-" if number is None else format_value(number)
        if number is not None and repaired not in decoded.readings:
            shown += " (outside logical range)"
        table.append(
            (
                f.path(mapper.vendor.names),
                f.report_type.value,
                f"{f.report_id:#04x}",
                str(f.bit_offset),
                str(f.bit_size),
                shown,
                " ".join(mapper.targets(repaired)),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    lines += ["", "# variables"]
    for name, value in decoded.variables().items():
        note = "  (estimated)" if name in decoded.mapped.estimated else ""
        lines.append(f"{name}: {format_value(value)}{note}")
    if decoded.mapped.rejected:
        lines += ["", "# rejected as implausible"]
        for name, rejection in sorted(decoded.mapped.rejected.items()):
            lines.append(f"{name}: {format_value(rejection.value)}  ({rejection.reason})")
    unmapped = mapper.unmapped(decoded.readings)
    if unmapped:
        lines += ["", "# unmapped"]
        lines += [f"{name}: {format_value(value)}" for name, value in sorted(unmapped.items())]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``upsight hid`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="upsight hid", description="Inspect USB HID Power Device data (for bug reports)."
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    decode_parser = sub.add_parser(
        "decode",
        help="decode a report descriptor and reports into fields and NUT variables",
        description=(
            "Decode a HID report descriptor and, optionally, reports read from the UPS. "
            "Send the output with a bug report for an unsupported UPS."
        ),
    )
    decode_parser.add_argument(
        "--descriptor",
        metavar="FILE",
        required=True,
        type=Path,
        help="the report descriptor as whitespace-separated hex bytes",
    )
    decode_parser.add_argument(
        "--report",
        metavar="[input:|feature:]HEX",
        action="extend",
        nargs="+",
        help="a report's bytes, report ID first; feature: unless the ID's Input layout differs",
    )
    decode_parser.add_argument(
        "--vid",
        type=usb_id,
        default=0,
        metavar="0xVVVV",
        help="USB vendor ID (picks vendor quirks)",
    )
    decode_parser.add_argument(
        "--pid", type=usb_id, default=0, metavar="0xPPPP", help="USB product ID"
    )
    decode_parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``upsight hid`` with the arguments after ``hid``.

    Args:
        argv: the arguments, e.g. ``["decode", "--descriptor", "ups.hex"]``.

    Returns:
        0 on success, 2 when the input cannot be used.
    """
    args = build_parser().parse_args(argv)
    try:
        text = args.descriptor.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"upsight hid: cannot read {args.descriptor}: {exc}", file=sys.stderr)
        return _ERROR_EXIT
    try:
        decoded = decode_input(text, args.report or (), args.vid, args.pid)
    except DecodeError as exc:
        print(f"upsight hid: {exc}", file=sys.stderr)
        return _ERROR_EXIT
    if args.json:
        print(json.dumps(to_json(decoded), indent=2))
    else:
        print(to_text(decoded, args.vid, args.pid))
    return 0
