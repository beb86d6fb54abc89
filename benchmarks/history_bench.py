"""Benchmark of HistoryStore: a simulated year at 1 Hz, database size and query times."""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from upsight.agent.events import diff, make_event
from upsight.agent.history.store import HistoryStore, Retention
from upsight.drivers.model import Reading, Status, UpsFlag

T0 = 1_704_067_200.0  # 2024-01-01 00:00 UTC
DAY_S = 86_400
NOMINAL_W = 390.0
FULL_RUNTIME_S = 2400.0
DEVICE = "bench-ups"
VARS = (
    "battery.charge",
    "battery.runtime",
    "battery.voltage",
    "input.voltage",
    "input.frequency",
    "output.voltage",
    "ups.load",
    "ups.realpower",
)
SIZE_TARGET_MB = 100.0
QUERY_TARGET_MS = 50.0

ONLINE = Status.of(UpsFlag.OL)
CHARGING = Status.of(UpsFlag.OL, UpsFlag.CHRG)
ON_BATTERY = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)


class SimClock:
    """A clock the simulation sets; monotonic time follows wall time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def day_template(rng: random.Random) -> list[tuple[float, ...]]:
    """One day of on-line values in ``VARS`` order, quantised as devices report them."""
    out: list[tuple[float, ...]] = []
    load = 25.0
    for i in range(DAY_S):
        if i % 30 == 0:
            daily = 8.0 * math.sin(2 * math.pi * i / DAY_S)
            load = min(60.0, max(10.0, load + rng.choice((-1.0, 0.0, 1.0)) + daily / 200))
        phase = 2 * math.pi * (i / DAY_S - 0.3)
        volts = round(230.0 + 4.0 * math.sin(phase) + rng.gauss(0, 0.8), 1)
        out.append(
            (
                100.0,
                float(round(FULL_RUNTIME_S * 25.0 / round(load))),
                round(13.6 + rng.gauss(0, 0.03), 2),
                volts,
                round(50.0 + rng.gauss(0, 0.03), 1),
                volts,
                float(round(load)),
                float(round(round(load) / 100 * NOMINAL_W)),
            )
        )
    return out


def outages(rng: random.Random, days: int) -> list[tuple[int, int]]:
    """(start, end) seconds of power cuts: about one every ten days, 30 s to 20 min long."""
    cuts: list[tuple[int, int]] = []
    s = rng.randrange(DAY_S)
    while True:
        s += int(rng.expovariate(1 / (10 * DAY_S)))
        if s >= days * DAY_S:
            return cuts
        length = rng.randrange(30, 1200)
        cuts.append((s, s + length))
        s += length


def simulate(days: int, seed: int = 1) -> Iterator[Reading]:
    """Readings at 1 Hz for ``days`` days: a daily pattern, noise, outages and recharges."""
    rng = random.Random(seed)
    template = [dict(zip(VARS, values, strict=True)) for values in day_template(rng)]
    cuts = [*outages(rng, days), (days * DAY_S + 1, days * DAY_S + 1)]  # sentinel
    cut = 0
    charge = 100.0
    for day in range(days):
        # Each day starts at a different point of the template, so days differ.
        shift = rng.randrange(DAY_S)
        for i in range(DAY_S):
            s = day * DAY_S + i
            online = template[(i + shift) % DAY_S]
            if s >= cuts[cut][1]:
                cut += 1
            if s >= cuts[cut][0]:
                charge = max(5.0, charge - 0.08)
                values = {
                    **online,
                    "battery.charge": float(round(charge)),
                    "battery.runtime": float(round(online["battery.runtime"] * charge / 100)),
                    "battery.voltage": round(11.5 + 2.0 * charge / 100, 2),
                    "input.voltage": 0.0,
                    "input.frequency": 0.0,
                    "output.voltage": 230.0,
                }
                yield Reading(T0 + s, ON_BATTERY, values)
            elif charge < 100.0:
                charge = min(100.0, charge + 0.03)
                values = {
                    **online,
                    "battery.charge": float(round(charge)),
                    "battery.runtime": float(round(online["battery.runtime"] * charge / 100)),
                }
                yield Reading(T0 + s, CHARGING, values)
            else:
                # Reading copies the mapping, so the template can be shared.
                yield Reading(T0 + s, ONLINE, online)


def fill(store: HistoryStore, clock: SimClock, days: int, flush_every_s: int) -> tuple[float, int]:
    """Record the simulated days and their events; returns (seconds in the store, readings)."""
    record, flush, prune, now = store.record, store.flush, store.prune, time.perf_counter
    spent = 0.0
    count = 0
    status: Status | None = None
    for reading in simulate(days):
        clock.now = reading.at
        started = now()
        record(DEVICE, reading)
        # simulate() reuses its Status objects, so identity spots a change.
        if reading.status is not status:
            for kind in diff(status, reading.status):
                store.record_event(make_event(reading.at, DEVICE, kind, reading))
            status = reading.status
        count += 1
        if count % flush_every_s == 0:
            flush()
            if count % 3600 == 0:
                prune()
        spent += now() - started
        if count % (30 * DAY_S) == 0:
            print(f"  day {count // DAY_S}: {spent:.0f} s in the store so far", flush=True)
    started = now()
    flush()
    return spent + now() - started, count


def realistic_hour(store: HistoryStore, clock: SimClock, start: float) -> None:
    """One more hour at the agent's cadence (flush every 5 s); prints record and flush costs."""
    readings = [
        Reading(start + i, simulated.status, simulated.values)
        for i, simulated in zip(range(3600), simulate(1, seed=2), strict=False)
    ]
    record_s: list[float] = []
    flush_s: list[float] = []
    cpu0 = time.process_time()
    for i, reading in enumerate(readings):
        clock.now = reading.at
        t = time.perf_counter()
        store.record(DEVICE, reading)
        record_s.append(time.perf_counter() - t)
        if i % 5 == 4:
            t = time.perf_counter()
            store.flush()
            flush_s.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu0
    print(
        f"agent cadence, 1 h: record() median {statistics.median(record_s) * 1e6:.1f} µs, "
        f"flush() median {statistics.median(flush_s) * 1e3:.3f} ms, "
        f"p95 {_percentile(flush_s, 95) * 1e3:.3f} ms, max {max(flush_s) * 1e3:.1f} ms; "
        f"process CPU for the hour {cpu:.2f} s"
    )


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1)]


