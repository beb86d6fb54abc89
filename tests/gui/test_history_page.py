"""The History page against a real agent and history store: points, ranges, outages, energy."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel
from pytestqt.qtbot import QtBot

from tests.fakes import FakeClock
from upsight.agent.api.errors import AgentNotRunning
from upsight.agent.config import Config
from upsight.agent.events import EventKind, make_event
from upsight.agent.history.store import HistoryStore
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.drivers.model import Reading, Status, UpsFlag
from upsight.gui.bridge import Bridge
from upsight.gui.charts import fit_y_range, with_gaps
from upsight.gui.pages.history import HistoryPage
from upsight.gui.pages.history_data import HistoryData, Outage, outage_bands

HOUR = 3600.0
DAY = 86400.0
# 2023-11-15 12:00 UTC: "now" for every test; the tests run in UTC.
NOW = 1_700_049_600.0
OL = Status.of(UpsFlag.OL)
OB = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)

# Outages recorded in the big store: 3 h ago for 10 min, and 3 days ago for 5 min.
RECENT = (NOW - 3 * HOUR, NOW - 3 * HOUR + 600)
OLDER = (NOW - 3 * DAY, NOW - 3 * DAY + 300)
# Readings that set each range's extremes: a 240 V surge 4 days ago, 250 V 30 days
# ago, and a 110 % overload 5 days ago.
SURGE_7D = NOW - 4 * DAY
SURGE_90D = NOW - 30 * DAY
OVERLOAD = NOW - 5 * DAY
# Dense readings (every 10 s) cover the last two days; older ones are 15 min apart.
DENSE_FROM = NOW - 2 * DAY
# Energy: reported 100 W until the 14th, estimated 25 % of 400 W on the 14th,
# reported 200 W on the 15th. A 20 s gap at each midnight keeps sources apart.
MIDNIGHT_14 = NOW - 1.5 * DAY
MIDNIGHT_15 = NOW - 0.5 * DAY


def _in(span: tuple[float, float], t: float) -> bool:
    return span[0] <= t < span[1]


def _reading(t: float) -> Reading | None:
    if t in (MIDNIGHT_14, MIDNIGHT_15):
        return None
    on_battery = _in(RECENT, t) or _in(OLDER, t)
    volts = 230.0 + 5.0 * math.sin(2 * math.pi * (t % HOUR) / HOUR)
    if on_battery:
        volts = 0.0
    elif abs(t - SURGE_7D) < 1:
        volts = 240.0
    elif abs(t - SURGE_90D) < 1:
        volts = 250.0
    values: dict[str, float | str] = {
        "battery.charge": 60.0 if on_battery else 100.0,
        "battery.runtime": 1200.0 if on_battery else 1800.0,
        "input.voltage": volts,
        "ups.load": 110.0 if abs(t - OVERLOAD) < 1 else 25.0,
    }
    if MIDNIGHT_14 < t < MIDNIGHT_15:
        values["ups.realpower.nominal"] = 400.0
    else:
        values["ups.realpower"] = 200.0 if t > MIDNIGHT_15 else 100.0
    return Reading(t, OB if on_battery else OL, values)


def _fill(store: HistoryStore) -> None:
    times = [NOW - 90 * DAY + i * 900.0 for i in range(int((DENSE_FROM - NOW + 90 * DAY) // 900))]
    times += [SURGE_90D, SURGE_7D, OVERLOAD]
    # Up to NOW itself, so that the chunk holding the last reading before NOW is written.
    times += [DENSE_FROM + i * 10.0 for i in range(int(2 * DAY // 10) + 1)]
    for t in sorted(set(times)):
        reading = _reading(t)
        if reading is not None:
            store.record("ups", reading)
    for start, end in (OLDER, RECENT):
        store.record_event(make_event(start, "ups", EventKind.ONBATT, _reading(start)))
        store.record_event(make_event(end, "ups", EventKind.ONLINE, _reading(end)))
    store.flush()


@pytest.fixture(autouse=True, scope="module")
def _utc() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC0")
        time.tzset()
        yield
    time.tzset()


def _agent(root: Path) -> Agent:
    paths = AppPaths(root / "config", root / "data", root / "run")
    return Agent(paths, Config(), ["sim://normal"], clock=FakeClock(NOW), serve_api=False)


class GatedBridge(Bridge):
    """A bridge whose history calls for one window wait until the test opens the gate."""

    gate_since: float | None
    gate: threading.Event

    def call(self, method: str, /, **params: Any) -> Any:
        if method == "history" and params.get("since") == self.gate_since:
            self.gate.wait(30)
        return super().call(method, **params)


@pytest.fixture(scope="module")
def full_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = _agent(tmp_path_factory.mktemp("history-page"))
    _fill(agent.history)
    yield agent
    agent.stop()


@pytest.fixture
def bridge(qapp: Any, full_agent: Agent) -> Iterator[GatedBridge]:
    bridge = GatedBridge.in_process(full_agent)
    assert isinstance(bridge, GatedBridge)
    bridge.gate_since = None
    bridge.gate = threading.Event()
    yield bridge
    bridge.gate.set()
    bridge.close()


@pytest.fixture
def pool() -> Iterator[QThreadPool]:
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    yield pool
    pool.waitForDone()


Opener = Callable[[Bridge], tuple[HistoryPage, HistoryData]]


@pytest.fixture
def open_page(qtbot: QtBot, pool: QThreadPool) -> Opener:
    """Show a page at "now" and wait for its first data (the default range, 24 h)."""

    def opener(bridge: Bridge) -> tuple[HistoryPage, HistoryData]:
        page = HistoryPage(bridge, clock=FakeClock(NOW), pool=pool)
        qtbot.addWidget(page)
        page.resize(1000, 900)
        with qtbot.wait_signal(page.history_shown, timeout=20_000) as blocker:
            page.show()
        return page, blocker.args[0]

    return opener


def _switch(qtbot: QtBot, page: HistoryPage, key: str) -> HistoryData:
    with qtbot.wait_signal(page.history_shown, timeout=20_000) as blocker:
        page.set_time_range(key)
    data: HistoryData = blocker.args[0]
    return data


# -- pure helpers -------------------------------------------------------------


def test_y_range_pins_floor_and_ceiling_and_pads_free_ends() -> None:
    assert fit_y_range([60.0], [100.0], 0.0, 100.0) == (-2.0, 102.0)
    assert fit_y_range([0.0], [110.0], 0.0, 100.0) == pytest.approx((-2.2, 115.5))
    assert fit_y_range([225.0], [235.0], None, None) == (224.5, 235.5)
    assert fit_y_range([230.0], [230.0], None, None) == (229.0, 231.0)


def test_gaps_in_the_data_break_the_line() -> None:
    t, y = with_gaps([0.0, 60.0, 120.0, 3600.0, 3660.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert list(t) == [0.0, 60.0, 120.0, 1860.0, 3600.0, 3660.0]
    assert math.isnan(y[3])
    assert [v for v in y if not math.isnan(v)] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_outages_pair_onbatt_with_online() -> None:
    bands = outage_bands([(100.0, True), (160.0, False), (300.0, True)], [], [], 400.0)
    assert bands == (Outage(100.0, 160.0, ongoing=False), Outage(300.0, 400.0, ongoing=True))


def test_outage_without_online_ends_where_the_record_last_shows_battery() -> None:
    # On battery from 100 until the computer went off after the reading at 140;
    # back on mains at 400, with no ONLINE event in between.
    t = [100.0, 110.0, 120.0, 130.0, 140.0, 400.0, 410.0]
    hi = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert outage_bands([(100.0, True)], t, hi, 500.0) == (Outage(100.0, 150.0, ongoing=False),)


def test_an_old_onbatt_without_battery_in_the_record_draws_nothing() -> None:
    # The last transition before the window was an ONBATT long ago; the window
    # shows mains throughout, so how long that outage lasted is unknown.
    assert outage_bands([(-9000.0, True)], [0.0, 60.0, 120.0], [0.0, 0.0, 0.0], 180.0) == ()


# -- the page -----------------------------------------------------------------


@dataclass(frozen=True)
class RangeCase:
    """A range button and the extremes the store holds within its window."""

    key: str
    span: float
    volts: tuple[float, float]
    load_top: float


@pytest.mark.parametrize(
    "case",
    [
        RangeCase("1h", HOUR, (225.0, 235.0), 100.0),
        RangeCase("24h", DAY, (0.0, 235.0), 100.0),
        RangeCase("7d", 7 * DAY, (0.0, 240.0), 110.0),
        RangeCase("90d", 90 * DAY, (0.0, 250.0), 110.0),
    ],
    ids=lambda case: case.key,
)
def test_each_range_shows_the_store_points_and_fits_the_y_axis(
    qtbot: QtBot, open_page: Opener, bridge: GatedBridge, full_agent: Agent, case: RangeCase
) -> None:
    page, data = open_page(bridge)
    if case.key != "24h":
        data = _switch(qtbot, page, case.key)
    request = data.request
    since = NOW - case.span
    assert (request.since, request.until) == (since, NOW)
    assert 60 <= request.max_points <= page.chart("ups.load").plot_width()
    for var in ("battery.charge", "ups.load", "input.voltage", "battery.runtime"):
        chart = page.chart(var)
        stored = full_agent.history.series("ups", var, since, NOW, request.max_points)
        assert chart.point_count() == len(stored) <= request.max_points
        assert chart.x_range() == pytest.approx((since, NOW))
    if case.key == "1h":
        assert page.chart("ups.load").point_count() == 360  # every 10-s reading of the hour
    assert page.chart("battery.charge").y_range() == (-2.0, 102.0)
    assert page.chart("ups.load").y_range() == fit_y_range([25.0], [case.load_top], 0.0, 100.0)
    low, high = case.volts
    assert page.chart("input.voltage").y_range() == fit_y_range([low], [high], None, None)
    assert page.message() is None


def test_outage_bands_sit_where_the_events_put_them(
    qtbot: QtBot, open_page: Opener, bridge: GatedBridge
) -> None:
    page, _ = open_page(bridge)
    assert page.chart("ups.load").outage_spans() == [RECENT]
    for var in ("battery.charge", "input.voltage", "battery.runtime"):
        assert page.chart(var).outage_spans() == [RECENT]
    _switch(qtbot, page, "7d")
    assert page.chart("ups.load").outage_spans() == [OLDER, RECENT]
    _switch(qtbot, page, "1h")
    assert page.chart("ups.load").outage_spans() == []


def test_energy_bars_keep_reported_and_estimated_apart(
    open_page: Opener, bridge: GatedBridge
) -> None:
    page, _ = open_page(bridge)
    energy = page.energy_chart
    reported = energy.bars("reported")
    estimated = energy.bars("estimated")
    assert [day for day, _ in reported] == [date(2023, 11, 13), date(2023, 11, 15)]
    # The 13th: 12 h at 100 W; the 15th: 12 h at 200 W (less the gaps at midnight).
    assert [kwh for _, kwh in reported] == pytest.approx([1.2, 2.4], abs=0.002)
    # The 14th: 24 h at 25 % of 400 W, estimated.
    [(day, kwh)] = estimated
    assert day == date(2023, 11, 14)
    assert kwh == pytest.approx(2.4, abs=0.002)
    styles = energy.styles()
    assert styles["reported"] == (Qt.BrushStyle.SolidPattern, Qt.PenStyle.SolidLine)
    assert styles["estimated"] == (Qt.BrushStyle.BDiagPattern, Qt.PenStyle.DashLine)


def test_an_empty_store_says_so(qtbot: QtBot, tmp_path: Path, pool: QThreadPool) -> None:
    agent = _agent(tmp_path)
    bridge = Bridge.in_process(agent)
    try:
        page = HistoryPage(bridge, clock=FakeClock(NOW), pool=pool)
        qtbot.addWidget(page)
        with qtbot.wait_signal(page.history_shown, timeout=20_000):
            page.show()
        message = page.message()
        assert message is not None
        assert message.startswith("No history yet")
    finally:
        pool.waitForDone()
        bridge.close()
        agent.stop()


def test_ongoing_and_unfinished_outages_and_missing_variables(
    qtbot: QtBot, tmp_path: Path, pool: QThreadPool
) -> None:
    agent = _agent(tmp_path)
    store = agent.history
    off_at, back_at, second = NOW - 40 * 60, NOW - 20 * 60, NOW - 10 * 60
    for i in range(360):
        t = NOW - HOUR + i * 10.0
        if off_at <= t < back_at:
            continue  # the computer was shut down during the outage
        on_battery = NOW - 50 * 60 <= t < off_at or t >= second
        store.record("ups", Reading(t, OB if on_battery else OL, {"battery.charge": 90.0}))
    store.record_event(make_event(NOW - 50 * 60, "ups", EventKind.ONBATT, None))
    store.record_event(make_event(second, "ups", EventKind.ONBATT, None))
    store.flush()
    bridge = Bridge.in_process(agent)
    try:
        page = HistoryPage(bridge, clock=FakeClock(NOW), pool=pool)
        qtbot.addWidget(page)
        page.set_time_range("1h")
        with qtbot.wait_signal(page.history_shown, timeout=20_000) as blocker:
            page.show()
        assert blocker.args[0].outages == (
            Outage(NOW - 50 * 60, off_at, ongoing=False),
            Outage(second, NOW, ongoing=True),
        )
        assert page.chart("battery.charge").outage_spans() == [
            (NOW - 50 * 60, off_at),
            (second, NOW),
        ]
        assert page.chart_visible("battery.charge")
        assert not page.chart_visible("ups.load")
        assert not page.chart_visible("input.voltage")
    finally:
        pool.waitForDone()
        bridge.close()
        agent.stop()


def test_switching_range_drops_a_fetch_that_finishes_late(
    qtbot: QtBot, open_page: Opener, bridge: GatedBridge, pool: QThreadPool
) -> None:
    page, _ = open_page(bridge)
    bridge.gate.clear()
    bridge.gate_since = NOW - 90 * DAY
    page.set_time_range("90d")  # its fetch now waits at the gate
    data = _switch(qtbot, page, "1h")
    assert data.request.range.key == "1h"
    with qtbot.assert_not_emitted(page.history_shown):
        bridge.gate.set()
        pool.waitForDone()
        qtbot.wait(50)  # deliver the late result, queued to this thread
    assert page.time_range().key == "1h"
    assert page.chart("ups.load").x_range() == pytest.approx((NOW - HOUR, NOW))
    assert page.chart("ups.load").point_count() == 360


def test_every_control_has_an_accessible_name(open_page: Opener, bridge: GatedBridge) -> None:
    page, _ = open_page(bridge)
    controls = [*page.findChildren(QAbstractButton), *page.findChildren(QComboBox)]
    assert len(controls) >= 5
    assert all(control.accessibleName() for control in controls)
    for var in ("battery.charge", "ups.load", "input.voltage", "battery.runtime"):
        assert page.chart(var).accessibleName()
        assert page.chart(var).accessibleDescription().startswith("Average")


class FailingBridge(Bridge):
    """A bridge to an agent that stopped answering."""

    def call(self, method: str, /, **params: Any) -> Any:
        raise AgentNotRunning("nothing listens at the agent's socket")


def test_a_failed_fetch_is_reported(qtbot: QtBot, full_agent: Agent, pool: QThreadPool) -> None:
    bridge = FailingBridge.in_process(full_agent)
    try:
        page = HistoryPage(bridge, clock=FakeClock(NOW), pool=pool)
        qtbot.addWidget(page)
        page.show()
        qtbot.wait_until(lambda: page.message() is not None, timeout=20_000)
        assert page.message() == (
            "Could not load the history: nothing listens at the agent's socket"
        )
    finally:
        pool.waitForDone()
        bridge.close()


def test_a_simulated_device_is_labelled(qtbot: QtBot, tmp_path: Path, pool: QThreadPool) -> None:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    agent = Agent(paths, Config(poll_interval_s=0.1), ["sim://normal"], serve_api=False)
    bridge = Bridge.in_process(agent)
    try:
        page = HistoryPage(bridge, pool=pool)
        qtbot.addWidget(page)
        page.show()
        agent.start()
        combo = page.findChild(QComboBox)
        assert combo is not None
        qtbot.wait_until(lambda: combo.currentText() == "Simulated UPS (ups)", timeout=20_000)
        assert page.device() == "ups"
        banner = [label for label in page.findChildren(QLabel) if label.text().startswith("Sim")]
        assert [label.isVisible() for label in banner] == [True]
    finally:
        pool.waitForDone()
        bridge.close()
        agent.stop()
