"""The Events page: recorded and live events, the filters, and CSV export."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_BATTERY, write_dump
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind, Severity, make_event
from upsight.agent.history.store import HistoryStore
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.drivers.model import Reading, Status, UpsFlag
from upsight.gui.bridge import Bridge
from upsight.gui.display import KIND_TITLES
from upsight.gui.pages.events import EventsPage, write_csv

T0 = 1_700_000_000.0
OB_READING = Reading(T0, Status.of(UpsFlag.OB), {"battery.charge": 87.0, "battery.runtime": 840.0})
RECORDED = (
    make_event(T0, "ups", EventKind.ONBATT, OB_READING),
    make_event(T0 + 60, "ups", EventKind.LOWBATT, OB_READING),
    make_event(T0 + 120, "ups2", EventKind.REPLBATT, None),
    make_event(T0 + 180, "ups", EventKind.ONLINE, None),
)


@pytest.fixture
def page(qtbot: QtBot, paths: AppPaths, dump: Path) -> Iterator[EventsPage]:
    store = HistoryStore(paths.history_db)
    for event in RECORDED:
        store.record_event(event)
    store.flush()
    store.close()
    agent = Agent(paths, Config(poll_interval_s=0.1), [f"dummy:{dump}"], serve_api=False)
    bridge = Bridge.in_process(agent)
    agent.start()
    page = EventsPage(bridge)
    qtbot.add_widget(page)
    yield page
    bridge.close()
    agent.stop()


def _shown(page: EventsPage) -> list[tuple[str, EventKind]]:
    return [(e.device, e.kind) for e in page.filter.visible_events()]


def test_recorded_events_load_newest_first(page: EventsPage) -> None:
    assert _shown(page) == [
        ("ups", EventKind.ONLINE),
        ("ups2", EventKind.REPLBATT),
        ("ups", EventKind.LOWBATT),
        ("ups", EventKind.ONBATT),
    ]
    top = page.filter.index(3, 3)
    assert page.filter.data(top) == "Power lost: on battery"
    assert page.filter.data(page.filter.index(3, 4)) == "On battery: 87 %, about 14 min left"
    assert page.filter.data(page.filter.index(3, 2)) == "Warning"
    assert page.device.findData("ups2") >= 0


def test_live_events_arrive_on_top(qtbot: QtBot, page: EventsPage, dump: Path) -> None:
    write_dump(dump, ON_BATTERY)
    qtbot.wait_until(lambda: _shown(page)[0] == ("ups", EventKind.ONBATT), timeout=5000)
    assert page.filter.visible_events()[0].message == "On battery: 87 %, about 14 min left"


def test_filters_by_device_kind_severity_and_text(page: EventsPage) -> None:
    page.device.setCurrentIndex(page.device.findData("ups2"))
    assert _shown(page) == [("ups2", EventKind.REPLBATT)]
    page.device.setCurrentIndex(0)
    page.kind.setCurrentIndex(page.kind.findData(EventKind.LOWBATT))
    assert _shown(page) == [("ups", EventKind.LOWBATT)]
    page.kind.setCurrentIndex(0)
    page.severity.setCurrentIndex(page.severity.findData(Severity.INFO))
    assert _shown(page) == [("ups", EventKind.ONLINE)]
    page.severity.setCurrentIndex(0)
    page.search.setText("14 MIN")
    assert _shown(page) == [("ups", EventKind.LOWBATT), ("ups", EventKind.ONBATT)]
    page.search.setText("restored")
    assert _shown(page) == [("ups", EventKind.ONLINE)]
    page.search.clear()
    assert len(_shown(page)) == len(RECORDED)


def test_export_writes_the_shown_events(page: EventsPage, tmp_path: Path) -> None:
    page.device.setCurrentIndex(page.device.findData("ups"))
    target = tmp_path / "events.csv"
    page.export(target)
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["kind"] for r in rows] == ["ONLINE", "LOWBATT", "ONBATT"]
    assert {r["device"] for r in rows} == {"ups"}
    onbatt = rows[2]
    assert onbatt["severity"] == "warning"
    assert onbatt["message"] == "On battery: 87 %, about 14 min left"
    assert onbatt["battery.charge"] == "87.0"
    assert onbatt["ups.status"] == "OB"
    assert datetime.datetime.fromisoformat(onbatt["time"]).timestamp() == T0
    # The English plural ("events") comes from the en catalogue, which the app installs.
    said = page.message.text()
    assert said in {f"Exported 3 events to {target}", f"Exported 3 event(s) to {target}"}


def test_export_failure_is_reported(page: EventsPage, tmp_path: Path) -> None:
    page.export(tmp_path / "missing" / "events.csv")
    assert page.message.text().startswith("Could not export: ")


def test_csv_of_no_events_is_a_header() -> None:
    out = io.StringIO()
    assert write_csv([], out) == 0
    assert out.getvalue().strip() == "time,device,kind,severity,message"


def test_csv_columns_cover_every_captured_value() -> None:
    events = [
        Event(T0, "ups", EventKind.OVERLOAD, "Overload: load 115 %", {"ups.load": 115.0}),
        Event(T0 + 1, "ups", EventKind.COMMBAD, "Communication lost"),
    ]
    out = io.StringIO()
    write_csv(events, out)
    header, first, second = list(csv.reader(io.StringIO(out.getvalue())))
    assert header[-1] == "ups.load"
    assert first[-1] == "115.0"
    assert second[-1] == ""


def test_every_event_kind_has_a_translatable_title() -> None:
    assert set(KIND_TITLES) == {kind.value for kind in EventKind}
