"""Helpers shared by the benchmarks: isolated agent directories and percentiles."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path


def isolated_env(root: Path) -> dict[str, str]:
    """Environment that points the agent's config, data and socket into ``root``."""
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"UPSIGHT_{name}_DIR"] = str(path)
    return env


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="upsight-bench-"))


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) by the inclusive method."""
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[max(0, min(98, round(fraction * 100) - 1))]
