"""Shared helpers for the history tests: building readings and reading tables directly."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from upsight.agent.history.store import HistoryStore
from upsight.drivers.model import Reading, Status, UpsFlag, Value

OL = Status.of(UpsFlag.OL)
OB = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)


def feed(
    store: HistoryStore,
    start: float,
    count: int,
    values: Callable[[int], dict[str, Value]],
    *,
    status: Callable[[int], Status] = lambda i: OL,
    device: str = "ups",
) -> None:
    """Record ``count`` readings one second apart, the i-th with ``values(i)``."""
    for i in range(count):
        store.record(device, Reading(start + i, status(i), values(i)))


def query(path: Path, sql: str, *params: Any) -> list[Any]:
    """Run SQL on the database file behind the store's back."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, params).fetchall()


def buckets(path: Path, table: str, var: str, device: str = "ups") -> list[tuple[Any, ...]]:
    """(t, n, lo, mean, hi) of one variable's buckets in ``table``, in time order."""
    return query(
        path,
        f"SELECT b.t, b.n, b.lo, b.mean, b.hi FROM {table} b "
        "JOIN device d ON d.id = b.device_id "
        "JOIN variable v ON v.device_id = b.device_id AND v.id = b.var_id "
        "WHERE d.name = ? AND v.name = ? ORDER BY b.t",
        device,
        var,
    )
