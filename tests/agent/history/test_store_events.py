"""Tests of events, device and variable listings in the history store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.history.conftest import T0
from tests.agent.history.helpers import OB, OL
from upsight.agent.events import Event, EventKind, make_event
from upsight.agent.history.store import ON_BATTERY, HistoryStore
from upsight.drivers.model import Reading


@pytest.fixture
def history(store: HistoryStore) -> list[Event]:
    """Six events on two devices, flushed."""
    reading = Reading(T0, OB, {"battery.charge": 87.0, "battery.runtime": 840.0})
    events = [
        make_event(T0 + 0, "ups", EventKind.ONBATT, reading),
        Event(T0 + 10, "nas-ups", EventKind.COMMBAD, "Communication lost", {"error": "timeout"}),
        Event(T0 + 20, "ups", EventKind.LOWBATT, "Low battery", {"battery.charge": 9.5}),
        Event(T0 + 20, "ups", EventKind.FSD, "Forced shutdown"),
        Event(T0 + 30, "nas-ups", EventKind.COMMOK, "Communication restored"),
        Event(T0 + 40, "ups", EventKind.ONLINE, "Power restored", {"ups.status": "OL CHRG"}),
    ]
    for event in events:
        store.record_event(event)
    store.flush()
    return events


def test_events_round_trip(store: HistoryStore, history: list[Event]) -> None:
    got = store.events()
    assert got == history
    assert got[0].message == "On battery: 87 %, about 14 min left"
    assert dict(got[0].data) == {
        "battery.charge": 87.0,
        "battery.runtime": 840.0,
        "ups.status": "OB DISCHRG",
    }
    assert isinstance(got[0].data["battery.charge"], float)


def test_events_are_written_on_flush(store: HistoryStore) -> None:
    store.record_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
    assert store.events() == []
    store.flush()
    assert [e.kind for e in store.events()] == [EventKind.ONBATT]


def test_event_filters(store: HistoryStore, history: list[Event]) -> None:
    assert [e.kind for e in store.events(device="nas-ups")] == [EventKind.COMMBAD, EventKind.COMMOK]
    assert store.events(start=T0 + 20, end=T0 + 40) == history[2:5]
    assert [e.at for e in store.events(kinds={EventKind.ONBATT, EventKind.ONLINE})] == [T0, T0 + 40]
    assert store.events(device="ups", kinds=[EventKind.COMMOK]) == []
    assert store.events(kinds=()) == []
    assert store.events(device="unknown") == []


def test_limit_returns_the_newest_in_time_order(store: HistoryStore, history: list[Event]) -> None:
    assert store.events(limit=3) == history[3:]
    assert store.events(device="ups", limit=2) == [history[3], history[5]]
    assert store.events(limit=0) == []
    assert store.events(limit=100) == history


def test_events_survive_reopening(store: HistoryStore, history: list[Event], path: Path) -> None:
    store.close()
    reopened = HistoryStore(path)
    try:
        assert reopened.events() == history
    finally:
        reopened.close()


def test_devices_and_variables(store: HistoryStore) -> None:
    store.record("ups", Reading(T0, OL, {"battery.charge": 100.0, "ups.mfr": "APC"}))
    store.record_event(Event(T0, "nas-ups", EventKind.COMMBAD, "Communication lost"))
    store.flush()
    assert store.devices() == ["nas-ups", "ups"]
    assert store.variables("ups") == ["battery.charge", ON_BATTERY]
    assert store.variables("unknown") == []
