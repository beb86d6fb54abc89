"""Tests of the reading tiers: chunks, minute and hour buckets, retention and series()."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.history.conftest import T0
from tests.agent.history.helpers import OB, OL, buckets, feed, query
from tests.fakes import FakeClock
from upsight.agent.history.downsampler import group
from upsight.agent.history.store import ON_BATTERY, HistoryStore, Point, Retention
from upsight.drivers.model import Reading, Status


def volts(i: int) -> dict[str, float | str]:
    return {"input.voltage": 200.0 + i, "ups.load": 10.0, "ups.mfr": "APC"}


def test_minute_bucket_is_written_when_the_minute_closes(store: HistoryStore, path: Path) -> None:
    feed(store, T0, 60, volts)
    store.flush()
    assert buckets(path, "minute", "input.voltage") == []
    store.record("ups", Reading(T0 + 60, OL, volts(60)))
    store.flush()
    assert buckets(path, "minute", "input.voltage") == [(T0, 60, 200.0, 229.5, 259.0)]
    assert buckets(path, "minute", "ups.load") == [(T0, 60, 10.0, 10.0, 10.0)]
    assert buckets(path, "minute", ON_BATTERY) == [(T0, 60, 0.0, 0.0, 0.0)]
    assert buckets(path, "hour", "input.voltage") == [(T0, 60, 200.0, 229.5, 259.0)]


def test_text_and_non_finite_values_are_not_stored(store: HistoryStore) -> None:
    store.record(
        "ups",
        Reading(T0, OL, {"ups.mfr": "APC", "ups.temperature": math.inf, "battery.charge": 90.0}),
    )
    store.flush()
    assert store.variables("ups") == ["battery.charge", ON_BATTERY]


def test_hour_buckets_merge_minutes_weighted_by_count(store: HistoryStore, path: Path) -> None:
    feed(store, T0, 2 * 3600 + 1, lambda i: {"input.voltage": float(i % 7)})
    store.flush()
    hours = buckets(path, "hour", "input.voltage")
    assert [(t, n, lo, hi) for t, n, lo, _, hi in hours] == [
        (T0, 3600, 0.0, 6.0),
        (T0 + 3600, 3600, 0.0, 6.0),
    ]
    for hour, (_, _, _, mean, _) in enumerate(hours):
        samples = [float(i % 7) for i in range(hour * 3600, (hour + 1) * 3600)]
        assert mean == pytest.approx(sum(samples) / len(samples), rel=1e-12)
    assert len(buckets(path, "minute", "input.voltage")) == 120


def test_partial_buckets_written_at_close_merge_on_reopen(
    open_store: Callable[..., HistoryStore], path: Path
) -> None:
    first = open_store()
    feed(first, T0, 10, lambda i: {"input.voltage": float(i)})
    first.close()
    assert buckets(path, "minute", "input.voltage") == [(T0, 10, 0.0, 4.5, 9.0)]

    second = open_store()
    for i in range(10, 61):
        second.record("ups", Reading(T0 + i, OL, {"input.voltage": float(i)}))
    second.flush()
    # 10 samples averaging 4.5 and 50 averaging 34.5: the weighted mean is 29.5.
    assert buckets(path, "minute", "input.voltage") == [(T0, 60, 0.0, 29.5, 59.0)]
    assert buckets(path, "hour", "input.voltage") == [(T0, 60, 0.0, 29.5, 59.0)]
    points = second.series("ups", "input.voltage", T0, T0 + 61)
    # Raw chunks of both sessions; the 10-second window holding T0 + 60 is still open.
    assert [p.t for p in points] == [T0 + i for i in range(60)]


def test_new_variables_after_reopening(open_store: Callable[..., HistoryStore], path: Path) -> None:
    first = open_store()
    feed(first, T0, 10, lambda i: {"input.voltage": 230.0})
    first.close()
    second = open_store()
    feed(second, T0 + 10, 11, lambda i: {"ups.load": 20.0, "input.voltage": 231.0})
    second.flush()
    assert second.variables("ups") == ["input.voltage", "ups.load", ON_BATTERY]
    assert [p.avg for p in second.series("ups", "input.voltage", T0, T0 + 20)] == [230.0] * 10 + [
        231.0
    ] * 10
    assert [p.t for p in second.series("ups", "ups.load", T0, T0 + 20)] == [
        T0 + i for i in range(10, 20)
    ]


def test_status_is_kept_with_raw_chunks(store: HistoryStore, path: Path) -> None:
    feed(store, T0, 31, volts, status=lambda i: OB if i >= 15 else OL)
    store.flush()
    statuses = query(path, "SELECT t, n, status FROM raw ORDER BY t")
    assert statuses == [
        (T0, 10, "OL"),
        (T0 + 10, 10, "\n".join(["OL"] * 5 + ["OB DISCHRG"] * 5)),
        (T0 + 20, 10, "OB DISCHRG"),
    ]


def test_on_battery_share_per_minute(store: HistoryStore, path: Path) -> None:
    def status(i: int) -> Status:
        return OB if 15 <= i < 45 else OL

    feed(store, T0, 61, volts, status=status)
    store.flush()
    assert buckets(path, "minute", ON_BATTERY) == [(T0, 60, 0.0, 0.5, 1.0)]
    raw = store.series("ups", ON_BATTERY, T0, T0 + 60)
    assert [p.avg for p in raw] == [0.0] * 15 + [1.0] * 30 + [0.0] * 15


def test_absent_values_are_skipped(store: HistoryStore, path: Path) -> None:
    def values(i: int) -> dict[str, float | str]:
        out = volts(i)
        if i % 2:
            out["battery.charge"] = float(i)
        if i >= 55:
            out["ups.temperature"] = 30.0  # appears mid-chunk
        return out

    feed(store, T0, 61, values)
    store.flush()
    assert [p.t for p in store.series("ups", "battery.charge", T0, T0 + 60)] == [
        T0 + i for i in range(1, 60, 2)
    ]
    assert len(store.series("ups", "ups.temperature", T0, T0 + 60)) == 5
    assert len(store.series("ups", "input.voltage", T0, T0 + 60)) == 60
    assert buckets(path, "minute", "battery.charge") == [(T0, 30, 1.0, 30.0, 59.0)]
    assert buckets(path, "minute", "ups.temperature") == [(T0, 5, 30.0, 30.0, 30.0)]


def test_readings_out_of_order_come_back_sorted(store: HistoryStore) -> None:
    feed(store, T0, 8, lambda i: {"input.voltage": float(i)})
    store.record("ups", Reading(T0 + 2.5, OL, {"input.voltage": 99.0}))  # clock stepped back
    store.record("ups", Reading(T0 + 20, OL, {"input.voltage": 0.0}))
    store.flush()
    points = store.series("ups", "input.voltage", T0, T0 + 10)
    assert [p.t for p in points] == sorted(p.t for p in points)
    assert (T0 + 2.5, 99.0) in [(p.t, p.avg) for p in points]


def test_prune_applies_each_tier_retention(
    open_store: Callable[..., HistoryStore], clock: FakeClock, path: Path
) -> None:
    from upsight.agent.events import Event, EventKind

    store = open_store(Retention(raw_s=120, minute_s=1.5 * 3600, hour_s=2.5 * 3600))
    feed(store, T0, 5 * 3600, lambda i: {"input.voltage": 230.0, "ups.realpower": 100.0})
    store.record_event(Event(T0 + 10, "ups", EventKind.ONBATT, "On battery"))
    store.record_event(Event(T0 + 4 * 3600, "ups", EventKind.ONLINE, "Power restored"))
    store.flush()
    clock.advance(5 * 3600)
    now = clock.time()
    store.prune()

    raw = query(path, "SELECT min(t), count(*) FROM raw")[0]
    assert raw[0] >= now - 120
    assert raw[1] == 11  # the last 120 s but the open chunk
    minutes = buckets(path, "minute", "input.voltage")
    assert minutes[0][0] == now - 1.5 * 3600
    assert len(minutes) == 89  # 90 minutes but the open one
    assert [t for t, *_ in buckets(path, "hour", "input.voltage")] == [T0 + 3 * 3600, T0 + 4 * 3600]
    assert [e.kind for e in store.events()] == [EventKind.ONLINE]
    assert [hour for (hour,) in query(path, "SELECT hour FROM energy ORDER BY hour")] == [
        T0 + 3 * 3600,
        T0 + 4 * 3600,
    ]


class TestSeries:
    """Tier choice and grouping, over 4 h of 1 Hz data with short retentions."""

    RETENTION = Retention(raw_s=600, minute_s=2 * 3600, hour_s=10 * 3600)
    SECONDS = 4 * 3600

    @staticmethod
    def value(i: int) -> float:
        return float((i * 7) % 101)

    @pytest.fixture
    def series_store(
        self, open_store: Callable[..., HistoryStore], clock: FakeClock
    ) -> HistoryStore:
        store = open_store(self.RETENTION)
        feed(store, T0, self.SECONDS, lambda i: {"input.voltage": self.value(i)})
        store.flush()
        clock.advance(self.SECONDS)
        return store

    def samples(self, start: float, end: float) -> tuple[list[float], list[float]]:
        times = [T0 + i for i in range(self.SECONDS) if start <= T0 + i < end]
        return times, [self.value(int(t - T0)) for t in times]

    def test_raw_tier_returns_samples(self, series_store: HistoryStore, clock: FakeClock) -> None:
        now = clock.time()
        points = series_store.series("ups", "input.voltage", now - 300, now - 200)
        times, values = self.samples(now - 300, now - 200)
        assert points == [Point(t, x, x, x, 1) for t, x in zip(times, values, strict=True)]

    def test_minute_tier_beyond_raw_retention(
        self, series_store: HistoryStore, clock: FakeClock
    ) -> None:
        now = clock.time()
        points = series_store.series("ups", "input.voltage", now - 3600, now - 3000)
        assert [p.t for p in points] == [now - 3600 + 60 * k for k in range(10)]
        assert {p.n for p in points} == {60}

    def test_hour_tier_beyond_minute_retention(
        self, series_store: HistoryStore, clock: FakeClock
    ) -> None:
        now = clock.time()
        points = series_store.series("ups", "input.voltage", now - 3 * 3600, now)
        assert [p.t for p in points] == [T0 + 3600, T0 + 2 * 3600, T0 + 3 * 3600]
        assert [p.n for p in points] == [3600, 3600, 3540]  # the last minute is still open

    def test_wide_window_uses_a_coarser_tier_with_the_same_result(
        self, series_store: HistoryStore, clock: FakeClock
    ) -> None:
        now = clock.time()
        start, end = now - 480, now - 60
        # (end - start) / 4 = 105 s per point: minute buckets grouped by 120 s.
        points = series_store.series("ups", "input.voltage", start, end, max_points=5)
        expected = group(*self.samples(start, end), 120)
        assert [(p.t, p.n, p.min, p.max) for p in points] == [
            (g, b.n, b.min, b.max) for g, b in expected
        ]
        assert [p.avg for p in points] == pytest.approx([b.avg for _, b in expected])

    def test_grouping_respects_max_points(
        self, series_store: HistoryStore, clock: FakeClock
    ) -> None:
        now = clock.time()
        start, end = now - 7200, now - 60
        points = series_store.series("ups", "input.voltage", start, end, max_points=10)
        assert 5 <= len(points) <= 10
        times, values = self.samples(start, end)
        assert sum(p.n for p in points) == len(times)
        assert min(p.min for p in points) == min(values)
        assert max(p.max for p in points) == max(values)
        weighted = sum(p.avg * p.n for p in points) / sum(p.n for p in points)
        assert weighted == pytest.approx(sum(values) / len(values))

    def test_raw_grouping_respects_max_points(
        self, series_store: HistoryStore, clock: FakeClock
    ) -> None:
        now = clock.time()
        points = series_store.series("ups", "input.voltage", now - 500, now - 20, max_points=100)
        assert 50 <= len(points) <= 100
        assert sum(p.n for p in points) == 480
        assert all(p.t % 5 == 0 for p in points)  # 480 / 99 rounds up to 5 s buckets

    def test_one_point(self, series_store: HistoryStore, clock: FakeClock) -> None:
        now = clock.time()
        (point,) = series_store.series("ups", "input.voltage", now - 7000, now - 60, max_points=1)
        # (end - start) / 1 asks for hours: the two hour buckets the window touches.
        assert point.n == 3600 + 3540

    def test_bad_arguments(self, series_store: HistoryStore, clock: FakeClock) -> None:
        now = clock.time()
        with pytest.raises(ValueError, match="max_points"):
            series_store.series("ups", "input.voltage", now - 60, now, max_points=0)
        assert series_store.series("ups", "input.voltage", now, now - 60) == []
        assert series_store.series("ups", "nope", now - 60, now) == []
        assert series_store.series("other", "input.voltage", now - 60, now) == []
