"""The real UPS captures in tests/fixtures/hid, loaded for the tests."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upsight.drivers.hid.descriptor import ReportType
from upsight.drivers.hid.usages import USAGE_NAMES
from upsight.drivers.hid.vendors import vendor_for

from .vendor_names import DELTA, DELTA_VENDOR_ID

FIXTURES = Path(__file__).parents[2] / "fixtures" / "hid"

# The notes name every value the reassembly truncated, e.g.
# "UPS.Battery.Voltage (Feature 0x26): transcription value 27 is not an exact
# rendering of raw 2730".
_TRUNCATED = re.compile(
    r"(?P<path>\S+) \((?P<type>Input|Feature) 0x(?P<id>[0-9a-f]{2})\): "
    r"transcription value (?P<value>\d+) is not an exact rendering"
)


@dataclass(frozen=True)
class Capture:
    """One fixture file: a descriptor, NUT's Path lines and the report bytes."""

    name: str
    vid: int
    pid: int
    descriptor: bytes
    paths: tuple[Mapping[str, Any], ...]
    reports: Mapping[int, bytes]
    notes: str
    names: Mapping[int, str]
    nut_values: Mapping[str, str] | None

    def feature_reports(self) -> dict[tuple[ReportType, int], bytes]:
        """The reports keyed as ``decode_reports`` takes them: NUT read all as Feature."""
        return {(ReportType.FEATURE, report_id): data for report_id, data in self.reports.items()}

    def truncated(self) -> dict[tuple[str, str, int], int]:
        """(path, type, report ID) → the rounded-down value the notes state."""
        return {
            (m["path"], m["type"], int(m["id"], 16)): int(m["value"])
            for m in _TRUNCATED.finditer(self.notes)
        }


def _names_for(vid: int, pid: int) -> Mapping[int, str]:
    if vid == DELTA_VENDOR_ID:
        return {**USAGE_NAMES, **DELTA}
    return vendor_for(vid, pid).names


def _load(path: Path) -> Capture:
    raw = json.loads(path.read_text(encoding="utf-8"))
    vid, pid = int(raw["vendor_id"], 16), int(raw["product_id"], 16)
    return Capture(
        name=path.stem,
        vid=vid,
        pid=pid,
        descriptor=bytes.fromhex(raw["descriptor_hex"]),
        paths=tuple(raw["paths"]),
        reports={r["report_id"]: bytes.fromhex(r["hex"]) for r in raw["reports"]},
        notes=raw["notes"],
        names=_names_for(vid, pid),
        nut_values=raw.get("nut_values"),
    )


CAPTURES: tuple[Capture, ...] = tuple(_load(p) for p in sorted(FIXTURES.glob("*.json")))


def by_name(name: str) -> Capture:
    """The capture whose file stem is ``name``."""
    return next(c for c in CAPTURES if c.name == name)
