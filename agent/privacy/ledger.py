"""The upload ledger: a local, capped SQLite record of every envelope sent, rejected or dropped.

Schema (version 1): one table ``entry(id, at, purpose, envelope_id, size, result,
detail, fields, payload, payload_bytes)``. ``fields`` is a JSON array of field
ids, ``payload`` the envelope's canonical JSON text exactly as sent or queued
(NULL when the file was unreadable), ``payload_bytes`` its UTF-8 length, which
the size cap counts. Nothing is stored that the envelope does not already hold.

The ledger is what the user reads under "Upload history" (privacy-design.md
§11.4); clearing it deletes only this local copy. Deleted rows are overwritten
(``secure_delete``), so cleared payloads do not linger in free pages.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, TypeVar

from upsight.agent.durable import SQLITE_FILES, keep_aside
from upsight.agent.privacy.envelope import Envelope, EnvelopeFormatError
from upsight.agent.privacy.outbox import Dropped, DropReason
from upsight.agent.privacy.purposes import Purpose

__all__ = ["DROP_RESULTS", "PENDING_MAX_BYTES", "Ledger", "LedgerEntry", "LedgerResult"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1
# Long enough to outlast another process's export or clear holding the write lock.
_BUSY_TIMEOUT_S: Final = 5.0
# Once over the byte cap, prune to this share of it, so the exact total (a full scan)
# is re-read once per tenth of the cap rather than on every insert.
_PRUNE_TO: Final = 0.9
_EXPORT_BATCH: Final = 500
# A file that cannot be opened or written (a full disk, a missing mount) is tried again
# after this long, doubling up to the most; a try is only an open(), but the log need
# not see one a second.
_RETRY_MIN_S: Final = 1.0
_RETRY_MAX_S: Final = 60.0
PENDING_MAX_BYTES: Final = 8 * 1024 * 1024
"""Most payload bytes kept in memory while the file cannot be used (some thousands of
envelopes, days of uploads); beyond it the oldest entries are dropped and counted."""
_CORRUPT_ERRORS: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_COLUMNS: Final = "id, at, purpose, envelope_id, size, result, detail, fields, payload"
_STORED: Final = "at, purpose, envelope_id, size, result, detail, fields, payload, payload_bytes"
_INSERT: Final = f"INSERT INTO entry ({_STORED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_CSV_HEADER: Final = (
    "id",
    "at",
    "time",
    "purpose",
    "envelope_id",
    "size",
    "result",
    "detail",
    "fields",
    "payload",
)

_SCHEMA: Final = f"""
BEGIN;
CREATE TABLE entry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    purpose TEXT NOT NULL,
    envelope_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    fields TEXT NOT NULL,
    payload TEXT,
    payload_bytes INTEGER NOT NULL
);
CREATE INDEX entry_by_time ON entry (at);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


class LedgerResult(enum.StrEnum):
    """What became of an envelope; the value is stored and exported."""

    SENT = "sent"
    SENT_BEFORE_WITHDRAWAL = "sent_before_withdrawal"
    """The bytes had left when the purpose was withdrawn (privacy-design.md §7.4 step 2)."""
    REJECTED = "rejected"
    DROPPED_CONSENT = "dropped_consent"
    """Consent was withdrawn or blocked, or its epoch changed, before the envelope was sent."""
    DROPPED_QUOTA = "dropped_quota"
    DROPPED_EXPIRED = "dropped_expired"
    DROPPED_INVALID = "dropped_invalid"
    """The envelope failed schema validation and was never queued."""
    DROPPED_CORRUPT = "dropped_corrupt"


