"""dummy-ups files the GUI tests rewrite to drive a real agent."""

from __future__ import annotations

import os
from pathlib import Path

ON_LINE = """\
ups.status: OL CHRG
battery.charge: 100
battery.runtime: 1800
input.voltage: 230
input.frequency: 50
#CMD:beeper.mute
"""

ON_BATTERY = """\
ups.status: OB DISCHRG
battery.charge: 87
battery.runtime: 840
input.voltage: 0
"""


def write_dump(path: Path, text: str) -> None:
    """Replace the file whole, so the driver sees a new file rather than a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(text)
    os.replace(scratch, path)
