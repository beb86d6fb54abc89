"""Tests of the store under trouble: corrupt files, failed writes, readers on other threads."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.agent.history.conftest import T0
from tests.agent.history.helpers import OL, feed, query
from tests.fakes import FakeClock
from upsight.agent.events import Event, EventKind
from upsight.agent.history import store as store_module
from upsight.agent.history.store import HistoryStore
from upsight.drivers.model import Reading

LOGGER = "upsight.agent.history.store"


def volts(i: int) -> dict[str, float | str]:
    return {"input.voltage": 230.0 + i % 3}


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the database's write lock from another connection, as another process could."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up on a locked database after 10 ms instead of a second."""
    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_S", 0.01)


def test_corrupt_file_is_moved_aside(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = b"this is not an SQLite database " * 200
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        store = HistoryStore(path, clock=clock)
    try:
        (aside,) = path.parent.glob("history.db.corrupt-*")
        assert aside.read_bytes() == garbage
        assert str(path) in caplog.text
        assert "corrupt" in caplog.text
        store.record_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
        store.flush()
        assert [e.kind for e in store.events()] == [EventKind.ONBATT]
    finally:
        store.close()
    assert query(path, "PRAGMA user_version") == [(store_module.SCHEMA_VERSION,)]


def test_earlier_corrupt_copies_are_kept(path: Path, clock: FakeClock) -> None:
    path.parent.mkdir(parents=True)
    for attempt in (b"first", b"second"):
        path.write_bytes(attempt * 1000)
        HistoryStore(path, clock=clock).close()
    copies = sorted(p.read_bytes()[:6] for p in path.parent.glob("history.db.corrupt-*"))
    assert copies == [b"firstf", b"second"]


def _another_programs_database(path: Path) -> None:
    query(path, "CREATE TABLE device (id INTEGER, owner TEXT)")


def _a_directory(path: Path) -> None:
    (path / "inside").mkdir(parents=True)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_another_programs_database, "not a history database (it has device)"),
        (_a_directory, "a directory, not a database"),
    ],
)
def test_something_else_at_the_path_is_set_aside_and_history_starts_afresh(
    path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[Path], None],
    reason: str,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        store = HistoryStore(path, clock=clock)
    try:
        assert f"History database {path} is unusable: {reason}" in caplog.text
        (aside,) = path.parent.glob("history.db.corrupt-*")
        assert aside.exists(), "kept, not deleted"
        store.record_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
        store.flush()
        assert [e.kind for e in store.events()] == [EventKind.ONBATT]
    finally:
        store.close()
    assert query(path, "PRAGMA user_version") == [(store_module.SCHEMA_VERSION,)]


