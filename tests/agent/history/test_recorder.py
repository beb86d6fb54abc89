"""Tests of the recorder thread that owns the store's write side."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.history.conftest import T0
from tests.agent.history.helpers import OL, feed, query
from tests.fakes import FakeClock
from upsight.agent.events import Event, EventKind
from upsight.agent.history import recorder as recorder_module
from upsight.agent.history.recorder import HistoryRecorder
from upsight.agent.history.store import HistoryStore, Retention
from upsight.drivers.model import Reading


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll until ``condition`` holds; usually a few milliseconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def reading(i: int) -> Reading:
    return Reading(T0 + i, OL, {"input.voltage": 230.0 + i})


def test_submits_from_another_thread_arrive(path: Path, clock: FakeClock) -> None:
    store = HistoryStore(path, clock=clock)
    recorder = HistoryRecorder(store, flush_interval_s=0.005)
    recorder.start()
    event = Event(T0 + 25, "ups", EventKind.ONBATT, "On battery")

    def produce() -> None:
        for i in range(30):
            recorder.submit_reading("ups", reading(i))
        recorder.submit_event(event)

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    try:
        assert wait_for(lambda: store.events() == [event])
        assert wait_for(lambda: len(store.series("ups", "input.voltage", T0, T0 + 30)) == 20)
    finally:
        recorder.stop()


def test_stop_flushes_and_closes(path: Path, clock: FakeClock) -> None:
    store = HistoryStore(path, clock=clock)
    recorder = HistoryRecorder(store, flush_interval_s=3600)
    recorder.start()
    for i in range(30):
        recorder.submit_reading("ups", reading(i))
    recorder.submit_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
    recorder.stop()
    assert store.events() == []  # closed
    assert query(path, "SELECT count(*) FROM event") == [(1,)]
    assert query(path, "SELECT sum(n) FROM raw") == [(30,)]
    assert query(path, "SELECT sum(n) FROM minute WHERE var_id = 0") == [(30,)]


def test_thread_survives_a_failing_step(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class FlakyStore(HistoryStore):
        def record(self, device: str, reading: Reading) -> None:
            if device == "bad":
                raise RuntimeError("boom")
            super().record(device, reading)

    store = FlakyStore(path, clock=clock)
    recorder = HistoryRecorder(store, flush_interval_s=0.005)
    with caplog.at_level(logging.ERROR, logger="upsight.agent.history.recorder"):
        recorder.start()
        recorder.submit_reading("bad", reading(0))
        try:
            assert wait_for(lambda: "boom" in caplog.text)
            recorder.submit_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
            assert wait_for(lambda: len(store.events()) == 1)
        finally:
            recorder.stop()
    assert "History recorder step failed" in caplog.text


def test_recorder_prunes(path: Path, clock: FakeClock) -> None:
    store = HistoryStore(path, Retention(raw_s=60), clock)
    feed(store, T0, 101, lambda i: {"input.voltage": 230.0})
    store.flush()
    clock.advance(1000)
    recorder = HistoryRecorder(store, flush_interval_s=0.005, prune_interval_s=0.01)
    recorder.start()
    try:
        assert wait_for(lambda: query(path, "SELECT count(*) FROM raw") == [(0,)])
    finally:
        recorder.stop()


def test_overflow_drops_the_oldest_and_says_so(
    monkeypatch: pytest.MonkeyPatch, path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(recorder_module, "_QUEUE_MAX", 5)
    recorder = HistoryRecorder(HistoryStore(path, clock=clock))  # never started: nothing drains
    for i in range(8):
        recorder.submit_event(Event(T0 + i, "ups", EventKind.COMMOK, f"event {i}"))
    with caplog.at_level(logging.WARNING, logger="upsight.agent.history.recorder"):
        recorder.stop()
    assert "3 queued items were dropped" in caplog.text
    assert query(path, "SELECT message FROM event ORDER BY t") == [
        (f"event {i}",) for i in range(3, 8)
    ]
