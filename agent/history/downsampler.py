"""Bucket arithmetic for downsampled history: min/avg/max summaries, merging and grouping."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MINUTE_S = 60
HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class Bucket:
    """Summary of ``n`` samples: their minimum, mean and maximum."""

    n: int
    min: float
    avg: float
    max: float


def aggregate(values: Sequence[float]) -> Bucket | None:
    """Summarise samples; None when there are none.

    Uses C builtins on the whole sequence, which is far cheaper than updating a
    running summary per sample; ``math.fsum`` keeps the mean exact to rounding.
    """
    if not values:
        return None
    return Bucket(len(values), min(values), math.fsum(values) / len(values), max(values))


def merge(a: Bucket, b: Bucket) -> Bucket:
    """Combine the summaries of two disjoint sample sets; the mean is weighted by n.

    The upserts in ``store.py`` apply the same formula in SQL.
    """
    n = a.n + b.n
    return Bucket(n, min(a.min, b.min), (a.avg * a.n + b.avg * b.n) / n, max(a.max, b.max))


def merge_all(buckets: Iterable[Bucket]) -> Bucket | None:
    """Combine any number of summaries; None when there are none."""
    items = list(buckets)
    if not items:
        return None
    n = sum(b.n for b in items)
    avg = math.fsum(b.avg * b.n for b in items) / n
    return Bucket(n, min(b.min for b in items), avg, max(b.max for b in items))


def bucket_start(t: float, width_s: int) -> int:
    """The start (epoch s) of the ``width_s``-wide, epoch-aligned bucket holding ``t``."""
    return int(t // width_s) * width_s


def group(
    times: Sequence[float], values: Sequence[float], width_s: int
) -> list[tuple[int, Bucket]]:
    """Summarise samples per epoch-aligned bucket of ``width_s`` seconds.

    Args:
        times: Sample times, ascending.
        values: The samples, parallel to ``times``.
        width_s: Bucket width.

    Returns:
        ``(bucket start, summary)`` for each bucket holding samples, in order.
    """
    out: list[tuple[int, Bucket]] = []
    i = 0
    while i < len(times):
        start = bucket_start(times[i], width_s)
        j = bisect_left(times, start + width_s, lo=i)
        summary = aggregate(values[i:j])
        if summary is not None:
            out.append((start, summary))
        i = j
    return out
