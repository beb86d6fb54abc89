"""The outbox: envelopes waiting to be sent, one crash-safe file each, one directory per purpose.

Layout under the root directory (privacy-design.md §8.1)::

    outbox/<purpose>/<queued_ms:013d>-<envelope_id>.json   upload purposes, quota-pruned
    control/<queued_ms:013d>-<envelope_id>.json            receipts and deletion requests
    corrupt/<purpose>-<name>                                files that could not be read

A file is written under a ``.tmp`` name in its final directory, synced, renamed
onto its final name and the directory synced, so a queued name always holds a
whole envelope. Names sort by queue time, which makes a directory listing the
queue order. The directory is the truth: several processes may share it (the
CLI withdraws while the agent drains), so every operation re-lists it and
tolerates files that vanish between listing and reading.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from upsight.agent.durable import fsync_dir, replace_file
from upsight.agent.privacy.envelope import Envelope, EnvelopeFormatError
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose

__all__ = [
    "DEFAULT_QUOTA",
    "DELETION_REQUEST_KEY",
    "DropReason",
    "Dropped",
    "Outbox",
    "Queued",
    "Quota",
]

logger = logging.getLogger(__name__)

DELETION_REQUEST_KEY: Final = "deletion.purposes"
"""The data key that marks a control envelope as a deletion request, which a wipe keeps."""

_QUEUE_DIR: Final = "outbox"
_CONTROL_DIR: Final = "control"
_CORRUPT_DIR: Final = "corrupt"
_SUFFIX: Final = ".json"
_TMP_SUFFIX: Final = ".tmp"
# Envelope ids become file names, so only characters that are safe in a name on every OS.
_ID: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
_NAME: Final = re.compile(r"(\d{13})-([0-9A-Za-z][0-9A-Za-z-]{0,63})\.json")
_TMP_NAME: Final = re.compile(r"\..+\.(\d+)\.tmp")


@dataclass(frozen=True)
class Quota:
    """Per-purpose limits of the upload queues (privacy-design.md §8.2); ``control/`` is exempt.

    Attributes:
        max_envelopes: Most envelopes queued for one purpose.
        max_bytes: Most bytes of envelopes queued for one purpose.
        max_age_s: Longest an envelope may wait before it is dropped as expired.
    """

    max_envelopes: int = 500
    max_bytes: int = 50 * 1024 * 1024
    max_age_s: float = 30 * 86400

    def __post_init__(self) -> None:
        if self.max_envelopes < 1 or self.max_bytes < 1 or self.max_age_s <= 0:
            raise ValueError(f"quota limits must be positive: {self}")


DEFAULT_QUOTA: Final = Quota()
"""The quotas of privacy-design.md §8.2: 500 envelopes, 50 MB and 30 days per purpose."""


class DropReason(enum.StrEnum):
    """Why the outbox removed an envelope that was never sent; the value appears in the ledger."""

    QUOTA_COUNT = "quota_count"
    """The purpose had more envelopes queued than its quota allows."""
    QUOTA_BYTES = "quota_bytes"
    """The purpose had more bytes queued than its quota allows."""
    EXPIRED = "expired"
    """The envelope waited longer than the quota's maximum age."""
    CORRUPT = "corrupt"
    """The file could not be read as an envelope of its directory; it was moved to corrupt/."""
    WITHDRAWN = "withdrawn"
    """The user withdrew consent for the purpose."""
    BLOCKED = "blocked"
    """An organisation's policy blocked the purpose."""


@dataclass(frozen=True)
class Dropped:
    """An envelope the outbox removed on its own; the caller records it in the ledger.

    Attributes:
        envelope_id: The id from the file name.
        purpose: The purpose whose directory held it.
        size: Its size in bytes.
        reason: Why it was removed.
        payload: The file's bytes (the envelope's canonical JSON), or None when unreadable.
        detail: A short explanation for the ledger.
    """

    envelope_id: str
    purpose: Purpose
    size: int
    reason: DropReason
    payload: bytes | None
    detail: str


@dataclass(frozen=True)
class Queued:
    """An envelope waiting in the outbox.

    Attributes:
        envelope: The envelope as stored.
        path: Its file; hand the whole value back to :meth:`Outbox.remove`.
        size: Its size in bytes (the canonical JSON).
        queued_at: When it was queued, in seconds since the epoch.
    """

    envelope: Envelope
    path: Path
    size: int
    queued_at: float


@dataclass(frozen=True)
class _Entry:
    """One queued file as listed: its name parts and size (files never change once renamed)."""

    name: str
    queued_ms: int
    envelope_id: str
    size: int


