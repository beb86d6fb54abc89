"""HistoryStore: readings in three tiers, events and hourly energy in one SQLite file.

Schema (version 1):

* ``device(id, name)`` and ``variable(device_id, id, name)`` intern names as
  small integers. Variable id 0 of every device is :data:`ON_BATTERY`.
* ``raw(device_id, t, n, status, v)``: one row per device and 10-second
  window ("chunk"), ``t`` being its first reading. ``v`` packs ``n`` readings
  as little-endian float64 columns: ``n`` reading times, ``n`` ON_BATTERY
  flags, then ``n`` values of each variable by id (NaN where absent).
  ``status`` is ``str(reading.status)``, or one per reading joined by newlines
  when it changed within the chunk. Chunks take a tenth of the inserts and
  index entries of a row per reading, and a query cuts one variable's column
  out of each chunk in SQL and unpacks them all with one ``array`` call.
* ``minute`` and ``hour(device_id, var_id, t, n, lo, mean, hi)``: buckets keyed
  by their epoch-aligned start (WITHOUT ROWID).
* ``event(id, device_id, t, kind, message, data)`` with ``data`` as JSON.
* ``energy(device_id, hour, source, wh)``: Wh per epoch hour and provenance.

Outage bands come from the pseudo-variable :data:`ON_BATTERY`, 1.0 while the
status has OB and 0.0 otherwise: in the bucket tiers its ``avg`` is the share
of the bucket spent on battery and its ``max`` says whether there was any.
Unlike bands derived from ONBATT/ONLINE events, this survives missed events
(agent started mid-outage, events pruned) and downsamples like any variable.

A single thread writes (see ``recorder.py``); queries may come from any thread
and use their own connection, which WAL lets read while the writer commits.
Queries see flushed data only: a raw chunk is written once its 10 s window has
passed, a minute bucket once its minute has.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import struct
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice, zip_longest
from operator import le
from pathlib import Path
from typing import Any, Final

from upsight.agent.durable import SQLITE_FILES, keep_aside
from upsight.agent.events import Event, EventKind
from upsight.agent.history.downsampler import (
    HOUR_S,
    MINUTE_S,
    Bucket,
    aggregate,
    bucket_start,
    group,
    merge,
    merge_all,
)
from upsight.agent.history.energy import EnergyDay, PowerSample, group_days, integrate, power_of
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.drivers.model import Reading, Status, Value
from upsight.drivers.variables import is_measurement

__all__ = ["ON_BATTERY", "EnergyDay", "HistoryStore", "Point", "Retention"]

logger = logging.getLogger(__name__)

ON_BATTERY: Final = "upsight.on_battery"
SCHEMA_VERSION: Final = 1

# Raw chunk length. A divisor of a minute, and short enough that a chunk of up
# to ~45 variables at 1 Hz stays within one 4 KiB page (no overflow pages).
_CHUNK_S: Final = 10
# How long a write waits for a lock held by another connection before the
# flush fails and is retried at the next interval.
_BUSY_TIMEOUT_S = 1.0
# A database that cannot be opened is tried again after this long, doubling up to the
# most; a retry is only an open() of a file, but the log need not see one a second.
_REOPEN_MIN_S: Final = 1.0
_REOPEN_MAX_S: Final = 60.0
# Rows kept per buffer while writes fail: about 16 h of raw chunks (some 6 MB),
# 10 h of minute buckets for ten variables, or 6000 events.
_MAX_PENDING = 6000
# The WAL is reset after each checkpoint; this caps the size it stays at.
_WAL_LIMIT_BYTES: Final = 4 * 1024 * 1024
_STATUS_CACHE_MAX: Final = 256
_NAN: Final = math.nan
_CORRUPT_ERRORS: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})

_SCHEMA: Final = f"""
CREATE TABLE device (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE variable (
    device_id INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (device_id, id), UNIQUE (device_id, name)
) WITHOUT ROWID;
CREATE TABLE raw (
    device_id INTEGER NOT NULL, t REAL NOT NULL, n INTEGER NOT NULL,
    status TEXT NOT NULL, v BLOB NOT NULL
);
CREATE UNIQUE INDEX raw_by_time ON raw (device_id, t);
CREATE TABLE minute (
    device_id INTEGER NOT NULL, var_id INTEGER NOT NULL, t INTEGER NOT NULL,
    n INTEGER NOT NULL, lo REAL NOT NULL, mean REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (device_id, var_id, t)
) WITHOUT ROWID;
CREATE TABLE hour (
    device_id INTEGER NOT NULL, var_id INTEGER NOT NULL, t INTEGER NOT NULL,
    n INTEGER NOT NULL, lo REAL NOT NULL, mean REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (device_id, var_id, t)
) WITHOUT ROWID;
CREATE TABLE event (
    id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL, t REAL NOT NULL,
    kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX event_by_time ON event (t);
CREATE INDEX event_by_device ON event (device_id, t);
CREATE TABLE energy (
    device_id INTEGER NOT NULL, hour INTEGER NOT NULL, source TEXT NOT NULL,
    wh REAL NOT NULL, PRIMARY KEY (device_id, hour, source)
) WITHOUT ROWID;
PRAGMA user_version = {SCHEMA_VERSION};
"""

# Merging a stored bucket with a new one: the SQL twin of downsampler.merge.
_UPSERT_BUCKET: Final = """
INSERT INTO {table} (device_id, var_id, t, n, lo, mean, hi) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id, var_id, t) DO UPDATE SET
    n = n + excluded.n,
    lo = min(lo, excluded.lo),
    hi = max(hi, excluded.hi),
    mean = (mean * n + excluded.mean * excluded.n) / (n + excluded.n)
"""
_UPSERT_ENERGY: Final = """
INSERT INTO energy (device_id, hour, source, wh) VALUES (?, ?, ?, ?)
ON CONFLICT (device_id, hour, source) DO UPDATE SET wh = wh + excluded.wh
"""
_INSERT_RAW: Final = (
    "INSERT OR REPLACE INTO raw (device_id, t, n, status, v) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_EVENT: Final = (
    "INSERT INTO event (device_id, t, kind, message, data) VALUES (?, ?, ?, ?, ?)"
)
# The times and one variable's column of the chunks that hold the variable.
_RAW_COLUMN: Final = """
SELECT substr(v, 1, 8 * n), substr(v, 8 * n * ?1 + 1, 8 * n) FROM raw
WHERE device_id = ?2 AND t > ?3 AND t < ?4 AND length(v) >= 8 * n * (?1 + 1) ORDER BY t
"""
_BUCKET_ROWS: Final = """
SELECT t, lo, mean, hi, n FROM {table}
WHERE device_id = :dev AND var_id = :var AND t >= :lo AND t < :end ORDER BY t
"""
# Grouping rows into wider buckets. GROUP BY would sort every row (two thirds
# of the time of a 30-day query); instead one scalar subquery per output bucket
# walks that bucket's primary-key range. A scalar subquery yields one value, so
# the four aggregates travel as text: REAL becomes text with 15 significant
# digits, exact for device values and within 1e-15 for means.
_BUCKET_GROUPED: Final = """
WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i + 1 < :count)
SELECT i, (
    SELECT min(lo) || ' ' || (sum(mean * n) / sum(n)) || ' ' || max(hi) || ' ' || sum(n)
    FROM {table}
    WHERE device_id = :dev AND var_id = :var
        AND t >= max(:lo, :g0 + i * :w) AND t < min(:end, :g0 + (i + 1) * :w)
) FROM b
"""


@dataclass(frozen=True)
class Retention:
    """How long each tier is kept, in seconds; events and energy follow the hour tier."""

    raw_s: float = 48 * 3600
    minute_s: float = 90 * 86400
    hour_s: float = 5 * 365 * 86400


@dataclass(frozen=True)
class Point:
    """One point of a series: a bucket's start (epoch s) or, for raw data, the sample time."""

    t: float
    min: float
    avg: float
    max: float
    n: int


