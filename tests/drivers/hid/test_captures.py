"""Thirteen real UPS descriptors: every path NUT logged resolves and every value decodes."""

from __future__ import annotations

import math
import re

import pytest

from upsight.drivers.hid.decode import decode, logical_value
from upsight.drivers.hid.descriptor import Field, ReportDescriptor, ReportType
from upsight.drivers.hid.usages import usage_name

from .captures import CAPTURES, Capture

# What the fixtures hold (README "Checks"): 1029 Path lines, 1010 with a value
# NUT logged exactly, 19 withheld (18 truncated by the reassembly, one %g).
TOTAL_PATHS = 1029
TOTAL_VALUES = 1010
TOTAL_WITHHELD = 19

# The notes quote NUT's %g rendering of the one value it printed rounded.
_PRINTED_G = re.compile(r"NUT printed it as (?P<text>\S+) \(printf %g")


_HEX_USAGE = re.compile(r"[0-9a-f]{8}")


def with_names(path: str, capture: Capture) -> str:
    """NUT's path with usages it printed as hex named as our vendor tables name them.

    The NUT builds that wrote the CyberPower logs had no names for page 0xFF01;
    Upsight's CyberPower module names two of those usages.
    """
    return ".".join(
        usage_name(int(part, 16), capture.names) if _HEX_USAGE.fullmatch(part) else part
        for part in path.split(".")
    )


def field_for(descriptor: ReportDescriptor, line: dict[str, object]) -> Field | None:
    report_type = ReportType(line["type"])
    assert isinstance(line["report_id"], int)
    assert isinstance(line["offset"], int)
    return descriptor.field_at(report_type, line["report_id"], line["offset"])


@pytest.fixture(scope="module")
def parsed() -> dict[str, ReportDescriptor]:
    return {c.name: ReportDescriptor.from_bytes(c.descriptor) for c in CAPTURES}


def test_all_thirteen_captures_are_present() -> None:
    assert len(CAPTURES) == 13
    assert sum(len(c.paths) for c in CAPTURES) == TOTAL_PATHS
    assert sum(line["value"] is not None for c in CAPTURES for line in c.paths) == TOTAL_VALUES


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_path_resolves_to_a_field_with_that_path_and_size(
    capture: Capture, parsed: dict[str, ReportDescriptor]
) -> None:
    descriptor = parsed[capture.name]
    wrong = []
    for line in capture.paths:
        found = field_for(descriptor, dict(line))
        got = None if found is None else (found.path(capture.names), found.bit_size)
        if got != (with_names(line["path"], capture), line["size"]):
            wrong.append((line, got))
    assert wrong == []


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_logged_value_decodes_exactly(
    capture: Capture, parsed: dict[str, ReportDescriptor]
) -> None:
    descriptor = parsed[capture.name]
    wrong = []
    for line in capture.paths:
        if line["value"] is None:
            continue
        found = field_for(descriptor, dict(line))
        assert found is not None, line
        value = decode(found, capture.reports[line["report_id"]])
        if value != line["value"]:
            wrong.append((line["path"], line["type"], line["report_id"], line["value"], value))
    assert wrong == []


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_withheld_values_have_their_raw_logical_value_and_the_rendering_nut_logged(
    capture: Capture, parsed: dict[str, ReportDescriptor]
) -> None:
    descriptor = parsed[capture.name]
    truncated = capture.truncated()
    printed = _PRINTED_G.search(capture.notes)
    for line in capture.paths:
        if line["value"] is not None:
            continue
        found = field_for(descriptor, dict(line))
        assert found is not None, line
        report = capture.reports[line["report_id"]]
        assert logical_value(found, report) == line["raw_derived"], line
        value = decode(found, report)
        key = (line["path"], line["type"], line["report_id"])
        if key in truncated:
            # The reassembly rounded non-integers down (README "Fields").
            assert math.floor(value) == truncated[key], line
        else:
            # NUT printed more than 6 significant digits with %g.
            assert printed is not None, line
            assert f"{value:g}" == printed["text"], line


def test_withheld_values_are_all_accounted_for() -> None:
    withheld = sum(line["value"] is None for c in CAPTURES for line in c.paths)
    truncated = sum(len(c.truncated()) for c in CAPTURES)
    printed = sum(_PRINTED_G.search(c.notes) is not None for c in CAPTURES)
    assert (withheld, truncated, printed) == (TOTAL_WITHHELD, 18, 1)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_field_decodes_from_its_captured_report(
    capture: Capture, parsed: dict[str, ReportDescriptor]
) -> None:
    # Beyond the logged paths: each captured report holds all its declared fields.
    descriptor = parsed[capture.name]
    short = []
    for report in descriptor.reports:
        data = capture.reports.get(report.report_id)
        if data is None or report.report_type is ReportType.OUTPUT:
            continue
        if len(data) < report.byte_length:
            short.append((report.report_type, report.report_id, len(data), report.byte_length))
            continue
        for f in report.fields:
            assert math.isfinite(decode(f, data))
    assert short == []
