"""Fixtures for the history tests: a fake clock, a store in tmp_path, and a TZ switcher."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from upsight.agent.history.store import HistoryStore, Retention

# 2023-11-14 22:00:00 UTC: a whole hour, two hours before midnight UTC.
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600


_DEFAULT = Retention()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history" / "history.db"


@pytest.fixture
def open_store(path: Path, clock: FakeClock) -> Iterator[Callable[..., HistoryStore]]:
    """Open stores on the same file; all are closed at the end of the test."""
    stores: list[HistoryStore] = []

    def opener(retention: Retention = _DEFAULT) -> HistoryStore:
        store = HistoryStore(path, retention, clock)
        stores.append(store)
        return store

    yield opener
    for store in stores:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., HistoryStore]) -> HistoryStore:
    return open_store()


@pytest.fixture
def set_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch the local time zone (POSIX TZ strings need no tzdata); restored afterwards."""

    def switch(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield switch
    monkeypatch.undo()
    time.tzset()
