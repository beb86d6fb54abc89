"""The Hypothesis profile for the fuzz tests, the hang-guarded runner, and shared strategies."""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.targets import Target, watchdog

# Sized so that all of tests/fuzz stays within about a minute in CI; raise
# UPSIGHT_FUZZ_EXAMPLES for a longer local run. No deadline: timing belongs to the
# watchdog below, which only catches real hangs.
settings.register_profile(
    "upsight-fuzz",
    max_examples=int(os.environ.get("UPSIGHT_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ: Final = settings.get_profile("upsight-fuzz")

# Far above any real input's time, far below pytest-timeout's.
HANG_S: Final = 5.0


def run(target: Target, data: bytes) -> None:
    """Run one input through a target; a hang becomes a failure naming the input."""
    with watchdog(HANG_S):
        target(data)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], max_edits: int = 8) -> bytes:
    """A seed with a few bytes flipped, replaced, inserted, deleted or repeated."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_edits))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "repeat"]))
        if action == "insert" or not data:
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "flip":
            data[position % len(data)] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[position % len(data)] = draw(st.sampled_from(b'\x00\xff\r\n "\\.-+0123456789'))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            end = min(len(data), position + draw(st.integers(1, 16)))
            data[position:position] = data[position:end] * draw(st.integers(1, 8))
    return bytes(data)
