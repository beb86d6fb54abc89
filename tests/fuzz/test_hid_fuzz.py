"""Fuzzing the HID path past the parser: vendor repairs, report decoding and the mapping table.

Descriptor parsing alone is fuzzed in tests/drivers/hid/test_fuzz.py; here every real
capture also brings its report bytes, so mutations reach decode and map.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.drivers.hid.captures import CAPTURES
from tests.fuzz.seeds import SEEDS
from tests.fuzz.strategies import FUZZ, mutated, run
from tests.fuzz.targets import _HID_HEADER, hid, hid_input
from upsight.drivers.hid.descriptor import ReportType

HID_SEEDS = SEEDS["hid"]()


@st.composite
def capture_with_bad_reports(draw: st.DrawFn) -> bytes:
    """A real descriptor with its reports cut, lengthened, mutated or read as the other type."""
    capture = draw(st.sampled_from(CAPTURES))
    reports: dict[tuple[ReportType, int], bytes] = {}
    for report_id, real in capture.reports.items():
        data = real
        kind = draw(st.sampled_from([ReportType.FEATURE, ReportType.INPUT]))
        edit = draw(st.sampled_from(["keep", "cut", "grow", "noise", "ones"]))
        if edit == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif edit == "grow":
            data += draw(st.binary(min_size=1, max_size=8))
        elif edit == "noise":
            data = data[:1] + draw(st.binary(min_size=len(data) - 1, max_size=len(data) - 1))
        elif edit == "ones":
            data = data[:1] + b"\xff" * (len(data) - 1)
        reports[(kind, report_id)] = data
    vid, pid = draw(st.sampled_from([(capture.vid, capture.pid), (0, 0), (0x0463, 0xFFFF)]))
    return hid_input(vid, pid, capture.descriptor, reports)


@FUZZ
@given(st.binary(max_size=400))
def test_random_devices(data: bytes) -> None:
    run(hid, data)


@FUZZ
@given(mutated(HID_SEEDS, max_edits=6))
def test_mutated_real_devices(data: bytes) -> None:
    run(hid, data)


@FUZZ
@given(capture_with_bad_reports())
def test_real_descriptors_with_bad_reports(data: bytes) -> None:
    run(hid, data)


def test_every_real_capture_is_a_seed_that_maps_cleanly() -> None:
    for data in HID_SEEDS:
        hid(data)
    assert {s[: _HID_HEADER.size + 2] for s in HID_SEEDS} >= {
        hid_input(c.vid, c.pid, c.descriptor, {})[: _HID_HEADER.size + 2] for c in CAPTURES
    }
