"""The real UPS captures in tests/fixtures/hid, loaded for the tests."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upsight.drivers.hid.usages import USAGE_NAMES

from .vendor_names import BY_FIXTURE_PREFIX

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
    descriptor: bytes
    paths: tuple[Mapping[str, Any], ...]
    reports: Mapping[int, bytes]
    notes: str
    names: Mapping[int, str]

    def truncated(self) -> dict[tuple[str, str, int], int]:
        """(path, type, report ID) → the rounded-down value the notes state."""
        return {
            (m["path"], m["type"], int(m["id"], 16)): int(m["value"])
            for m in _TRUNCATED.finditer(self.notes)
        }


def _names_for(stem: str) -> Mapping[int, str]:
    for prefix, vendor in BY_FIXTURE_PREFIX.items():
        if stem.startswith(prefix):
            return {**USAGE_NAMES, **vendor}
    return USAGE_NAMES


def _load(path: Path) -> Capture:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Capture(
        name=path.stem,
        descriptor=bytes.fromhex(raw["descriptor_hex"]),
        paths=tuple(raw["paths"]),
        reports={r["report_id"]: bytes.fromhex(r["hex"]) for r in raw["reports"]},
        notes=raw["notes"],
        names=_names_for(path.stem),
    )


CAPTURES: tuple[Capture, ...] = tuple(_load(p) for p in sorted(FIXTURES.glob("*.json")))


def by_name(name: str) -> Capture:
    """The capture whose file stem is ``name``."""
    return next(c for c in CAPTURES if c.name == name)