DROP_RESULTS: Final[Mapping[DropReason, LedgerResult]] = MappingProxyType(
    {
        DropReason.QUOTA_COUNT: LedgerResult.DROPPED_QUOTA,
        DropReason.QUOTA_BYTES: LedgerResult.DROPPED_QUOTA,
        DropReason.EXPIRED: LedgerResult.DROPPED_EXPIRED,
        DropReason.CORRUPT: LedgerResult.DROPPED_CORRUPT,
        DropReason.WITHDRAWN: LedgerResult.DROPPED_CONSENT,
        DropReason.BLOCKED: LedgerResult.DROPPED_CONSENT,
    }
)
"""The ledger result of each reason the outbox drops an envelope for."""


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the upload history.

    Attributes:
        id: Increases with every entry; never reused, even after a clear.
        at: When it was recorded, in seconds since the epoch.
        purpose: The envelope's purpose.
        envelope_id: The envelope's id (its ``Idempotency-Key``).
        size: Bytes of the uncompressed canonical JSON.
        result: What became of it.
        detail: Such as the HTTP status or the drop reason.
        fields: The field ids it carried, sorted.
        payload: The canonical JSON text, or None when it could not be read.
    """

    id: int
    at: float
    purpose: Purpose
    envelope_id: str
    size: int
    result: LedgerResult
    detail: str
    fields: tuple[str, ...]
    payload: str | None

    @property
    def time_utc(self) -> str:
        """``at`` as an ISO 8601 UTC time with milliseconds."""
        stamp = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")

    def to_json(self) -> dict[str, Any]:
        """The entry as exported: the payload embedded as the JSON object it is."""
        return {
            "id": self.id,
            "at": self.at,
            "time": self.time_utc,
            "purpose": str(self.purpose),
            "envelope_id": self.envelope_id,
            "size": self.size,
            "result": str(self.result),
            "detail": self.detail,
            "fields": list(self.fields),
            "payload": None if self.payload is None else json.loads(self.payload),
        }


class _Unusable(Exception):
    """The file opens but is not a healthy ledger of this schema."""


class Ledger:
    """The local record of uploads, capped by age and by payload bytes, oldest pruned first.

    Thread-safe: one connection behind a lock. A corrupt file is moved aside as
    ``<name>.corrupt-<unix time>`` and a fresh one started. A file that cannot be opened
    or written (a full disk) is tried again at later calls, 1 s after the failure and
    doubling up to a minute, while entries are recorded in memory (up to
    :data:`PENDING_MAX_BYTES`); once it opens they are written to it, renumbered after
    its own, and a clear made meanwhile is applied to it first. Until then reads see only
    the entries kept in memory. Each trouble is one log line, and recording goes on.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_age_s: float = 30 * 86400,
        max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        """Open or create the ledger at ``path``.

        Args:
            path: The SQLite file; its directory is created if needed.
            clock: Seconds since the epoch, replaceable in tests.
            max_age_s: Entries older than this are pruned.
            max_bytes: Most payload bytes kept; the oldest entries are pruned beyond it.
        """
        if max_age_s <= 0 or max_bytes < 1:
            raise ValueError("ledger caps must be positive")
        self.path = path
        self._clock = clock
        self._max_age_s = max_age_s
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        # False while the file cannot be used: self._db is then a memory database holding
        # only what was recorded since, to be written to the file once it opens.
        self._attached = True
        self._retry_s = _RETRY_MIN_S
        self._retry_at = 0.0
        self._failures = 0
        self._dropped = 0
        self._clear_pending = False
        self._db = self._open()
        self._bytes, self._oldest = _totals(self._db)

    @property
    def persistent(self) -> bool:
        """False while no file can be used and new entries wait in memory for it."""
        return self._attached

    def record(self, envelope: Envelope, result: LedgerResult, detail: str = "") -> LedgerEntry:
        """Record what became of ``envelope``, with its exact payload.

        Args:
            envelope: The envelope sent, rejected or dropped.
            result: What became of it.
            detail: Such as ``"HTTP 413"``.

        Returns:
            The entry as stored.
        """
        payload = envelope.encode()
        return self._insert(
            purpose=envelope.purpose,
            envelope_id=envelope.envelope_id,
            size=len(payload),
            result=result,
            detail=detail,
            fields=_field_names(envelope),
            payload=payload.decode("utf-8"),
        )

    def record_dropped(self, dropped: Dropped, result: LedgerResult | None = None) -> LedgerEntry:
        """Record an envelope the outbox removed on its own.

        Args:
            dropped: As returned by the outbox.
            result: Overrides the result :data:`DROP_RESULTS` gives the drop reason.

        Returns:
            The entry as stored; its payload is None unless the drop carried an envelope.
        """
        detail = f"{dropped.reason}: {dropped.detail}" if dropped.detail else str(dropped.reason)
        payload: str | None = None
        fields: tuple[str, ...] = ()
        if dropped.payload is not None:
            try:
                envelope = Envelope.decode(dropped.payload)
            except EnvelopeFormatError:
                pass  # not an envelope: there is nothing trustworthy to show
            else:
                payload = dropped.payload.decode("utf-8")
                fields = _field_names(envelope)
        return self._insert(
            purpose=dropped.purpose,
            envelope_id=dropped.envelope_id,
            size=dropped.size,
            result=DROP_RESULTS[dropped.reason] if result is None else result,
            detail=detail,
            fields=fields,
            payload=payload,
        )

    def entries(
        self,
        *,
        purpose: Purpose | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Entries, newest first.

        Args:
            purpose: Only this purpose's entries.
            since: Only entries recorded at or after this time (seconds since the epoch).
            limit: At most this many.
        """
        where: list[str] = []
        params: list[object] = []
        if purpose is not None:
            where.append("purpose = ?")
            params.append(str(purpose))
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        sql = f"SELECT {_COLUMNS} FROM entry"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._run(lambda db: db.execute(sql, params).fetchall())
        return [_entry(row) for row in rows]

    def last_sent(self) -> dict[Purpose, float]:
        """When each purpose last had an envelope sent, for purposes that have one."""
        sql = "SELECT purpose, MAX(at) FROM entry WHERE result IN (?, ?) GROUP BY purpose"
        params = (LedgerResult.SENT, LedgerResult.SENT_BEFORE_WITHDRAWAL)
        with self._lock:
            rows = self._run(lambda db: db.execute(sql, params).fetchall())
        return {Purpose(purpose): at for purpose, at in rows}

    def export_json(self, out: IO[str]) -> int:
        """Write every entry, oldest first, as a JSON list of objects with embedded payloads.

        Returns:
            How many entries were written.
        """
        count = 0
        out.write("[")
        for entry in self._all():
            out.write(",\n" if count else "\n")
            out.write(json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=True))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count

    def export_csv(self, out: IO[str]) -> int:
        """Write every entry, oldest first, as CSV with a header; the payload is JSON text.

        Open ``out`` with ``newline=""``, as the csv module asks.

        Returns:
            How many entries were written (the header not counted).
        """
        writer = csv.writer(out)
        writer.writerow(_CSV_HEADER)
        count = 0
        for entry in self._all():
            writer.writerow(
                (
                    entry.id,
                    repr(entry.at),
                    entry.time_utc,
                    entry.purpose,
                    entry.envelope_id,
                    entry.size,
                    entry.result,
                    entry.detail,
                    " ".join(entry.fields),
                    "" if entry.payload is None else entry.payload,
                )
            )
            count += 1
        return count

    def clear(self) -> int:
        """Delete every local entry; nothing is asked of the cloud.

        If the file cannot be used now, what is kept in memory is deleted and the file's
        entries are deleted once it opens; the count is then only of the former.

        Returns:
            How many entries were deleted.
        """
        with self._lock:
            deleted = self._run(_delete_all)
            if not self._attached:
                self._clear_pending = True
            self._bytes, self._oldest = 0, None
            return deleted

    def close(self) -> None:
        """Close the database, writing what memory holds if the file opens at this last try."""
        with self._lock:
            if not self._attached:
                self._reattach(force=True)
            if not self._attached:
                (kept,) = self._db.execute("SELECT COUNT(*) FROM entry").fetchone()
                logger.error("Upload ledger %s closed with %d entries unwritten", self.path, kept)
            self._db.close()

    # -- writing -------------------------------------------------------------

    def _insert(
        self,
        *,
        purpose: Purpose,
        envelope_id: str,
        size: int,
        result: LedgerResult,
        detail: str,
        fields: tuple[str, ...],
        payload: str | None,
    ) -> LedgerEntry:
        payload_bytes = 0 if payload is None else len(payload.encode("utf-8"))
        with self._lock:
            at = self._clock()
            row = (
                at,
                str(purpose),
                envelope_id,
                size,
                str(result),
                detail,
                json.dumps(fields),
                payload,
                payload_bytes,
            )

            def insert(db: sqlite3.Connection) -> int:
                db.execute("BEGIN IMMEDIATE")
                try:
                    new_id = db.execute(_INSERT, row).lastrowid
                    assert new_id is not None  # an INSERT always sets it
                    first = at if self._oldest is None else min(self._oldest, at)
                    total = self._bytes + payload_bytes
                    cap = self._max_bytes
                    # Read here, not before: a failed write reruns this in memory.
                    if not self._attached:
                        cap = min(cap, PENDING_MAX_BYTES)
                    total, oldest, dropped = self._prune(db, new_id, at, total, first, cap=cap)
                    db.execute("COMMIT")
                except BaseException:
                    # A broken database may refuse the rollback too; the first error matters.
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                self._bytes, self._oldest = total, oldest
                if not self._attached:
                    self._count_dropped(dropped)
                return new_id

            entry_id = self._run(insert)
        return LedgerEntry(
            entry_id, at, purpose, envelope_id, size, result, detail, fields, payload
        )

    def _prune(
        self,
        db: sqlite3.Connection,
        new_id: int,
        now: float,
        total: int,
        oldest: float | None,
        *,
        cap: int,
    ) -> tuple[int, float | None, int]:
        """Drop entries past the age cap, then the oldest while past ``cap`` payload bytes.

        Returns:
            The payload bytes and the oldest time left, and how many the byte cap dropped.
        """
        cutoff = now - self._max_age_s
        if oldest is not None and oldest < cutoff:
            (removed,) = db.execute(
                "SELECT COALESCE(SUM(payload_bytes), 0) FROM entry WHERE at < ?", (cutoff,)
            ).fetchone()
            db.execute("DELETE FROM entry WHERE at < ?", (cutoff,))
            total -= removed
            (oldest,) = db.execute("SELECT MIN(at) FROM entry").fetchone()
        if total <= cap:
            return total, oldest, 0
        # Another process may have cleared or pruned since the total was counted.
        total, oldest = _totals(db)
        if total <= cap:
            return total, oldest, 0
        excess = total - int(cap * _PRUNE_TO)
        removed = 0
        last: tuple[float, int] | None = None
        cursor = db.execute("SELECT id, at, payload_bytes FROM entry ORDER BY at, id")
        for entry_id, at, size in cursor:
            if removed >= excess or entry_id == new_id:
                break  # the entry being recorded is kept even if it alone is over the cap
            removed += size
            last = (at, entry_id)
        cursor.close()
        if last is None:
            return total, oldest, 0
        dropped = db.execute(
            "DELETE FROM entry WHERE (at < ? OR (at = ? AND id <= ?)) AND id != ?",
            (last[0], last[0], last[1], new_id),
        ).rowcount
        return (*_totals(db), dropped)

    def _count_dropped(self, dropped: int) -> None:
        if dropped and not self._dropped:
            logger.warning(
                "Upload ledger memory is full while %s cannot be used; dropping the oldest",
                self.path,
            )
        self._dropped += dropped

    # -- reading -------------------------------------------------------------

    def _all(self) -> Iterator[LedgerEntry]:
        """Every entry, oldest first, fetched in batches so recording is not held up."""
        after = 0
        while True:
            with self._lock:
                rows = self._run(functools.partial(_rows_after, after=after))
            if not rows:
                return
            yield from (_entry(row) for row in rows)
            after = rows[-1][0]

    # -- opening and recovery ------------------------------------------------

    def _run(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``action``; if the database turns out broken, replace it and run it again."""
        if not self._attached:
            self._reattach()
        try:
            return action(self._db)
        except sqlite3.DatabaseError as exc:
            if not self._attached:
                raise  # the memory database itself failed: nothing better to fall back to
            self._db.close()
            if _is_corrupt(exc):
                logger.error("Upload ledger %s is corrupt: %s", self.path, exc)
                self._db = self._reopen_after_corruption()
            else:
                self._db = self._detach("Cannot write upload ledger", exc)
            self._bytes, self._oldest = _totals(self._db)
        return action(self._db)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._open_usable()
        except (sqlite3.Error, OSError, _Unusable) as exc:
            return self._detach("Cannot open upload ledger", exc)

    def _open_usable(self) -> sqlite3.Connection:
        """The file's connection; a corrupt or foreign file is moved aside for a new one."""
        try:
            return self._open_file()
        except _Unusable as exc:
            logger.error("Upload ledger %s cannot be used: %s", self.path, exc)
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            logger.error("Upload ledger %s is corrupt: %s", self.path, exc)
        self._move_aside()
        return self._open_file()

    def _reopen_after_corruption(self) -> sqlite3.Connection:
        try:
            self._move_aside()
            return self._open_file()
        except (sqlite3.Error, OSError, _Unusable) as exc:
            return self._detach("Cannot open upload ledger", exc)

    def _open_file(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(str(self.path))
        try:
            db.execute("PRAGMA journal_mode = WAL")
            # Every upload is recorded before the next is attempted; FULL keeps a sent
            # envelope's row through a power loss.
            db.execute("PRAGMA synchronous = FULL")
            _configure(db)
            (check,) = db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise _Unusable(f"integrity check: {check}")
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version == 0:
                db.executescript(_SCHEMA)
            elif version != SCHEMA_VERSION:
                raise _Unusable(f"schema version {version} is not {SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    def _detach(self, trouble: str, exc: BaseException) -> sqlite3.Connection:
        """A memory database for what is recorded until the file can be used again."""
        logger.error(
            "%s %s (%s); recording uploads in memory and retrying",
            trouble,
            self.path,
            _reason(exc),
        )
        self._attached = False
        self._failures, self._dropped = 1, 0
        self._retry_s = _RETRY_MIN_S
        self._retry_at = self._clock() + self._retry_s
        db = _connect(":memory:")
        _configure(db)
        db.executescript(_SCHEMA)
        return db

    def _reattach(self, *, force: bool = False) -> None:
        """Open the file once the backoff allows, and write what memory holds into it."""
        now = self._clock()
        # A clock set back by more than the wait would otherwise put the next try far off.
        if not force and self._retry_at - self._retry_s <= now < self._retry_at:
            return
        try:
            db = self._open_usable()
        except (sqlite3.Error, OSError, _Unusable) as exc:
            self._still_failing(exc, now)
            return
        try:
            written = self._write_back(db, now)
        except sqlite3.Error as exc:
            db.close()
            self._still_failing(exc, now)
            return
        self._db.close()
        self._db, self._attached = db, True
        self._bytes, self._oldest = _totals(db)
        logger.warning(
            "Upload ledger %s resumed after %d failed attempts; %d entries kept in memory"
            " were written to it, %d dropped",
            self.path,
            self._failures,
            written,
            self._dropped,
        )
        self._failures = self._dropped = 0
        self._clear_pending = False

    def _still_failing(self, exc: BaseException, now: float) -> None:
        self._failures += 1
        self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)
        self._retry_at = now + self._retry_s
        logger.debug(
            "Upload ledger %s still cannot be used (%d): %s", self.path, self._failures, exc
        )

    def _write_back(self, db: sqlite3.Connection, now: float) -> int:
        """Copy the memory database's entries into the file, oldest first, then apply its caps.

        Returns:
            How many entries were written.
        """
        rows = self._db.execute(f"SELECT {_STORED} FROM entry ORDER BY id").fetchall()
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._clear_pending:
                db.execute("DELETE FROM entry")
            db.executemany(_INSERT, rows)
            (last,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM entry").fetchone()
            self._prune(db, last, now, *_totals(db), cap=self._max_bytes)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        if self._clear_pending:
            # As in a clear: the WAL must not keep the deleted rows' pages.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(rows)

    def _move_aside(self) -> None:
        aside = keep_aside(self.path, str(int(self._clock())), SQLITE_FILES)
        logger.error("Moved corrupt upload ledger %s to %s; starting afresh", self.path, aside)


def _connect(target: str) -> sqlite3.Connection:
    # Autocommit mode: writes issue BEGIN/COMMIT themselves, one transaction each.
    return sqlite3.connect(
        target, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )


def _configure(db: sqlite3.Connection) -> None:
    # Deleted payloads are overwritten, so a clear or prune leaves nothing in free pages.
    db.execute("PRAGMA secure_delete = ON")


def _delete_all(db: sqlite3.Connection) -> int:
    deleted = db.execute("DELETE FROM entry").rowcount
    # The WAL still holds the deleted rows' pages until it is checkpointed and truncated.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return deleted


def _rows_after(db: sqlite3.Connection, *, after: int) -> list[tuple[Any, ...]]:
    return db.execute(
        f"SELECT {_COLUMNS} FROM entry WHERE id > ? ORDER BY id LIMIT ?", (after, _EXPORT_BATCH)
    ).fetchall()


def _totals(db: sqlite3.Connection) -> tuple[int, float | None]:
    total, oldest = db.execute(
        "SELECT COALESCE(SUM(payload_bytes), 0), MIN(at) FROM entry"
    ).fetchone()
    return int(total), oldest


def _reason(exc: BaseException) -> str:
    """The OS's or SQLite's words for what failed, without Python's errno prefix."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _CORRUPT_ERRORS


def _field_names(envelope: Envelope) -> tuple[str, ...]:
    return tuple(sorted({*envelope.client, *envelope.data}))


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    entry_id, at, purpose, envelope_id, size, result, detail, fields, payload = row
    return LedgerEntry(
        entry_id,
        at,
        Purpose(purpose),
        envelope_id,
        size,
        LedgerResult(result),
        detail,
        tuple(json.loads(fields)),
        payload,
    )