def database_size(path: Path) -> float:
    """File plus WAL in MB, after a checkpoint that truncates the WAL."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count")
        )
        try:
            tables = db.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # dbstat is a compile-time option of SQLite
            tables = []
    total = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    print(f"pages {pages}, free {free}")
    for name, size in tables:
        print(f"  {name:24} {size / 1e6:7.1f} MB")
    return total / 1e6


def time_queries(store: HistoryStore, now: float, window_s: float, count: int) -> list[float]:
    """Wall times of ``count`` series() calls over ``window_s`` windows ending in the last hour."""
    rng = random.Random(7)
    times: list[float] = []
    for _ in range(count):
        end = now - rng.uniform(0, 3600)
        var = rng.choice(VARS)
        t = time.perf_counter()
        points = store.series(DEVICE, var, end - window_s, end)
        times.append(time.perf_counter() - t)
        assert points, f"no points for {var}"
    return times


def report_queries(label: str, times: list[float], target_ms: float | None = None) -> None:
    median, p95 = statistics.median(times) * 1e3, _percentile(times, 95) * 1e3
    verdict = "" if target_ms is None else (" OK" if p95 <= target_ms else " OVER TARGET")
    target = "" if target_ms is None else f" (target ≤ {target_ms:.0f} ms)"
    print(
        f"series() {label}, {len(times)} queries: median {median:.1f} ms, p95 {p95:.1f} ms"
        f"{target}{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365, help="simulated days (default 365)")
    parser.add_argument(
        "--flush-every",
        type=int,
        default=600,
        help="simulated seconds between flushes while filling (default 600)",
    )
    parser.add_argument("--queries", type=int, default=30, help="queries per window (default 30)")
    parser.add_argument("--dir", type=Path, help="keep the database here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.dir or Path(tmp)) / "history.db"
        clock = SimClock(T0)
        store = HistoryStore(path, Retention(), clock)
        print(f"Filling {args.days} days at 1 Hz ({len(VARS)} variables) into {path}")
        wall = time.perf_counter()
        spent, count = fill(store, clock, args.days, args.flush_every)
        wall = time.perf_counter() - wall
        print(
            f"insert: {count} readings, {spent:.1f} s in the store ({wall:.1f} s with the "
            f"simulation): {spent / count * 1e6:.2f} µs per reading "
            f"(record + flush every {args.flush_every} s + hourly prune)"
        )
        realistic_hour(store, clock, clock.now + 1)
        store.prune()
        now = clock.now
        print(f"events stored: {len(store.events())}")
        report_queries(
            "30-day window", time_queries(store, now, 30 * DAY_S, args.queries), QUERY_TARGET_MS
        )
        for label, window in (
            ("1-h window (raw)", 3600),
            ("12-h window (raw)", 12 * 3600),
            ("24-h window (raw)", DAY_S),
            ("1-year window (hour)", 365 * DAY_S),
        ):
            if window <= args.days * DAY_S:
                report_queries(label, time_queries(store, now, window, args.queries))
        store.close()
        size = database_size(path)
        verdict = "OK" if size <= SIZE_TARGET_MB else "OVER TARGET"
        print(f"database size: {size:.1f} MB (target ≤ {SIZE_TARGET_MB:.0f} MB) {verdict}")


if __name__ == "__main__":
    main()
