"""History page speed: redrawing the 90-day view and switching ranges, on 90 days of real history.

A real HistoryStore is filled with 90 days of readings, one a minute (the last
``--dense-days`` every 10 s, so that those days have energy figures), with an
outage every few days. An in-process agent serves it to the History page,
shown offscreen at ``--width`` x ``--height``.

* fetch: the worker-thread part of a 90-day refresh (all routes it calls).
* redraw: drawing fetched 90-day data and rendering the page, on the GUI thread.
* switch: from clicking a range button to the new range drawn and rendered.

Run: python -m benchmarks.gui_history_redraw [--repeat 30]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from functools import partial

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from benchmarks.history_bench import SimClock
from benchmarks.support import percentile, scratch_dir
from upsight.agent.config import Config
from upsight.agent.events import EventKind, make_event
from upsight.agent.history.store import HistoryStore
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.drivers.model import Reading, Status, UpsFlag
from upsight.gui.bridge import Bridge
from upsight.gui.pages.history import HistoryPage
from upsight.gui.pages.history_data import RANGES, HistoryData, HistoryRequest, fetch

DAY_S = 86_400
REDRAW_TARGET_MS = 100.0
ONLINE = Status.of(UpsFlag.OL)
ON_BATTERY = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)


def fill(store: HistoryStore, clock: SimClock, now: float, dense_days: int) -> int:
    """Record 90 days up to ``now`` with outages and their events; returns the reading count."""
    rng = random.Random(3)
    cuts: list[tuple[float, float]] = []
    t = now - 90 * DAY_S
    while t < now:
        t += rng.uniform(1, 6) * DAY_S
        cuts.append((t, t + rng.uniform(60, 1800)))
    dense_from = now - dense_days * DAY_S
    t, count, cut = now - 90 * DAY_S, 0, 0
    while t < now:
        while cut < len(cuts) and t >= cuts[cut][1]:
            cut += 1
        on_battery = cut < len(cuts) and t >= cuts[cut][0]
        day_phase = 2 * math.pi * (t % DAY_S) / DAY_S
        load = 30.0 + 10.0 * math.sin(day_phase) + rng.gauss(0, 1)
        values: dict[str, float | str] = {
            "battery.charge": 70.0 if on_battery else 100.0,
            "battery.runtime": 1500.0 if on_battery else 2400.0,
            "input.voltage": 0.0 if on_battery else 230.0 + 4.0 * math.sin(day_phase),
            "ups.load": load,
            "ups.realpower": 4.0 * load,
        }
        clock.now = t
        store.record("ups", Reading(t, ON_BATTERY if on_battery else ONLINE, values))
        count += 1
        if count % 5000 == 0:
            store.flush()
        t += 10.0 if t >= dense_from else 60.0
    for start, end in cuts:
        if end < now:
            store.record_event(make_event(start, "ups", EventKind.ONBATT, None))
            store.record_event(make_event(end, "ups", EventKind.ONLINE, None))
    clock.now = now
    store.flush()
    return count


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def report(label: str, ms: list[float], target_ms: float | None = None) -> None:
    p95 = percentile(ms, 0.95)
    verdict = ""
    if target_ms is not None:
        verdict = f"  (target ≤ {target_ms:.0f} ms: {'OK' if p95 <= target_ms else 'OVER'})"
    print(
        f"{label:<28} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   "
        f"p95 {p95:7.1f} ms   max {max(ms):7.1f} ms{verdict}"
    )


def wait_shown(page: HistoryPage, action: Callable[[], None]) -> HistoryData:
    """Run ``action`` and spin the event loop until the page has drawn the result."""
    loop = QEventLoop()
    shown: list[HistoryData] = []

    def done(data: HistoryData) -> None:
        shown.append(data)
        loop.quit()

    page.history_shown.connect(done)
    QTimer.singleShot(60_000, loop.quit)
    action()
    if not shown:
        loop.exec()
    page.history_shown.disconnect(done)
    if not shown:
        raise SystemExit("the page showed nothing within a minute")
    return shown[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per measure")
    parser.add_argument("--dense-days", type=int, default=7, help="days of 10-s readings")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    root = scratch_dir()
    now = float(int(time.time()) // 60 * 60)
    clock = SimClock(now - 90 * DAY_S)
    paths = AppPaths(root / "config", root / "data", root / "run")
    agent = Agent(paths, Config(), ["sim://normal"], clock=clock, serve_api=False)
    started = time.perf_counter()
    count = fill(agent.history, clock, now, args.dense_days)
    print(f"filled {count} readings over 90 days in {time.perf_counter() - started:.1f} s")

    bridge = Bridge.in_process(agent)
    page = HistoryPage(bridge, clock=clock)
    page.resize(args.width, args.height)
    wait_shown(page, page.show)
    data = wait_shown(page, lambda: page.set_time_range("90d"))
    request = data.request
    points = {s.var: len(s.t) for s in data.series}
    print(
        f"90-day view: max_points {request.max_points}, points per chart {points}, "
        f"{len(data.outages)} outages, {len(data.energy)} energy days"
    )

    full = HistoryRequest("ups", RANGES[-1], now, request.max_points)

    def redraw() -> None:
        page.show_history(data)
        page.grab()

    def switch(key: str) -> None:
        wait_shown(page, partial(page.set_time_range, key))
        page.grab()

    fetches = [timed(partial(fetch, bridge.call, full)) for _ in range(args.repeat)]
    redraws = [timed(redraw) for _ in range(args.repeat)]
    switches: dict[str, list[float]] = {r.key: [] for r in RANGES}
    for i in range(args.repeat):
        for time_range in RANGES if i % 2 == 0 else reversed(RANGES):
            if time_range.key != page.time_range().key:
                switches[time_range.key].append(timed(partial(switch, time_range.key)))
    report("fetch 90 d (worker thread)", fetches)
    report("redraw 90 d (GUI thread)", redraws, REDRAW_TARGET_MS)
    for key, ms in switches.items():
        report(f"switch to {key} (click→drawn)", ms)
    page.close()
    bridge.close()
    agent.stop()


if __name__ == "__main__":
    main()