@dataclass(frozen=True)
class _Tier:
    table: str
    step_s: int
    keep_s: float


@dataclass(frozen=True)
class _Query:
    """One series() request, resolved to ids and a bucket width."""

    dev_id: int
    var_id: int
    start: float
    end: float
    width: int


@dataclass(eq=False)
class _Device:
    """Write-side state of one device: the open chunk and minute, and the last power sample."""

    id: int
    var_ids: dict[str, int]
    blank: list[float] = field(default_factory=list)  # one NaN per variable but ON_BATTERY
    window: int = -1
    minute: int = -1
    rows: list[list[float]] = field(default_factory=list)  # the open minute's rows
    chunk_from: int = 0  # index in rows where the open chunk starts
    statuses: list[str] = field(default_factory=list)  # status text of the open chunk's rows
    power: PowerSample | None = None


class _NewerSchemaError(Exception):
    """The file was written by a newer Upsight; writing to it could damage it."""


class _ForeignFileError(Exception):
    """The path holds something other than a history database: set it aside, start afresh."""


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _CORRUPT_ERRORS


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    # Autocommit mode: the writer issues BEGIN/COMMIT itself.
    return sqlite3.connect(
        target, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, uri=uri
    )


def _init_schema(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _NewerSchemaError(f"schema version {version} is newer than {SCHEMA_VERSION}")
    if version == 0:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master LIMIT 3")]
        if tables:
            # Ours always carries a schema version: this is some other SQLite file.
            raise _ForeignFileError(f"not a history database (it has {', '.join(tables)})")
        db.executescript(f"BEGIN;{_SCHEMA}COMMIT;")


def _pack(rows: list[list[float]]) -> bytes:
    # Column-major, so that a query can cut one variable out with substr().
    columns = list(zip_longest(*rows, fillvalue=_NAN))
    return struct.pack(f"<{len(rows) * len(columns)}d", *chain.from_iterable(columns))


def _hours(
    minutes: list[tuple[int, int, int, int, float, float, float]],
) -> list[tuple[int, int, int, int, float, float, float]]:
    """Hour bucket rows for finished minute rows, merged per hour before they are upserted."""
    merged: dict[tuple[int, int, int], Bucket] = {}
    for dev_id, var_id, t, n, lo, mean, hi in minutes:
        key = (dev_id, var_id, t - t % HOUR_S)
        bucket = Bucket(n, lo, mean, hi)
        known = merged.get(key)
        merged[key] = bucket if known is None else merge(known, bucket)
    return [(*key, b.n, b.min, b.avg, b.max) for key, b in merged.items()]


def _moved(row: list[float], columns: list[int], width: int) -> list[float]:
    """A row with each column moved to ``columns[i]``, NaN in columns nobody moved to."""
    moved = [_NAN] * width
    for column, value in enumerate(row):
        moved[columns[column]] = value
    return moved


def _repack(blob: bytes, n: int, columns: list[int], width: int) -> bytes:
    """A packed chunk of ``n`` rows with its columns moved as :func:`_moved` moves a row's."""
    values = struct.unpack(f"<{len(blob) // 8}d", blob)
    moved = [_NAN] * (width * n)
    for column in range(len(values) // n):
        start = columns[column] * n
        moved[start : start + n] = values[column * n : (column + 1) * n]
    return struct.pack(f"<{len(moved)}d", *moved)


def _reason(exc: BaseException) -> str:
    """The OS's or SQLite's words for what failed, without Python's errno prefix."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _unpack(blob: bytes) -> array[float]:
    values = array("d", blob)
    if sys.byteorder == "big":
        values.byteswap()
    return values


class HistoryStore:
    """Local history of readings, events and energy for all devices of one agent.

    The write side (``record``, ``record_event``, ``flush``, ``prune``,
    ``close``) belongs to one thread; queries may run on any thread. Nothing
    here raises to the caller on database trouble: errors are logged, writes
    are retried and queries return empty results.
    """

    def __init__(
        self, path: Path, retention: Retention = Retention(), clock: Clock = SYSTEM_CLOCK
    ) -> None:
        """Open or create the database at ``path`` (and its directory).

        A corrupt file is moved aside as ``<name>.corrupt-<timestamp>`` and a new
        one is started. A file that cannot be opened now (a full disk, a missing
        mount) is tried again at later flushes, with a backoff of up to a minute,
        while what is recorded waits in memory (up to the same cap as failed
        writes); queries return nothing until it opens. A file written by a newer
        version is left alone and history lives in memory for this session.
        """
        self._path = Path(path)
        self._retention = retention
        self._clock = clock
        self._tiers = (
            _Tier("raw", 1, retention.raw_s),
            _Tier("minute", MINUTE_S, retention.minute_s),
            _Tier("hour", HOUR_S, retention.hour_s),
        )
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._closed = False
        self._devices: dict[str, _Device] = {}
        self._status_cache: dict[Status, tuple[str, float]] = {}
        self._new_devices: list[tuple[int, str]] = []
        self._new_vars: list[tuple[int, int, str]] = []
        self._raw: list[tuple[int, float, int, str, bytes]] = []
        self._buckets: list[tuple[int, int, int, int, float, float, float]] = []
        self._events: list[tuple[int, float, str, str, str]] = []
        self._energy: dict[tuple[int, int, str], float] = {}
        self._max_pending = _MAX_PENDING
        self._failures = 0
        self._dropped = 0
        # False while the file could not be opened: self._db is then an empty memory
        # database that answers queries, and writes wait for the file.
        self._attached = True
        self._reopen_s = _REOPEN_MIN_S
        self._reopen_at = 0.0
        self._db, self._read = self._open()
        self._load_names()

    # -- opening -----------------------------------------------------------

    def _open(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        try:
            return self._open_usable()
        except _NewerSchemaError as exc:
            logger.error(
                "Cannot use history database %s (%s); history is kept in memory this session",
                self._path,
                exc,
            )
            return self._memory()
        except (sqlite3.Error, OSError) as exc:
            logger.error(
                "Cannot open history database %s (%s); keeping history in memory and retrying",
                self._path,
                _reason(exc),
            )
            self._attached = False
            self._failures = 1
            self._reopen_at = self._clock.monotonic() + self._reopen_s
            return self._memory()

    def _open_usable(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        """The file's connections; a corrupt or foreign file is set aside for a new one."""
        try:
            if self._path.is_dir():
                raise _ForeignFileError("a directory, not a database")
            return self._open_file()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            logger.error("History database %s is corrupt: %s", self._path, exc)
        except _ForeignFileError as exc:
            logger.error("History database %s is unusable: %s", self._path, exc)
        self._move_aside()
        return self._open_file()

    def _open_file(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(str(self._path))
        try:
            db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL may lose the last commits on power loss but
            # never corrupts, and it spares an fsync per flush.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
            _init_schema(db)
            read = _connect(str(self._path))
            read.execute("PRAGMA query_only = 1")
        except BaseException:
            db.close()
            raise
        return db, read

    def _memory(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        # A named shared-cache memory database, so that both connections see it.
        target = f"file:upsight-history-{id(self)}?mode=memory&cache=shared"
        db = _connect(target, uri=True)
        _init_schema(db)
        return db, _connect(target, uri=True)

    def _move_aside(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._clock.time()))
        aside = keep_aside(self._path, stamp, SQLITE_FILES)
        logger.error("Moved corrupt history database %s to %s; starting afresh", self._path, aside)

    def _load_names(self) -> None:
        by_id: dict[int, _Device] = {}
        for dev_id, name in self._db.execute("SELECT id, name FROM device"):
            by_id[dev_id] = self._devices[name] = _Device(dev_id, {})
        for dev_id, var_id, name in self._db.execute(
            "SELECT device_id, id, name FROM variable ORDER BY device_id, id"
        ):
            by_id[dev_id].var_ids[name] = var_id
        for dev in by_id.values():
            dev.blank = [_NAN] * max(dev.var_ids.values(), default=0)

    # -- write side --------------------------------------------------------

    def _add_device(self, name: str) -> _Device:
        dev_id = max((dev.id for dev in self._devices.values()), default=0) + 1
        dev = _Device(dev_id, {ON_BATTERY: 0})
        self._devices[name] = dev
        self._new_devices.append((dev_id, name))
        self._new_vars.append((dev_id, 0, ON_BATTERY))
        return dev

    def _add_var(self, dev: _Device, name: str) -> int:
        # Rows hold [t, ON_BATTERY, id 1, id 2, ...]: variable id k is column k + 1.
        var_id = len(dev.blank) + 1
        dev.var_ids[name] = var_id
        dev.blank.append(_NAN)
        self._new_vars.append((dev.id, var_id, name))
        return var_id

    def _status(self, status: Status) -> tuple[str, float]:
        # str(Status) and Flag tests cost microseconds; statuses repeat, so cache them.
        cached = self._status_cache.get(status)
        if cached is None:
            if len(self._status_cache) >= _STATUS_CACHE_MAX:
                self._status_cache.clear()
            cached = (str(status), 1.0 if status.on_battery else 0.0)
            self._status_cache[status] = cached
        return cached

    def record(self, device: str, reading: Reading) -> None:
        """Buffer one reading of ``device``; it is written by a later :meth:`flush`."""
        with self._lock:
            if self._closed:
                return
            dev = self._devices.get(device) or self._add_device(device)
            t = reading.at
            window = int(t // _CHUNK_S) * _CHUNK_S
            if window != dev.window:
                self._close_chunk(dev)
                dev.window = window
                minute = window - window % MINUTE_S
                if minute != dev.minute:
                    self._close_minute(dev)
                    dev.minute = minute
            text, on_battery = self._status(reading.status)
            row = [t, on_battery, *dev.blank]
            var_ids = dev.var_ids
            isfinite = math.isfinite
            for name, value in reading.values.items():
                if isinstance(value, float) and isfinite(value):
                    var_id = var_ids.get(name)
                    if var_id is None:
                        if not is_measurement(name):
                            continue  # a setting, not a measurement: no history
                        var_id = self._add_var(dev, name)
                        row.append(_NAN)
                    row[var_id + 1] = value
            dev.rows.append(row)
            dev.statuses.append(text)
            sample = power_of(reading)
            if sample is not None and dev.power is not None:
                energy = self._energy
                for hour, source, wh in integrate(dev.power, sample):
                    key = (dev.id, hour, source)
                    energy[key] = energy.get(key, 0.0) + wh
            dev.power = sample

    def _close_chunk(self, dev: _Device) -> None:
        rows = dev.rows[dev.chunk_from :]
        if rows:
            statuses = dev.statuses
            same = statuses.count(statuses[0]) == len(statuses)
            status = statuses[0] if same else "\n".join(statuses)
            self._raw.append((dev.id, rows[0][0], len(rows), status, _pack(rows)))
        dev.chunk_from = len(dev.rows)
        dev.statuses = []

    def _close_minute(self, dev: _Device) -> None:
        columns = zip_longest(*dev.rows, fillvalue=_NAN)
        next(columns, None)  # the reading times
        for var_id, column in enumerate(columns):
            # NaN marks an absent value; summing first spares the filter when none is.
            present = column
            if math.isnan(sum(column)):
                present = tuple(x for x in column if not math.isnan(x))
            summary = aggregate(present)
            if summary is not None:
                self._buckets.append(
                    (dev.id, var_id, dev.minute, summary.n, summary.min, summary.avg, summary.max)
                )
        dev.rows = []
        dev.chunk_from = 0

    def record_event(self, event: Event) -> None:
        """Buffer one event; it is written by the next :meth:`flush`."""
        with self._lock:
            if self._closed:
                return
            dev = self._devices.get(event.device) or self._add_device(event.device)
            data = json.dumps(dict(event.data))
            self._events.append((dev.id, event.at, event.kind.value, event.message, data))

    def flush(self) -> None:
        """Write everything buffered in one transaction; on failure keep it for the next try."""
        with self._lock:
            if not self._closed:
                self._write_pending()

    def _write_pending(self) -> bool:
        if not (
            self._new_devices
            or self._new_vars
            or self._raw
            or self._buckets
            or self._events
            or self._energy
        ):
            return True
        if not self._attached and not self._reattach():
            return False
        db = self._db
        try:
            db.execute("BEGIN")
            try:
                db.executemany("INSERT INTO device (id, name) VALUES (?, ?)", self._new_devices)
                db.executemany(
                    "INSERT INTO variable (device_id, id, name) VALUES (?, ?, ?)", self._new_vars
                )
                db.executemany(_INSERT_RAW, self._raw)
                if self._buckets:
                    db.executemany(_UPSERT_BUCKET.format(table="minute"), self._buckets)
                    db.executemany(_UPSERT_BUCKET.format(table="hour"), _hours(self._buckets))
                db.executemany(_INSERT_EVENT, self._events)
                db.executemany(_UPSERT_ENERGY, [(*key, wh) for key, wh in self._energy.items()])
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            self._on_write_error(exc)
            return False
        self._new_devices, self._new_vars, self._raw = [], [], []
        self._buckets, self._events, self._energy = [], [], {}
        if self._failures:
            logger.warning(
                "History writes to %s resumed after %d failed attempts; %d rows were dropped",
                self._path,
                self._failures,
                self._dropped,
            )
            self._failures = self._dropped = 0
        return True

    def _reattach(self) -> bool:
        """Open the file that could not be opened before; False while it still cannot be."""
        now = self._clock.monotonic()
        if now < self._reopen_at:
            self._trim()
            return False
        try:
            db, read = self._open_usable()
        except (sqlite3.Error, OSError, _NewerSchemaError) as exc:
            self._reopen_s = min(self._reopen_s * 2, _REOPEN_MAX_S)
            self._reopen_at = now + self._reopen_s
            self._on_write_error(exc)
            return False
        try:
            self._adopt_names(db)
        except sqlite3.Error as exc:
            db.close()
            read.close()
            self._reopen_at = now + self._reopen_s
            self._on_write_error(exc)
            return False
        with self._read_lock:
            self._db.close()
            self._read.close()
            self._db, self._read = db, read
        self._attached = True
        self._reopen_s = _REOPEN_MIN_S
        return True

    def _adopt_names(self, db: sqlite3.Connection) -> None:
        """Renumber what was recorded without the file by the file's own device and variable ids.

        Names seen only in memory get ids after the file's; the open rows, buffered raw
        chunks (whose columns are variable ids), buckets, events and energy follow.
        """
        file_devices = {name: dev_id for dev_id, name in db.execute("SELECT id, name FROM device")}
        file_vars: dict[int, dict[str, int]] = {}
        for dev_id, var_id, name in db.execute("SELECT device_id, id, name FROM variable"):
            file_vars.setdefault(dev_id, {})[name] = var_id
        next_dev = max(file_devices.values(), default=0) + 1
        new_devices: list[tuple[int, str]] = []
        new_vars: list[tuple[int, int, str]] = []
        moves: dict[int, tuple[int, list[int], int]] = {}  # old id: new id, columns, width
        for name, dev in self._devices.items():
            dev_id = file_devices.get(name)
            if dev_id is None:
                dev_id, next_dev = next_dev, next_dev + 1
                new_devices.append((dev_id, name))
            var_ids = {ON_BATTERY: 0, **file_vars.get(dev_id, {})}
            next_var = max(var_ids.values()) + 1
            columns = list(range(len(dev.blank) + 2))
            for var, old_id in dev.var_ids.items():
                var_id = var_ids.get(var)
                if var_id is None:
                    var_id, next_var = next_var, next_var + 1
                    var_ids[var] = var_id
                    new_vars.append((dev_id, var_id, var))
                columns[old_id + 1] = var_id + 1
            width = next_var + 1
            moves[dev.id] = (dev_id, columns, width)
            dev.rows = [_moved(row, columns, width) for row in dev.rows]
            dev.id, dev.var_ids, dev.blank = dev_id, var_ids, [_NAN] * (width - 2)
        for name, dev_id in file_devices.items():
            if name not in self._devices:
                var_ids = file_vars.get(dev_id, {ON_BATTERY: 0})
                blank = [_NAN] * max(var_ids.values(), default=0)
                self._devices[name] = _Device(dev_id, var_ids, blank)
        self._new_devices, self._new_vars = new_devices, new_vars
        self._raw = [
            (moves[d][0], t, n, status, _repack(blob, n, moves[d][1], moves[d][2]))
            for d, t, n, status, blob in self._raw
        ]
        self._buckets = [
            (moves[d][0], moves[d][1][v + 1] - 1, t, n, lo, mean, hi)
            for d, v, t, n, lo, mean, hi in self._buckets
        ]
        self._events = [
            (moves[d][0], t, kind, message, data) for d, t, kind, message, data in self._events
        ]
        self._energy = {(moves[d][0], h, src): wh for (d, h, src), wh in self._energy.items()}

    def _rollback(self) -> None:
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                logger.debug("History rollback failed: %s", exc)

    def _on_write_error(self, exc: sqlite3.Error | OSError | _NewerSchemaError) -> None:
        self._failures += 1
        if self._failures == 1:
            logger.error(
                "Cannot write history to %s (%s); keeping it in memory and retrying",
                self._path,
                _reason(exc),
            )
        else:
            logger.debug("History write failed again (%d): %s", self._failures, exc)
        self._trim()

    def _trim(self) -> None:
        """Drop the oldest buffered rows beyond the cap, counting what is lost."""
        dropped = 0
        for buffer in (self._raw, self._buckets, self._events):
            excess = len(buffer) - self._max_pending
            if excess > 0:
                del buffer[:excess]
                dropped += excess
        if dropped:
            if not self._dropped:
                logger.warning(
                    "History buffer full while %s is unwritable; dropping the oldest rows",
                    self._path,
                )
            self._dropped += dropped

    def prune(self) -> None:
        """Delete what is older than each tier's retention, relative to ``clock.time()``."""
        with self._lock:
            if self._closed or not self._attached:
                return
            now = self._clock.time()
            keep = self._retention
            db = self._db
            try:
                db.execute("BEGIN")
                try:
                    # Per device and variable, so that each delete is a key range scan.
                    for dev in self._devices.values():
                        db.execute(
                            "DELETE FROM raw WHERE device_id = ? AND t < ?",
                            (dev.id, now - keep.raw_s),
                        )
                        for var_id in dev.var_ids.values():
                            for table, keep_s in (("minute", keep.minute_s), ("hour", keep.hour_s)):
                                db.execute(
                                    f"DELETE FROM {table} WHERE device_id = ? AND var_id = ? "
                                    "AND t < ?",
                                    (dev.id, var_id, now - keep_s),
                                )
                    db.execute("DELETE FROM event WHERE t < ?", (now - keep.hour_s,))
                    db.execute("DELETE FROM energy WHERE hour < ?", (now - keep.hour_s,))
                    db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                logger.error("Cannot prune history in %s: %s", self._path, exc)

    def close(self) -> None:
        """Flush, including the open chunk and partial buckets, and close; repeat calls do nothing.

        Partial minute and hour buckets are merged with the rest of their
        minute and hour when recording continues after a reopen.
        """
        with self._lock:
            if self._closed:
                return
            for dev in self._devices.values():
                self._close_chunk(dev)
                self._close_minute(dev)
                dev.window = dev.minute = -1
            # A last try at a file that could not be opened, whatever the backoff says.
            self._reopen_at = 0.0
            if not self._write_pending():
                logger.error(
                    "History closed with %d chunks, %d buckets and %d events unwritten",
                    len(self._raw),
                    len(self._buckets),
                    len(self._events),
                )
            self._closed = True
            with self._read_lock:
                self._db.close()
                self._read.close()

    # -- queries -----------------------------------------------------------

    def _fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self._read_lock:
            if self._closed:
                return []
            try:
                return self._read.execute(sql, params).fetchall()
            except sqlite3.Error:
                logger.exception("History query failed on %s", self._path)
                return []

    def series(
        self, device: str, var: str, start: float, end: float, max_points: int = 1500
    ) -> list[Point]:
        """Samples of ``var`` with ``start <= t < end``, at most ``max_points`` of them.

        The tier is the coarsest one that still holds data at ``start`` and is
        no coarser than the resolution asked for, ``(end - start) /
        (max_points - 1)``, so the result is the same as grouping finer data.
        Rows are grouped into epoch-aligned buckets a whole number of tier
        steps wide, so a wide window returns between half and all of
        ``max_points`` points; bucket tiers return whole buckets.

        Args:
            device: Device name as passed to :meth:`record`.
            var: NUT variable name, or :data:`ON_BATTERY` for outage bands.
            start: Window start, epoch seconds.
            end: Window end (exclusive), epoch seconds.
            max_points: Upper bound on the number of points returned.

        Returns:
            Points in time order; empty for an unknown device or variable.

        Raises:
            ValueError: ``max_points`` is less than 1.
        """
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, not {max_points}")
        if end <= start:
            return []
        ids = self._fetch(
            "SELECT d.id, v.id FROM device d JOIN variable v ON v.device_id = d.id "
            "WHERE d.name = ? AND v.name = ?",
            (device, var),
        )
        if not ids:
            return []
        dev_id, var_id = ids[0]
        need = (end - start) / max(max_points - 1, 1)
        tier = self._pick_tier(start, need)
        width = tier.step_s * max(1, math.ceil(need / tier.step_s))
        query = _Query(dev_id, var_id, start, end, width)
        if tier.table == "raw":
            points = self._raw_series(query, max_points)
        else:
            points = self._bucket_series(query, tier)
        if len(points) > max_points:
            # Only max_points == 1 gets here: alignment may cut the window in two.
            merged = merge_all(Bucket(p.n, p.min, p.avg, p.max) for p in points)
            assert merged is not None
            points = [Point(points[0].t, merged.min, merged.avg, merged.max, merged.n)]
        return points

    def _pick_tier(self, start: float, need: float) -> _Tier:
        now = self._clock.time()
        covering = [tier for tier in self._tiers if start >= now - tier.keep_s]
        if not covering:
            return self._tiers[-1]
        chosen = covering[0]
        for tier in covering[1:]:
            if tier.step_s <= need:
                chosen = tier
        return chosen

    def _raw_series(self, query: _Query, max_points: int) -> list[Point]:
        chunks = self._fetch(
            _RAW_COLUMN, (query.var_id + 1, query.dev_id, query.start - _CHUNK_S, query.end)
        )
        times = _unpack(b"".join(chunk[0] for chunk in chunks))
        values = _unpack(b"".join(chunk[1] for chunk in chunks))
        if not all(map(le, times, islice(times, 1, None))):
            # Readings arrived out of order (the wall clock went back).
            pairs = sorted(zip(times, values, strict=True))
            times, values = array("d", (p[0] for p in pairs)), array("d", (p[1] for p in pairs))
        lo, hi = bisect_left(times, query.start), bisect_left(times, query.end)
        times, values = times[lo:hi], values[lo:hi]
        if math.isnan(math.fsum(values)):
            kept = [(t, x) for t, x in zip(times, values, strict=True) if not math.isnan(x)]
            times, values = array("d", (p[0] for p in kept)), array("d", (p[1] for p in kept))
        if len(times) <= max_points:
            return [Point(t, x, x, x, 1) for t, x in zip(times, values, strict=True)]
        return [
            Point(float(g), b.min, b.avg, b.max, b.n) for g, b in group(times, values, query.width)
        ]

    def _bucket_series(self, query: _Query, tier: _Tier) -> list[Point]:
        params: dict[str, Any] = {
            "dev": query.dev_id,
            "var": query.var_id,
            "lo": bucket_start(query.start, tier.step_s),
            "end": query.end,
        }
        if query.width == tier.step_s:
            rows = self._fetch(_BUCKET_ROWS.format(table=tier.table), params)
            return [Point(float(t), lo, mean, hi, n) for t, lo, mean, hi, n in rows]
        g0 = bucket_start(query.start, query.width)
        count = math.ceil((query.end - g0) / query.width)
        grouped = self._fetch(
            _BUCKET_GROUPED.format(table=tier.table),
            {**params, "g0": g0, "w": query.width, "count": count},
        )
        points = []
        for i, packed in grouped:
            if packed is not None:
                lo, mean, hi, n = packed.split()
                points.append(
                    Point(float(g0 + i * query.width), float(lo), float(mean), float(hi), int(n))
                )
        return points

    def events(
        self,
        device: str | None = None,
        start: float | None = None,
        end: float | None = None,
        kinds: Collection[EventKind] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Stored events, oldest first.

        Args:
            device: Only this device's events.
            start: Only events at or after this time (epoch s).
            end: Only events before this time (epoch s).
            kinds: Only events of these kinds.
            limit: Only the newest ``limit`` events (still returned oldest first).

        Returns:
            The matching events, with their message and data as recorded.
        """
        where: list[str] = []
        params: list[Any] = []
        if device is not None:
            where.append("d.name = ?")
            params.append(device)
        if start is not None:
            where.append("e.t >= ?")
            params.append(start)
        if end is not None:
            where.append("e.t < ?")
            params.append(end)
        if kinds is not None:
            if not kinds:
                return []
            where.append(f"e.kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kind.value for kind in kinds)
        sql = (
            "SELECT e.t, d.name, e.kind, e.message, e.data FROM event e "
            "JOIN device d ON d.id = e.device_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is None:
            rows = self._fetch(sql + " ORDER BY e.t, e.id", params)
        elif limit <= 0:
            return []
        else:
            rows = self._fetch(sql + " ORDER BY e.t DESC, e.id DESC LIMIT ?", [*params, limit])
            rows.reverse()
        return [event for row in rows if (event := _event(*row)) is not None]

    def energy(self, device: str, start: float, end: float) -> list[EnergyDay]:
        """Energy per local calendar day, over the hours whose midpoint is in ``[start, end)``.

        Args:
            device: Device name as passed to :meth:`record`.
            start: Window start, epoch seconds (typically a local midnight).
            end: Window end (exclusive), epoch seconds.

        Returns:
            One row per day and source in day order; a day with both reported
            and estimated energy yields two rows, reported first.
        """
        rows = self._fetch(
            "SELECT e.hour, e.source, e.wh FROM energy e JOIN device d ON d.id = e.device_id "
            "WHERE d.name = ? AND e.hour >= ? AND e.hour < ?",
            (device, start - HOUR_S / 2, end - HOUR_S / 2),
        )
        return group_days((hour, source, wh) for hour, source, wh in rows)

    @property
    def retention(self) -> Retention:
        """How long each tier keeps its data."""
        return self._retention

    def devices(self) -> list[str]:
        """Names of all devices with stored history, sorted."""
        return [name for (name,) in self._fetch("SELECT name FROM device ORDER BY name")]

    def variables(self, device: str) -> list[str]:
        """Names of the variables stored for ``device``, ON_BATTERY included, sorted."""
        rows = self._fetch(
            "SELECT v.name FROM variable v JOIN device d ON d.id = v.device_id "
            "WHERE d.name = ? ORDER BY v.name",
            (device,),
        )
        return [name for (name,) in rows]


def _event(at: float, device: str, kind: str, message: str, data: str) -> Event | None:
    try:
        event_kind = EventKind(kind)
    except ValueError:
        # Written by a newer version that knows more kinds.
        logger.debug("Skipping stored event of unknown kind %r", kind)
        return None
    values: dict[str, Value] = {
        name: value if isinstance(value, str) else float(value)
        for name, value in json.loads(data).items()
    }
    return Event(at, device, event_kind, message, values)