def test_newer_schema_is_left_alone(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    query(path, "PRAGMA user_version = 99")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        store = HistoryStore(path, clock=clock)
    try:
        assert "in memory" in caplog.text
        store.record_event(Event(T0, "ups", EventKind.ONBATT, "On battery"))
        store.flush()
        assert len(store.events()) == 1
    finally:
        store.close()
    assert query(path, "PRAGMA user_version") == [(99,)]
    assert query(path, "SELECT name FROM sqlite_master") == []


def charge_then_volts(i: int) -> dict[str, float | str]:
    # A variable order unlike the first session's, so the ids in memory differ from the file's.
    return {"battery.charge": 90.0 - i, "input.voltage": 231.0}


def test_a_location_unusable_at_start_is_retried_and_written_once_usable(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "history"
    path = directory / "history.db"
    earlier = HistoryStore(path, clock=clock)
    feed(earlier, T0, 30, volts, device="ups2")
    feed(earlier, T0, 30, volts)
    earlier.close()
    # The directory's place is taken by a file, as when a data mount is missing.
    directory.rename(tmp_path / "away")
    directory.write_text("not a directory")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        store = HistoryStore(path, clock=clock)
        try:
            start = T0 + 600
            feed(store, start, 21, charge_then_volts)
            store.record_event(Event(start + 5, "ups", EventKind.ONBATT, "On battery"))
            for _ in range(10):
                store.flush()
                clock.advance(1)
            assert store.events() == [], "queries see nothing until the file opens"
            directory.unlink()
            (tmp_path / "away").rename(directory)
            clock.advance(60)
            store.flush()
            assert [e.kind for e in store.events()] == [EventKind.ONBATT]
        finally:
            store.close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == [
        (
            "ERROR",
            f"Cannot open history database {path} (File exists: {directory}); "
            "keeping history in memory and retrying",
        ),
        (
            "WARNING",
            f"History writes to {path} resumed after 4 failed attempts; 0 rows were dropped",
        ),
    ]
    retries = [r for r in caplog.records if r.getMessage().startswith("History write failed again")]
    assert len(retries) == 3, "tried after 1, 2 and 4 more seconds within 10 s, not every flush"
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    reopened = HistoryStore(path, clock=clock)
    try:
        end = T0 + 700
        old_volts = [p.avg for p in reopened.series("ups", "input.voltage", T0, T0 + 30)]
        assert old_volts == [230.0 + i % 3 for i in range(30)]
        new_volts = reopened.series("ups", "input.voltage", start, end)
        assert [p.avg for p in new_volts] == [231.0] * 21
        charge = reopened.series("ups", "battery.charge", start, end)
        assert [p.avg for p in charge] == [90.0 - i for i in range(21)]
        assert len(reopened.series("ups2", "input.voltage", T0, T0 + 30)) == 30
        assert reopened.series("ups2", "battery.charge", T0, end) == []
    finally:
        reopened.close()


@pytest.mark.usefixtures("impatient")
def test_failed_flush_keeps_data_and_logs_once(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = HistoryStore(path, clock=clock)
    try:
        first = Event(T0, "ups", EventKind.ONBATT, "On battery")
        second = Event(T0 + 20, "ups", EventKind.ONLINE, "Power restored")
        store.record_event(first)
        feed(store, T0, 21, volts)
        with caplog.at_level(logging.DEBUG, logger=LOGGER), write_lock(path):
            store.flush()
            store.record_event(second)
            store.flush()
            store.flush()
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert str(path) in errors[0]
        assert "locked" in errors[0]
        assert store.events() == []

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            store.flush()
        assert "resumed after 3 failed attempts" in caplog.text
        assert store.events() == [first, second]
        assert len(store.series("ups", "input.voltage", T0, T0 + 20)) == 20
    finally:
        store.close()


@pytest.mark.usefixtures("impatient")
def test_buffers_are_capped_while_writes_fail(
    monkeypatch: pytest.MonkeyPatch, path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store_module, "_MAX_PENDING", 3)
    store = HistoryStore(path, clock=clock)
    try:
        store.flush()  # creates the device, so that only readings are pending below
        with caplog.at_level(logging.WARNING, logger=LOGGER), write_lock(path):
            feed(store, T0, 100, volts)  # nine finished chunks, the tenth still open
            store.flush()
        assert "dropping the oldest" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            store.flush()
        assert "6 rows were dropped" in caplog.text
        assert query(path, "SELECT t FROM raw ORDER BY t") == [(T0 + 60,), (T0 + 70,), (T0 + 80,)]
    finally:
        store.close()


def test_queries_from_another_thread_while_writing(
    store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                store.series("ups", "input.voltage", T0, T0 + 3000)
                store.events(limit=5)
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

    thread = threading.Thread(target=reader)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        thread.start()
        for block in range(20):
            feed(store, T0 + 100 * block, 100, volts)
            store.record_event(Event(T0 + 100 * block, "ups", EventKind.COMMOK, "ok"))
            store.flush()
        stop.set()
        thread.join()
    assert failures == []
    assert caplog.records == []
    assert len(store.series("ups", "input.voltage", T0, T0 + 3000, max_points=5000)) == 1990


def test_closed_store_ignores_writes_and_answers_empty(store: HistoryStore) -> None:
    feed(store, T0, 11, volts)
    store.close()
    store.record("ups", Reading(T0 + 20, OL, volts(0)))
    store.flush()
    store.prune()
    store.close()
    assert store.series("ups", "input.voltage", T0, T0 + 10) == []
    assert store.devices() == []
