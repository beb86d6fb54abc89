"""Tests of the bucket arithmetic: hand-computed examples and merge properties."""

from __future__ import annotations

import math
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from upsight.agent.history.downsampler import (
    Bucket,
    aggregate,
    bucket_start,
    group,
    merge,
    merge_all,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_aggregate_by_hand() -> None:
    assert aggregate([4.0, 1.0, 7.0]) == Bucket(3, 1.0, 4.0, 7.0)
    assert aggregate([230.5]) == Bucket(1, 230.5, 230.5, 230.5)
    assert aggregate([]) is None


def test_merge_weights_the_mean_by_count() -> None:
    # Two samples of 1 and 2, then one sample of 6: mean (1 + 2 + 6) / 3 = 3.
    assert merge(Bucket(2, 1.0, 1.5, 2.0), Bucket(1, 6.0, 6.0, 6.0)) == Bucket(3, 1.0, 3.0, 6.0)


def test_merge_all_by_hand() -> None:
    buckets = [Bucket(1, 10.0, 10.0, 10.0), Bucket(3, 0.0, 2.0, 5.0), Bucket(4, -1.0, 0.5, 3.0)]
    # (10 + 6 + 2) / 8 = 2.25
    assert merge_all(buckets) == Bucket(8, -1.0, 2.25, 10.0)
    assert merge_all([]) is None


def test_bucket_start_is_epoch_aligned() -> None:
    assert bucket_start(125.0, 60) == 120
    assert bucket_start(119.999, 60) == 60
    assert bucket_start(1_700_002_799.5, 3600) == 1_699_999_200


def test_group_by_hand() -> None:
    times = [0.0, 1.0, 59.5, 60.0, 61.0, 200.0]
    values = [1.0, 2.0, 3.0, 10.0, 20.0, 5.0]
    assert group(times, values, 60) == [
        (0, Bucket(3, 1.0, 2.0, 3.0)),
        (60, Bucket(2, 10.0, 15.0, 20.0)),
        (180, Bucket(1, 5.0, 5.0, 5.0)),
    ]
    assert group([], [], 60) == []


def _assert_same_summary(got: Bucket | None, want: Bucket | None, scale: float) -> None:
    assert got is not None
    assert want is not None
    assert (got.n, got.min, got.max) == (want.n, want.min, want.max)
    # Relative to the magnitude of the samples: a mean near zero has no relative precision.
    assert math.isclose(got.avg, want.avg, rel_tol=1e-9, abs_tol=1e-9 * scale)


@given(st.lists(finite, min_size=1, max_size=200), st.lists(st.integers(0, 200), max_size=10))
def test_merging_any_split_equals_aggregating_all(values: list[float], cuts: list[int]) -> None:
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    parts = [values[a:b] for a, b in pairwise(bounds) if b > a]
    buckets = [b for part in parts if (b := aggregate(part)) is not None]
    want = aggregate(values)
    scale = max(1.0, *(abs(x) for x in values))
    _assert_same_summary(merge_all(buckets), want, scale)
    folded = buckets[0]
    for bucket in buckets[1:]:
        folded = merge(folded, bucket)
    _assert_same_summary(folded, want, scale)


@given(
    st.lists(st.tuples(st.floats(0, 10_000), finite), min_size=1, max_size=200),
    st.sampled_from([1, 7, 60, 3600]),
)
def test_group_partitions_the_samples(samples: list[tuple[float, float]], width: int) -> None:
    samples.sort()
    times = [t for t, _ in samples]
    values = [x for _, x in samples]
    groups = group(times, values, width)
    assert sum(b.n for _, b in groups) == len(samples)
    starts = [start for start, _ in groups]
    assert starts == sorted(set(starts))
    assert all(start % width == 0 for start in starts)
    assert min(b.min for _, b in groups) == min(values)
    assert max(b.max for _, b in groups) == max(values)
    merged = merge_all(b for _, b in groups)
    _assert_same_summary(merged, aggregate(values), max(1.0, *(abs(x) for x in values)))