class Outbox:
    """The queues of envelopes waiting to be sent, kept as files under one root directory.

    Thread-safe. Use one instance per root in a process; other processes may share the root.
    """

    def __init__(
        self,
        root: Path,
        *,
        quota: Quota = DEFAULT_QUOTA,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open the outbox under ``root``, creating its directories and removing crash leftovers.

        Args:
            root: The directory holding ``outbox/``, ``control/`` and ``corrupt/``.
            quota: Limits for every upload purpose.
            clock: Seconds since the epoch, replaceable in tests.
        """
        self.root = root
        self.quota = quota
        self._clock = clock
        self._lock = threading.Lock()
        self._index: dict[Purpose, dict[str, _Entry]] = {}
        self._dropped: list[Dropped] = []
        self._last_ms = 0
        # Queued data is personal data: only the owner may list or read it.
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (root / _QUEUE_DIR, root / _CONTROL_DIR, self._corrupt):
            directory.mkdir(mode=0o700, exist_ok=True)
        for purpose in UPLOAD_PURPOSES:
            self._directory(purpose).mkdir(mode=0o700, exist_ok=True)
        for purpose in (Purpose.CONTROL, *UPLOAD_PURPOSES):
            _remove_leftovers(self._directory(purpose))

    @property
    def _corrupt(self) -> Path:
        return self.root / _CORRUPT_DIR

    def _directory(self, purpose: Purpose) -> Path:
        if purpose is Purpose.CONTROL:
            return self.root / _CONTROL_DIR
        if purpose not in UPLOAD_PURPOSES:
            raise ValueError(f"{purpose} is never uploaded, so it has no queue")
        return self.root / _QUEUE_DIR / purpose

    def put(self, envelope: Envelope) -> tuple[Dropped, ...]:
        """Queue ``envelope`` durably, then hold its purpose to the quota by dropping the oldest.

        An upload envelope larger than the whole byte quota is not queued at all; it comes
        back as the only drop, so that one oversized envelope cannot empty the queue.

        Args:
            envelope: An envelope of an upload purpose or of ``control``.

        Returns:
            The envelopes dropped to make room, oldest first, for the caller to record.

        Raises:
            ValueError: The purpose is never uploaded, or the id cannot be a file name.
            OSError: The envelope could not be written; nothing was queued.
        """
        directory = self._directory(envelope.purpose)
        if _ID.fullmatch(envelope.envelope_id) is None:
            raise ValueError(f"envelope id {envelope.envelope_id!r} cannot name a file")
        raw = envelope.encode()
        control = envelope.purpose is Purpose.CONTROL
        with self._lock:
            if not control and len(raw) > self.quota.max_bytes:
                detail = f"{len(raw)} bytes is more than the quota of {self.quota.max_bytes}"
                reason = DropReason.QUOTA_BYTES
                return (
                    Dropped(envelope.envelope_id, envelope.purpose, len(raw), reason, raw, detail),
                )
            # Strictly increasing, so envelopes queued within one millisecond keep their order.
            queued_ms = max(int(self._clock() * 1000), self._last_ms + 1)
            self._last_ms = queued_ms
            name = f"{queued_ms:013d}-{envelope.envelope_id}{_SUFFIX}"
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_atomically(directory / name, raw)
            entries = self._sync(envelope.purpose)
            return () if control else self._enforce_quota(envelope.purpose, entries)

    def pending(self, purposes: Collection[Purpose] | None = None) -> list[Queued]:
        """The envelopes waiting to be sent: control first, then the rest, each oldest first.

        Expired upload envelopes are deleted and unreadable files moved to ``corrupt/`` on
        the way; both are reported once by :meth:`take_dropped`.

        Args:
            purposes: Only these purposes (include ``control`` to get control envelopes);
                None for every queue.
        """
        wanted = [
            p for p in (Purpose.CONTROL, *UPLOAD_PURPOSES) if purposes is None or p in purposes
        ]
        with self._lock:
            now = self._clock()
            control: list[Queued] = []
            uploads: list[Queued] = []
            for purpose in wanted:
                for entry in self._sync(purpose):
                    queued = self._load(purpose, entry, now)
                    if queued is not None:
                        (control if purpose is Purpose.CONTROL else uploads).append(queued)
            uploads.sort(key=lambda q: q.path.name)
            return control + uploads

    def remove(self, queued: Queued) -> None:
        """Delete a queued envelope after it was sent, rejected or dropped; gone already is fine."""
        with self._lock:
            queued.path.unlink(missing_ok=True)
            self._index.get(queued.envelope.purpose, {}).pop(queued.path.name, None)

    def purge(
        self, purpose: Purpose, *, reason: DropReason = DropReason.WITHDRAWN
    ) -> tuple[Dropped, ...]:
        """Delete every queued envelope of an upload purpose, and its quarantined files.

        Control envelopes are never purged: receipts and deletion requests must still flow
        after a withdrawal; only :meth:`wipe` removes them.

        Args:
            purpose: An upload purpose.
            reason: WITHDRAWN for a user's withdrawal, BLOCKED for a policy block.

        Returns:
            What was deleted, oldest first, for the caller to record.

        Raises:
            ValueError: ``purpose`` is not an upload purpose.
        """
        if purpose not in UPLOAD_PURPOSES:
            raise ValueError(f"only upload purposes can be purged, not {purpose}")
        directory = self._directory(purpose)
        with self._lock:
            dropped: list[Dropped] = []
            for entry in self._sync(purpose):
                raw = self._take(purpose, entry)
                if raw is not None:
                    dropped.append(
                        Dropped(entry.envelope_id, purpose, entry.size, reason, raw, "purged")
                    )
            _remove_files(self._corrupt, lambda path: path.name.startswith(f"{purpose}-"))
            if directory.is_dir():
                fsync_dir(directory)
            return tuple(dropped)

    def take_dropped(self) -> tuple[Dropped, ...]:
        """The expired and corrupt envelopes :meth:`pending` removed since the last call."""
        with self._lock:
            dropped, self._dropped = tuple(self._dropped), []
            return dropped

    def counts(self) -> dict[Purpose, tuple[int, int]]:
        """Envelopes and bytes queued for ``control`` and every upload purpose."""
        with self._lock:
            counts: dict[Purpose, tuple[int, int]] = {}
            for purpose in (Purpose.CONTROL, *UPLOAD_PURPOSES):
                entries = self._sync(purpose)
                counts[purpose] = (len(entries), sum(e.size for e in entries))
            return counts

    def wipe(self, *, keep_deletion_requests: bool) -> int:
        """Delete every file of the outbox ("Delete local data", privacy-design.md §12).

        Args:
            keep_deletion_requests: Keep control envelopes that are deletion requests, so
                the cloud copy is still deleted after the local one.

        Returns:
            How many files were deleted.
        """
        with self._lock:
            deleted = 0
            queues = self.root / _QUEUE_DIR
            for directory in sorted(queues.iterdir()) if queues.is_dir() else ():
                if directory.is_dir():
                    deleted += _remove_files(directory, lambda _: True)
            keep = _is_deletion_request if keep_deletion_requests else (lambda _: False)
            deleted += _remove_files(self.root / _CONTROL_DIR, lambda path: not keep(path))
            deleted += _remove_files(self._corrupt, lambda _: True)
            self._index.clear()
            self._dropped.clear()
            return deleted

    def _sync(self, purpose: Purpose) -> list[_Entry]:
        """Bring the purpose's cached index in line with its directory; entries oldest first."""
        directory = self._directory(purpose)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            # Nothing can be queued there either, and put() says why; status still answers.
            names = []
        cached = self._index.get(purpose, {})
        current: dict[str, _Entry] = {}
        for name in sorted(names):
            if not name.endswith(_SUFFIX):
                continue
            entry = cached.get(name)
            if entry is None:
                entry = self._list_entry(purpose, directory / name)
            if entry is not None:
                current[name] = entry
        self._index[purpose] = current
        return list(current.values())

    def _list_entry(self, purpose: Purpose, path: Path) -> _Entry | None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        match = _NAME.fullmatch(path.name)
        if match is None:
            entry = _Entry(path.name, 0, path.name.removesuffix(_SUFFIX), size)
            self._quarantine(purpose, entry, "the file name is not <time>-<envelope id>.json")
            return None
        return _Entry(path.name, int(match[1]), match[2], size)

    def _load(self, purpose: Purpose, entry: _Entry, now: float) -> Queued | None:
        path = self._directory(purpose) / entry.name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self._index[purpose].pop(entry.name, None)
            return None
        try:
            envelope = Envelope.decode(raw)
        except EnvelopeFormatError as exc:
            self._quarantine(purpose, entry, str(exc))
            return None
        # An envelope in the wrong directory would dodge its purpose's withdrawal.
        if envelope.purpose is not purpose or envelope.envelope_id != entry.envelope_id:
            detail = f"holds envelope {envelope.envelope_id} of {envelope.purpose}"
            self._quarantine(purpose, entry, detail)
            return None
        queued_at = entry.queued_ms / 1000
        age_s = now - queued_at
        # Control envelopes never expire: deletion requests are retried until they succeed.
        if purpose is not Purpose.CONTROL and age_s > self.quota.max_age_s:
            if self._unlink(purpose, entry):
                detail = f"queued {age_s / 86400:.1f} days ago"
                self._dropped.append(
                    Dropped(entry.envelope_id, purpose, entry.size, DropReason.EXPIRED, raw, detail)
                )
            return None
        return Queued(envelope, path, entry.size, queued_at)

    def _enforce_quota(self, purpose: Purpose, entries: list[_Entry]) -> tuple[Dropped, ...]:
        count = len(entries)
        total = sum(e.size for e in entries)
        dropped: list[Dropped] = []
        # The envelope just written is the newest, and fits alone, so it is never reached.
        for entry in entries:
            if count > self.quota.max_envelopes:
                reason = DropReason.QUOTA_COUNT
                detail = f"more than {self.quota.max_envelopes} envelopes queued"
            elif total > self.quota.max_bytes:
                reason = DropReason.QUOTA_BYTES
                detail = f"more than {self.quota.max_bytes} bytes queued"
            else:
                break
            raw = self._take(purpose, entry)
            count -= 1
            total -= entry.size
            if raw is not None:
                dropped.append(Dropped(entry.envelope_id, purpose, entry.size, reason, raw, detail))
        return tuple(dropped)

    def _take(self, purpose: Purpose, entry: _Entry) -> bytes | None:
        """Read and delete a queued file; None when another process got there first."""
        try:
            raw = (self._directory(purpose) / entry.name).read_bytes()
        except FileNotFoundError:
            self._index[purpose].pop(entry.name, None)
            return None
        return raw if self._unlink(purpose, entry) else None

    def _unlink(self, purpose: Purpose, entry: _Entry) -> bool:
        """Delete a queued file; False when it was gone already (someone else removed it)."""
        self._index[purpose].pop(entry.name, None)
        try:
            (self._directory(purpose) / entry.name).unlink()
        except FileNotFoundError:
            return False
        return True

    def _quarantine(self, purpose: Purpose, entry: _Entry, problem: str) -> None:
        self._index.get(purpose, {}).pop(entry.name, None)
        target = self._corrupt / f"{purpose}-{entry.name}"
        # Recreated if deleted, so that a missing file below can only mean another process.
        self._corrupt.mkdir(mode=0o700, exist_ok=True)
        try:
            os.replace(self._directory(purpose) / entry.name, target)
        except FileNotFoundError:
            return  # another process moved or removed it, and reports it
        logger.error("Moved unreadable outbox file to %s: %s", target, problem)
        self._dropped.append(
            Dropped(entry.envelope_id, purpose, entry.size, DropReason.CORRUPT, None, problem)
        )


def _write_atomically(path: Path, raw: bytes) -> None:
    """Temporary file in the same directory, fsync, rename, fsync the directory."""
    # The pid in the name tells a later open whether the writer may still be running.
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
    replace_file(path, raw, tmp)


def _remove_leftovers(directory: Path) -> None:
    """Delete temporary files whose writer is gone: a crash interrupted them before the rename."""
    for name in os.listdir(directory):
        if not name.endswith(_TMP_SUFFIX):
            continue
        match = _TMP_NAME.fullmatch(name)
        if match is not None and _process_alive(int(match[1])):
            continue  # another process sharing the outbox is writing it right now
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            continue
        logger.info("Removed %s, left by an interrupted write", directory / name)


def _process_alive(pid: int) -> bool:
    # Imported here: psutil is only needed when a crash left a temporary file behind.
    import psutil

    return bool(psutil.pid_exists(pid))


def _remove_files(directory: Path, chosen: Callable[[Path], bool]) -> int:
    """Delete the chosen files of ``directory``; returns how many this call deleted."""
    try:
        paths = sorted(directory.iterdir())
    except FileNotFoundError:
        return 0
    deleted = 0
    for path in paths:
        if not path.is_file() or not chosen(path):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    fsync_dir(directory)
    return deleted


def _is_deletion_request(path: Path) -> bool:
    if not path.name.endswith(_SUFFIX):
        return False
    try:
        envelope = Envelope.decode(path.read_bytes())
    except (OSError, EnvelopeFormatError):
        return False
    return envelope.purpose is Purpose.CONTROL and DELETION_REQUEST_KEY in envelope.data
