"""The consent store: each purpose's current choice in consent.json, its history in a hash chain."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypeVar

from upsight.agent import __version__
from upsight.agent.durable import fsync_dir, keep_aside, replace_file
from upsight.agent.privacy.purposes import (
    ORG_GRANTABLE,
    PURPOSES,
    UPLOAD_PURPOSES,
    Purpose,
    prompt_versions,
)
from upsight.drivers.errors import UpsError

log = logging.getLogger(__name__)

SCHEMA: Final = "upsight.consent/1"
CONSENT_FILE: Final = "consent.json"
LOG_FILE: Final = "consent_log.jsonl"
LOCK_FILE: Final = "consent.lock"
GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of the first log entry."""
MIN_KEY_BYTES: Final = 16

_E = TypeVar("_E", bound=enum.StrEnum)


class ConsentState(enum.StrEnum):
    """A purpose's consent; only ``granted`` lets anything be uploaded."""

    GRANTED = "granted"
    DENIED = "denied"
    UNDETERMINED = "undetermined"


class Source(enum.StrEnum):
    """Whose decision a record holds."""

    USER = "user"
    ORG_POLICY = "org_policy"


class Surface(enum.StrEnum):
    """Where the decision was made."""

    FIRST_RUN_DIALOG = "first_run_dialog"
    SETTINGS_PANEL = "settings_panel"
    CLI = "cli"
    MSI_PRESET = "msi_preset"
    POLICY = "policy"


_USER_SURFACES: Final = frozenset({Surface.FIRST_RUN_DIALOG, Surface.SETTINGS_PANEL, Surface.CLI})


class ConsentError(UpsError):
    """A consent change was refused: wrong purpose, actor, surface or sub-toggle."""


class ConsentStoreError(UpsError):
    """The consent store cannot be read or trusted, so every upload purpose reads as off.

    Attributes:
        path: The file at fault.
        problem: What is wrong with it.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"{path}: {problem}. Nothing is uploaded until privacy choices are reset; "
            "the damaged file is then kept beside it"
        )


@dataclass(frozen=True)
class LocalUser:
    """An interactive user of this computer, as the local API identified them.

    Attributes:
        uid: The numeric uid (POSIX) or SID (Windows). Only a keyed hash of it is stored.
    """

    uid: int | str

    @classmethod
    def current(cls) -> LocalUser:
        """The user running this process (uid on POSIX, login name elsewhere)."""
        return cls(os.getuid() if hasattr(os, "getuid") else os.getlogin())


@dataclass(frozen=True)
class OrgPolicy:
    """An organisation's policy or install-time preset.

    Attributes:
        ref: Where it came from, e.g. ``HKLM\\SOFTWARE\\Policies\\Upsight``.
    """

    ref: str


Actor: TypeAlias = LocalUser | OrgPolicy


@dataclass(frozen=True)
class DecidedBy:
    """Who made a decision, as stored: a keyed hash of a local user, or a policy reference.

    Attributes:
        kind: ``local_user`` or ``policy``.
        id_hmac: HMAC-SHA256 of the user's uid or SID (``local_user`` only).
        ref: The policy source (``policy`` only).
    """

    kind: str
    id_hmac: str | None = None
    ref: str | None = None

    def to_json(self) -> dict[str, str]:
        """The JSON object stored in ``decided_by``."""
        if self.kind == "policy":
            return {"kind": "policy", "ref": self.ref or ""}
        return {"kind": "local_user", "id_hmac": self.id_hmac or ""}


@dataclass(frozen=True)
class Notice:
    """The privacy notice in force.

    Attributes:
        id: Which notice, e.g. ``privacy-notice``.
        version: Its version, e.g. ``2026-09-01``.
        sha256: Hash of the exact text shown.
        locale: Language of that text.
    """

    id: str
    version: str
    sha256: str
    locale: str


@dataclass(frozen=True)
class CurrentVersions:
    """What this build would ask today; a choice made under other versions must be asked again.

    Attributes:
        notice: The privacy notice shown.
        inventory_version: ``inventory_version`` of the loaded inventory.
        app_version: Upsight's version, recorded with each decision.
        prompt_versions: Every upload purpose's current prompt version.
    """

    notice: Notice
    inventory_version: int
    app_version: str = __version__
    prompt_versions: Mapping[Purpose, int] = field(default_factory=prompt_versions)


@dataclass(frozen=True)
class PurposeRecord:
    """One purpose's entry in ``consent.json``: the stored choice, not the effective one.

    Attributes:
        stored: The recorded choice.
        epoch: Increases each time the purpose stops being granted (or a sub-toggle is
            switched off), so envelopes queued under an earlier grant are never sent.
        source: Whose decision it was, or None if never decided.
        decided_at: UTC time of the decision, ``YYYY-MM-DDTHH:MM:SSZ``.
        decided_by: Who decided.
        surface: Where.
        prompt_version: The prompt version answered.
        inventory_version: The inventory version in force then.
        app_version: The Upsight version that recorded it.
        subtoggles: Switches inside the purpose; absent means off.
    """

    stored: ConsentState = ConsentState.UNDETERMINED
    epoch: int = 0
    source: Source | None = None
    decided_at: str | None = None
    decided_by: DecidedBy | None = None
    surface: Surface | None = None
    prompt_version: int | None = None
    inventory_version: int | None = None
    app_version: str | None = None
    subtoggles: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PurposeConsent:
    """What the consent store says about a purpose right now.

    Attributes:
        purpose: The purpose.
        state: The choice that counts: the stored one, unless it was made under an older
            prompt or inventory version or the store is broken, when it is ``undetermined``.
        stored: The choice as recorded.
        epoch: The current epoch; an envelope carrying another may not be sent.
        reason: Why ``state`` differs from ``stored``, or empty.
        record: The full stored record.
    """

    purpose: Purpose
    state: ConsentState
    stored: ConsentState
    epoch: int
    reason: str
    record: PurposeRecord

    @property
    def granted(self) -> bool:
        """Whether the user (or their organisation) currently allows uploads for the purpose."""
        return self.state is ConsentState.GRANTED


@dataclass(frozen=True)
class LogEntry:
    """One line of ``consent_log.jsonl``.

    Attributes:
        seq: 1 for the first line, then consecutive.
        ts: UTC time, ``YYYY-MM-DDTHH:MM:SSZ``.
        purpose: The purpose changed, or None for a store-wide reset after recovery.
        from_state: The stored choice before, or None when it could not be known.
        to_state: The stored choice after.
        source: Whose decision.
        surface: Where it was made.
        notice_version: The privacy notice in force.
        prompt_version: The prompt version answered (None for a store-wide line).
        inventory_version: The inventory version in force.
        app_version: The Upsight version that wrote the line.
        decided_by: Who decided.
        epoch: The purpose's epoch after the change (None for a store-wide line).
        subtoggle: ``(id, on)`` when the line records a sub-toggle switch, else None.
        note: Free explanation for unusual lines (recovery), else None.
        prev_hash: ``hash`` of the previous line, or :data:`GENESIS_HASH`.
        hash: SHA-256 of this line's canonical JSON without ``hash``.
    """

    seq: int
    ts: str
    purpose: Purpose | None
    from_state: ConsentState | None
    to_state: ConsentState
    source: Source
    surface: Surface
    notice_version: str
    prompt_version: int | None
    inventory_version: int
    app_version: str
    decided_by: DecidedBy
    epoch: int | None
    subtoggle: tuple[str, bool] | None
    note: str | None
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The line's JSON object without ``hash``, in the order the spec lists the keys."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "purpose": self.purpose and str(self.purpose),
            "from": self.from_state and str(self.from_state),
            "to": str(self.to_state),
            "source": str(self.source),
            "surface": str(self.surface),
            "notice_version": self.notice_version,
            "prompt_version": self.prompt_version,
            "inventory_version": self.inventory_version,
            "app_version": self.app_version,
            "decided_by": self.decided_by.to_json(),
            "epoch": self.epoch,
            "subtoggle": (
                {"id": self.subtoggle[0], "on": self.subtoggle[1]} if self.subtoggle else None
            ),
            "note": self.note,
            "prev_hash": self.prev_hash,
        }

    def to_json(self) -> dict[str, Any]:
        """The line's full JSON object."""
        return {**self.body(), "hash": self.hash}


def entry_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of a log line's canonical JSON (sorted keys, no spaces, UTF-8), ``hash`` excluded."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LogReport:
    """The result of checking the consent history.

    Attributes:
        ok: The chain is intact and ends where ``consent.json`` says it does.
        entries: Complete lines read.
        problem: What is wrong, naming the file and line, or None.
    """

    ok: bool
    entries: int
    problem: str | None = None


@dataclass(frozen=True)
class _State:
    """Everything in ``consent.json``."""

    install_id: str
    previous_install_ids: tuple[str, ...]
    notice: Notice | None
    purposes: Mapping[Purpose, PurposeRecord]
    last_entry: LogEntry | None

    @classmethod
    def fresh(cls, install_id: str | None = None) -> _State:
        return cls(install_id or str(uuid.uuid4()), (), None, MappingProxyType({}), None)

    def record(self, purpose: Purpose) -> PurposeRecord:
        return self.purposes.get(purpose, PurposeRecord())


class ConsentStore:
    """Consent for every upload purpose, kept in ``consent.json`` plus ``consent_log.jsonl``.

    Every change appends one hash-chained line to the log and rewrites ``consent.json``
    atomically; the rename of ``consent.json`` is the commit point, and it embeds the
    line it commits so a log append cut short by a crash is completed on the next load.
    A store that cannot be read, or whose two files disagree, reads as "nothing granted"
    and reports a :class:`ConsentStoreError`; it is never silently replaced.

    Safe to use from several threads; a lock file serialises processes.
    """

    def __init__(
        self,
        directory: Path,
        *,
        id_key: bytes,
        versions: CurrentVersions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open the store in ``directory``; nothing is written until a decision is recorded.

        Args:
            directory: Where ``consent.json`` and ``consent_log.jsonl`` live.
            id_key: Secret key for the HMAC of local users' ids (the install secret).
            versions: The notice, prompt and inventory versions this build shows.
            clock: Seconds since the epoch, replaceable in tests.

        Raises:
            ValueError: ``id_key`` is shorter than 16 bytes or ``versions`` misses a purpose.
        """
        if len(id_key) < MIN_KEY_BYTES:
            raise ValueError(f"id_key must be at least {MIN_KEY_BYTES} bytes")
        missing = set(UPLOAD_PURPOSES) - set(versions.prompt_versions)
        if missing:
            raise ValueError(f"versions.prompt_versions lacks {sorted(missing)}")
        self.directory = directory
        self.consent_file = directory / CONSENT_FILE
        self.log_file = directory / LOG_FILE
        self._lock_file = directory / LOCK_FILE
        self._key = id_key
        self._versions = versions
        self._clock = clock
        self._mutex = threading.RLock()
        self._state: _State = _State.fresh()
        self._error: ConsentStoreError | None = None
        self._signature: tuple[object, ...] | None = None
        with self._mutex, self._locked():
            self._reload()

    # --- Reading ---------------------------------------------------------------------

    @property
    def error(self) -> ConsentStoreError | None:
        """Why the store is failing closed, or None when it is healthy."""
        with self._mutex:
            self._refresh()
            return self._error

    @property
    def install_id(self) -> str:
        """The install's random id (``client.install_id``).

        Raises:
            ConsentStoreError: The store is broken, so the id is unknown.
        """
        with self._mutex:
            self._refresh()
            if self._error is not None:
                raise self._error
            return self._state.install_id

    @property
    def previous_install_ids(self) -> tuple[str, ...]:
        """Ids this install used before, oldest first, for deletion requests."""
        with self._mutex:
            self._refresh()
            return () if self._error else self._state.previous_install_ids

    def consent(self, purpose: Purpose) -> PurposeConsent:
        """The store's view of one upload purpose (policy is applied elsewhere).

        Raises:
            ConsentError: ``purpose`` is not a consent choice (``local`` or ``control``).
        """
        _check_upload(purpose)
        with self._mutex:
            self._refresh()
            return self._view(purpose)

    def is_granted(self, purpose: Purpose) -> bool:
        """Whether the store allows uploads for ``purpose`` now; False while it is broken."""
        return self.consent(purpose).granted

    def snapshot(self) -> dict[Purpose, PurposeConsent]:
        """Every upload purpose's view, read consistently."""
        with self._mutex:
            self._refresh()
            return {p: self._view(p) for p in UPLOAD_PURPOSES}

    def subtoggle(self, purpose: Purpose, subtoggle_id: str) -> bool:
        """Whether a sub-toggle is on; always False unless the purpose is granted.

        Raises:
            ConsentError: The purpose has no such sub-toggle.
        """
        _check_subtoggle(purpose, subtoggle_id)
        view = self.consent(purpose)
        return view.granted and view.record.subtoggles.get(subtoggle_id, False)

    def history(self) -> tuple[LogEntry, ...]:
        """Every line of the consent log, oldest first.

        Raises:
            ConsentStoreError: The log cannot be read or its chain is broken.
        """
        with self._mutex, self._locked():
            entries, torn = _read_log(self.log_file)
            if torn:
                raise ConsentStoreError(self.log_file, "the last line is incomplete")
            return tuple(entries)

    def verify_log(self) -> LogReport:
        """Check the hash chain and that it ends at the change ``consent.json`` records.

        Never raises; a problem is reported in the result.
        """
        with self._mutex, self._locked():
            try:
                entries, torn = _read_log(self.log_file)
            except ConsentStoreError as exc:
                return LogReport(False, 0, str(exc))
            if torn:
                return LogReport(False, len(entries), f"{self.log_file}: last line incomplete")
            try:
                state = _read_state(self.consent_file)
            except ConsentStoreError as exc:
                return LogReport(False, len(entries), str(exc))
            last = state.last_entry if state else None
            tail = entries[-1] if entries else None
            if (last and last.hash) != (tail and tail.hash):
                where = f"seq {last.seq}" if last else "no change"
                return LogReport(
                    False,
                    len(entries),
                    f"{self.log_file} does not end at the change {self.consent_file} "
                    f"records ({where})",
                )
            return LogReport(True, len(entries))

    # --- Changing --------------------------------------------------------------------

    def grant(self, purpose: Purpose, *, actor: Actor, surface: Surface) -> LogEntry | None:
        """Record that uploads for ``purpose`` are allowed.

        An organisation may grant only org-grantable purposes. Granting again under the
        same versions and source changes nothing.

        Returns:
            The log line written (the content of the consent receipt), or None if nothing
            changed.

        Raises:
            ConsentError: Not a consent choice, an organisation granting a purpose only the
                user may grant, or an actor on the wrong surface.
            ConsentStoreError: The store is broken; nothing is granted until it is reset
                with :meth:`recover`.
        """
        source = _check_actor(purpose, actor, surface)
        if isinstance(actor, OrgPolicy) and purpose not in ORG_GRANTABLE:
            raise ConsentError(f"an organisation cannot grant {purpose}; only the user can")

        def change(view: PurposeConsent) -> PurposeRecord | None:
            if view.granted and view.record.source is source:
                return None
            return self._decided(view, ConsentState.GRANTED, source, actor, surface)

        return self._write(purpose, change, actor, surface, reduces=False)

    def withdraw(self, purpose: Purpose, *, actor: Actor, surface: Surface) -> LogEntry | None:
        """Record that uploads for ``purpose`` are not allowed (the "Don't allow" answer too).

        Always possible, even while the store is broken: the damaged file is kept aside
        and the store restarted first (see :meth:`recover`).

        Returns:
            The log line written, or None if the purpose was already denied.

        Raises:
            ConsentError: Not a consent choice, or an actor on the wrong surface.
        """
        source = _check_actor(purpose, actor, surface)

        def change(view: PurposeConsent) -> PurposeRecord | None:
            if view.state is ConsentState.DENIED:
                return None
            return self._decided(view, ConsentState.DENIED, source, actor, surface)

        return self._write(purpose, change, actor, surface, reduces=True)

    def reset(self, purpose: Purpose, *, actor: Actor, surface: Surface) -> LogEntry | None:
        """Forget the choice for ``purpose``: it becomes undetermined (off) and is asked again.

        Returns:
            The log line written, or None if it was already undetermined.

        Raises:
            ConsentError: Not a consent choice, or an actor on the wrong surface.
        """
        source = _check_actor(purpose, actor, surface)

        def change(view: PurposeConsent) -> PurposeRecord | None:
            if view.stored is ConsentState.UNDETERMINED:
                return None
            return self._decided(view, ConsentState.UNDETERMINED, source, actor, surface)

        return self._write(purpose, change, actor, surface, reduces=True)

    def set_subtoggle(
        self, purpose: Purpose, subtoggle_id: str, on: bool, *, actor: Actor, surface: Surface
    ) -> LogEntry | None:
        """Switch a sub-toggle, such as sending the serial number in clear.

        Only the user can switch one on, and only while the purpose is granted. Switching
        one off starts a new epoch, so queued envelopes holding the clear value are dropped.

        Returns:
            The log line written, or None if the switch was already in that position.

        Raises:
            ConsentError: Unknown sub-toggle, an organisation switching one on, or the
                purpose not granted.
            ConsentStoreError: Switching on while the store is broken.
        """
        _check_subtoggle(purpose, subtoggle_id)
        _check_actor(purpose, actor, surface)
        if on and isinstance(actor, OrgPolicy):
            raise ConsentError(f"only the user can switch on {subtoggle_id}")

        def change(view: PurposeConsent) -> PurposeRecord | None:
            current = view.record.subtoggles.get(subtoggle_id, False)
            if current == on:
                return None
            if on and not view.granted:
                raise ConsentError(f"grant {purpose} before switching on {subtoggle_id}")
            toggles = {**view.record.subtoggles, subtoggle_id: on}
            epoch = view.epoch + (0 if on else 1)
            return replace(view.record, epoch=epoch, subtoggles=MappingProxyType(toggles))

        return self._write(
            purpose, change, actor, surface, reduces=not on, subtoggle=(subtoggle_id, on)
        )

    def rotate_install_id(self) -> str:
        """Replace the install id with a new random one, keeping the old for deletion requests.

        Returns:
            The new id.

        Raises:
            ConsentStoreError: The store is broken or cannot be written.
        """
        with self._mutex, self._locked(create=True):
            self._reload()
            if self._error is not None:
                raise self._error
            old = self._state
            state = replace(
                old,
                install_id=str(uuid.uuid4()),
                previous_install_ids=(*old.previous_install_ids, old.install_id),
            )
            self._save(state)
            return state.install_id

    def recover(self, *, actor: Actor, surface: Surface) -> tuple[Path, ...]:
        """Reset a broken store: keep its files aside and start again with nothing granted.

        Every purpose becomes undetermined. Epochs continue above any value still legible
        in the damaged files; where none is, the caller should also empty the outbox.

        Returns:
            Where the damaged files were moved; empty if the store was healthy.

        Raises:
            ConsentStoreError: The directory cannot be written.
        """
        with self._mutex, self._locked(create=True):
            self._reload()
            if self._error is None:
                return ()
            return self._recover_locked(actor, surface)

    # --- Internals -------------------------------------------------------------------

    def _view(self, purpose: Purpose) -> PurposeConsent:
        if self._error is not None:
            return PurposeConsent(
                purpose,
                ConsentState.UNDETERMINED,
                ConsentState.UNDETERMINED,
                0,
                str(self._error),
                PurposeRecord(),
            )
        record = self._state.record(purpose)
        reason = self._stale_reason(purpose, record)
        state = ConsentState.UNDETERMINED if reason else record.stored
        return PurposeConsent(purpose, state, record.stored, record.epoch, reason, record)

    def _stale_reason(self, purpose: Purpose, record: PurposeRecord) -> str:
        # Re-consent: a choice counts only under the wording and inventory it answered.
        if record.stored is ConsentState.UNDETERMINED:
            return ""
        prompt = self._versions.prompt_versions[purpose]
        if record.prompt_version != prompt:
            return f"answered prompt version {record.prompt_version}; the current one is {prompt}"
        inventory = self._versions.inventory_version
        if record.inventory_version != inventory:
            return (
                f"answered under inventory version {record.inventory_version}; "
                f"the current one is {inventory}"
            )
        return ""

    def _decided(
        self,
        view: PurposeConsent,
        to: ConsentState,
        source: Source,
        actor: Actor,
        surface: Surface,
    ) -> PurposeRecord:
        # A new epoch whenever a grant ends, including one that had silently lapsed
        # through a version change, so nothing queued under it goes out under the next.
        grant_ends = view.stored is ConsentState.GRANTED and (
            to is not ConsentState.GRANTED or not view.granted
        )
        keep_toggles = view.granted and to is ConsentState.GRANTED
        return PurposeRecord(
            stored=to,
            epoch=view.epoch + (1 if grant_ends else 0),
            source=source,
            decided_at=self._now(),
            decided_by=self._decided_by(actor),
            surface=surface,
            prompt_version=self._versions.prompt_versions[view.purpose],
            inventory_version=self._versions.inventory_version,
            app_version=self._versions.app_version,
            subtoggles=view.record.subtoggles if keep_toggles else MappingProxyType({}),
        )

    def _write(
        self,
        purpose: Purpose,
        change: Callable[[PurposeConsent], PurposeRecord | None],
        actor: Actor,
        surface: Surface,
        *,
        reduces: bool,
        subtoggle: tuple[str, bool] | None = None,
    ) -> LogEntry | None:
        with self._mutex, self._locked(create=True):
            self._reload()
            if self._error is not None:
                if not reduces:
                    raise self._error
                # Withdrawing must never be harder than granting, even with a broken store.
                self._recover_locked(actor, surface)
            view = self._view(purpose)
            record = change(view)
            if record is None:
                return None
            entry = self._entry(
                purpose=purpose,
                from_state=view.stored,
                to_state=record.stored,
                actor=actor,
                surface=surface,
                epoch=record.epoch,
                subtoggle=subtoggle,
            )
            purposes = {**self._state.purposes, purpose: record}
            self._commit(replace(self._state, purposes=MappingProxyType(purposes)), entry)
            return entry

    def _entry(
        self,
        *,
        purpose: Purpose | None,
        from_state: ConsentState | None,
        to_state: ConsentState,
        actor: Actor,
        surface: Surface,
        epoch: int | None,
        subtoggle: tuple[str, bool] | None = None,
        note: str | None = None,
    ) -> LogEntry:
        last = self._state.last_entry
        draft = LogEntry(
            seq=last.seq + 1 if last else 1,
            ts=self._now(),
            purpose=purpose,
            from_state=from_state,
            to_state=to_state,
            source=Source.ORG_POLICY if isinstance(actor, OrgPolicy) else Source.USER,
            surface=surface,
            notice_version=self._versions.notice.version,
            prompt_version=self._versions.prompt_versions[purpose] if purpose else None,
            inventory_version=self._versions.inventory_version,
            app_version=self._versions.app_version,
            decided_by=self._decided_by(actor),
            epoch=epoch,
            subtoggle=subtoggle,
            note=note,
            prev_hash=last.hash if last else GENESIS_HASH,
            hash="",
        )
        return replace(draft, hash=entry_hash(draft.body()))

    def _commit(self, state: _State, entry: LogEntry) -> None:
        """Write ``consent.json`` (the commit point), then append the line it names."""
        state = replace(state, notice=self._versions.notice, last_entry=entry)
        self._save(state)
        try:
            _append_line(self.log_file, entry)
        except OSError as exc:
            # Committed already; the next load appends the line from consent.json.
            log.warning("could not append to %s (%s); completed on next load", self.log_file, exc)
        self._signature = self._disk_signature()

    def _save(self, state: _State) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            replace_file(self.consent_file, _state_to_bytes(state))
        except OSError as exc:
            raise ConsentStoreError(self.consent_file, f"cannot be written ({exc})") from exc
        self._state = state
        self._signature = self._disk_signature()

    def _recover_locked(self, actor: Actor, surface: Surface) -> tuple[Path, ...]:
        epochs, install_id = _salvage(self.consent_file, self.log_file)
        kept: list[Path] = []
        try:
            for path in (self.consent_file, self.log_file):
                if path.exists():
                    kept.append(
                        keep_aside(
                            path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
                        )
                    )
        except OSError as exc:
            raise ConsentStoreError(path, f"cannot be moved aside ({exc})") from exc
        if kept:
            fsync_dir(self.directory)
        log.warning("consent store reset; damaged files kept as %s", ", ".join(map(str, kept)))
        records = {p: PurposeRecord(epoch=epochs.get(p, -1) + 1) for p in UPLOAD_PURPOSES}
        self._state = _State.fresh(install_id)
        self._error = None
        entry = self._entry(
            purpose=None,
            from_state=None,
            to_state=ConsentState.UNDETERMINED,
            actor=actor,
            surface=surface,
            epoch=None,
            note="consent store reset after damage; previous files kept as "
            + ", ".join(p.name for p in kept),
        )
        self._commit(replace(self._state, purposes=MappingProxyType(records)), entry)
        return tuple(kept)

    def _decided_by(self, actor: Actor) -> DecidedBy:
        if isinstance(actor, OrgPolicy):
            return DecidedBy("policy", ref=actor.ref)
        digest = hmac.new(self._key, str(actor.uid).encode("utf-8"), hashlib.sha256)
        return DecidedBy("local_user", id_hmac=digest.hexdigest())

    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _disk_signature(self) -> tuple[object, ...]:
        def stat(path: Path) -> object:
            try:
                st = path.stat()
            except OSError:
                return None
            return (st.st_ino, st.st_size, st.st_mtime_ns)

        return (stat(self.consent_file), stat(self.log_file))

    def _refresh(self) -> None:
        """Reload when either file changed on disk since we last looked."""
        if self._disk_signature() != self._signature:
            with self._locked():
                self._reload()

    def _reload(self) -> None:
        """Read both files and reconcile them; any problem puts the store in error."""
        self._signature = self._disk_signature()
        try:
            self._state = self._load()
            self._error = None
        except ConsentStoreError as exc:
            if self._error is None or str(exc) != str(self._error):
                log.error("%s", exc)
            self._error = exc
        self._signature = self._disk_signature()

    def _load(self) -> _State:
        state = _read_state(self.consent_file)
        entries, torn = _read_log(self.log_file)
        tail = entries[-1] if entries else None
        if state is None:
            if entries or torn:
                raise ConsentStoreError(
                    self.consent_file,
                    f"is missing, but {self.log_file.name} records {len(entries)} change(s)",
                )
            # Keep the id already handed out; it is written with the first decision.
            return _State.fresh(self._state.install_id)
        last = state.last_entry
        if last is None:
            if entries or torn:
                raise ConsentStoreError(
                    self.log_file, f"has changes {self.consent_file.name} does not know"
                )
            return state
        if tail is not None and tail.hash == last.hash and not torn:
            return state
        follows = (tail.hash if tail else GENESIS_HASH) == last.prev_hash
        if follows and last.seq == (tail.seq if tail else 0) + 1:
            self._complete_log(last)
            return state
        raise ConsentStoreError(
            self.log_file,
            f"does not end at change {last.seq} that {self.consent_file.name} records; "
            "the history was edited or lost",
        )

    def _complete_log(self, entry: LogEntry) -> None:
        # A crash after consent.json was renamed left the log one line short, perhaps
        # with half a line at the end; finish the append the crash interrupted.
        try:
            _truncate_torn_tail(self.log_file)
            _append_line(self.log_file, entry)
        except OSError as exc:
            log.warning("could not complete %s (%s)", self.log_file, exc)

    @contextlib.contextmanager
    def _locked(self, *, create: bool = False) -> Iterator[None]:
        """Hold the inter-process lock (the in-process one is ``_mutex``).

        Args:
            create: Create the directory first (writers); readers of a store that does
                not exist yet have nothing to lock.
        """
        try:
            if create:
                self.directory.mkdir(parents=True, exist_ok=True)
            elif not self.directory.exists():
                yield
                return
            fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConsentStoreError(self._lock_file, f"cannot be opened ({exc})") from exc
        try:
            _lock_fd(fd)
            yield
        finally:
            os.close(fd)


# --- Validation of arguments ---------------------------------------------------------


def _check_upload(purpose: Purpose) -> None:
    if purpose not in UPLOAD_PURPOSES:
        raise ConsentError(f"{purpose} is not a consent choice")


def _check_actor(purpose: Purpose, actor: Actor, surface: Surface) -> Source:
    _check_upload(purpose)
    if isinstance(actor, OrgPolicy):
        if surface not in (Surface.POLICY, Surface.MSI_PRESET):
            raise ConsentError(f"an organisation decides through policy, not {surface}")
        return Source.ORG_POLICY
    if surface not in _USER_SURFACES:
        raise ConsentError(f"a user decides through the dialog, panel or CLI, not {surface}")
    return Source.USER


def _check_subtoggle(purpose: Purpose, subtoggle_id: str) -> None:
    _check_upload(purpose)
    if subtoggle_id not in {s.id for s in PURPOSES[purpose].subtoggles}:
        raise ConsentError(f"{purpose} has no sub-toggle {subtoggle_id!r}")


# --- Files ---------------------------------------------------------------------------


def _append_line(path: Path, entry: LogEntry) -> None:
    line = json.dumps(entry.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate_torn_tail(path: Path) -> None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with path.open("r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())


if sys.platform == "win32":
    import msvcrt

    def _lock_fd(fd: int) -> None:
        # LK_LOCK gives up after ten one-second tries; a consent write never takes that long,
        # so keep asking.
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        # Released when the descriptor is closed.
        fcntl.flock(fd, fcntl.LOCK_EX)


# --- consent.json and log lines as JSON ------------------------------------------------


class _Bad(Exception):
    """A JSON value does not have the expected shape."""


class _Shape:
    """Typed access to a parsed JSON object, naming the path of whatever is wrong."""

    def __init__(self, value: object, where: str, required: set[str], optional: set[str]) -> None:
        if not isinstance(value, dict):
            raise _Bad(f"{where} must be an object")
        self.obj: dict[str, Any] = value
        self.where = where
        missing = required - value.keys()
        if missing:
            raise _Bad(f"{where} lacks {', '.join(sorted(missing))}")
        unknown = value.keys() - required - optional
        if unknown:
            raise _Bad(f"{where} has unexpected {', '.join(sorted(unknown))}")

    def _bad(self, key: str, expected: str) -> _Bad:
        return _Bad(f"{self.where}.{key} must be {expected}")

    def raw(self, key: str) -> object:
        return self.obj.get(key)

    def text(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str):
            raise self._bad(key, "text")
        return value

    def opt_text(self, key: str) -> str | None:
        return None if self.obj.get(key) is None else self.text(key)

    def whole(self, key: str) -> int:
        value = self.obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._bad(key, "a whole number >= 0")
        return value

    def opt_whole(self, key: str) -> int | None:
        return None if self.obj.get(key) is None else self.whole(key)

    def choice(self, key: str, kind: type[_E]) -> _E:
        value = self.obj.get(key)
        if not isinstance(value, str) or value not in set(kind):
            raise self._bad(key, " | ".join(kind))
        return kind(value)

    def opt_choice(self, key: str, kind: type[_E]) -> _E | None:
        return None if self.obj.get(key) is None else self.choice(key, kind)


def _decided_by_from(value: object, where: str) -> DecidedBy:
    shape = _Shape(value, where, {"kind"}, {"id_hmac", "ref"})
    kind = shape.text("kind")
    if kind == "local_user":
        id_hmac = shape.text("id_hmac")
        if len(id_hmac) != 64:
            raise _Bad(f"{where}.id_hmac must be 64 hex digits")
        return DecidedBy(kind, id_hmac=id_hmac)
    if kind == "policy":
        return DecidedBy(kind, ref=shape.text("ref"))
    raise _Bad(f"{where}.kind must be local_user | policy")


_ENTRY_KEYS: Final = {f.name for f in dataclasses.fields(LogEntry)} - {
    "from_state",
    "to_state",
} | {"from", "to"}


def _entry_from(value: object, where: str) -> LogEntry:
    shape = _Shape(value, where, _ENTRY_KEYS, set())
    toggle_raw = shape.raw("subtoggle")
    subtoggle = None
    if toggle_raw is not None:
        toggle = _Shape(toggle_raw, f"{where}.subtoggle", {"id", "on"}, set())
        on = toggle.raw("on")
        if not isinstance(on, bool):
            raise _Bad(f"{where}.subtoggle.on must be true or false")
        subtoggle = (toggle.text("id"), on)
    entry = LogEntry(
        seq=shape.whole("seq"),
        ts=shape.text("ts"),
        purpose=shape.opt_choice("purpose", Purpose),
        from_state=shape.opt_choice("from", ConsentState),
        to_state=shape.choice("to", ConsentState),
        source=shape.choice("source", Source),
        surface=shape.choice("surface", Surface),
        notice_version=shape.text("notice_version"),
        prompt_version=shape.opt_whole("prompt_version"),
        inventory_version=shape.whole("inventory_version"),
        app_version=shape.text("app_version"),
        decided_by=_decided_by_from(shape.raw("decided_by"), f"{where}.decided_by"),
        epoch=shape.opt_whole("epoch"),
        subtoggle=subtoggle,
        note=shape.opt_text("note"),
        prev_hash=shape.text("prev_hash"),
        hash=shape.text("hash"),
    )
    if entry_hash(entry.body()) != entry.hash:
        raise _Bad(f"{where}: hash does not match the content (the line was altered)")
    return entry


def _read_log(path: Path) -> tuple[list[LogEntry], bool]:
    """The verified chain, and whether an incomplete last line (a torn append) follows it.

    Raises:
        ConsentStoreError: Unreadable, or any complete line is malformed or out of chain.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], False
    except OSError as exc:
        raise ConsentStoreError(path, f"cannot be read ({exc.strerror or exc})") from exc
    lines = data.split(b"\n")
    torn = lines.pop() != b""
    entries: list[LogEntry] = []
    prev = GENESIS_HASH
    for number, raw in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            entry = _entry_from(json.loads(raw.decode("utf-8")), where)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConsentStoreError(path, f"{where} is not JSON ({exc})") from exc
        except _Bad as exc:
            raise ConsentStoreError(path, str(exc)) from exc
        if entry.seq != number or entry.prev_hash != prev:
            raise ConsentStoreError(path, f"{where} breaks the hash chain (altered or removed)")
        entries.append(entry)
        prev = entry.hash
    return entries, torn


def _record_from(value: object, purpose: Purpose) -> PurposeRecord:
    where = f"purposes.{purpose}"
    keys = {f.name for f in dataclasses.fields(PurposeRecord)}
    shape = _Shape(value, where, {"stored", "epoch"}, keys)
    toggles_raw = shape.raw("subtoggles") or {}
    if not isinstance(toggles_raw, dict):
        raise _Bad(f"{where}.subtoggles must be an object")
    declared = {s.id for s in PURPOSES[purpose].subtoggles}
    for name, on in toggles_raw.items():
        if name not in declared or not isinstance(on, bool):
            raise _Bad(f"{where}.subtoggles.{name} is not a sub-toggle of {purpose}")
    by = shape.raw("decided_by")
    record = PurposeRecord(
        stored=shape.choice("stored", ConsentState),
        epoch=shape.whole("epoch"),
        source=shape.opt_choice("source", Source),
        decided_at=shape.opt_text("decided_at"),
        decided_by=None if by is None else _decided_by_from(by, f"{where}.decided_by"),
        surface=shape.opt_choice("surface", Surface),
        prompt_version=shape.opt_whole("prompt_version"),
        inventory_version=shape.opt_whole("inventory_version"),
        app_version=shape.opt_text("app_version"),
        subtoggles=MappingProxyType(dict(toggles_raw)),
    )
    if record.stored is not ConsentState.UNDETERMINED and (
        record.prompt_version is None or record.inventory_version is None
    ):
        raise _Bad(f"{where} records a decision without the versions it was made under")
    return record


def _state_from(value: object) -> _State:
    shape = _Shape(
        value,
        "consent.json",
        {"schema", "install_id", "purposes"},
        {"notice", "previous_install_ids", "last_log_entry"},
    )
    if shape.raw("schema") != SCHEMA:
        raise _Bad(f"schema is {shape.raw('schema')!r}, not {SCHEMA!r}")
    install_id = shape.text("install_id")
    previous = shape.raw("previous_install_ids") or []
    if not isinstance(previous, list) or not all(isinstance(v, str) for v in previous):
        raise _Bad("previous_install_ids must be a list of ids")
    for value_id in (install_id, *previous):
        try:
            uuid.UUID(value_id)
        except ValueError:
            raise _Bad(f"{value_id!r} is not an install id") from None
    notice = None
    if shape.raw("notice") is not None:
        n = _Shape(shape.raw("notice"), "notice", {"id", "version", "sha256", "locale"}, set())
        notice = Notice(n.text("id"), n.text("version"), n.text("sha256"), n.text("locale"))
    purposes_raw = shape.raw("purposes")
    if not isinstance(purposes_raw, dict):
        raise _Bad("purposes must be an object")
    purposes: dict[Purpose, PurposeRecord] = {}
    for key, record in purposes_raw.items():
        if key not in {str(p) for p in UPLOAD_PURPOSES}:
            raise _Bad(f"purposes.{key} is not an upload purpose this version knows")
        purposes[Purpose(key)] = _record_from(record, Purpose(key))
    last_raw = shape.raw("last_log_entry")
    last = None if last_raw is None else _entry_from(last_raw, "last_log_entry")
    return _State(install_id, tuple(previous), notice, MappingProxyType(purposes), last)


def _read_state(path: Path) -> _State | None:
    """The parsed ``consent.json``, or None if there is none yet.

    Raises:
        ConsentStoreError: Unreadable, empty, not JSON or not the expected schema.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConsentStoreError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise ConsentStoreError(path, "is empty")
    try:
        return _state_from(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConsentStoreError(path, f"is not valid JSON ({exc})") from exc
    except _Bad as exc:
        raise ConsentStoreError(path, f"is not a consent record this version reads: {exc}") from exc


def _record_to_json(record: PurposeRecord) -> dict[str, Any]:
    return {
        "stored": str(record.stored),
        "epoch": record.epoch,
        "source": record.source and str(record.source),
        "decided_at": record.decided_at,
        "decided_by": record.decided_by.to_json() if record.decided_by else None,
        "surface": record.surface and str(record.surface),
        "prompt_version": record.prompt_version,
        "inventory_version": record.inventory_version,
        "app_version": record.app_version,
        "subtoggles": dict(record.subtoggles),
    }


def _state_to_bytes(state: _State) -> bytes:
    notice = state.notice
    document = {
        "schema": SCHEMA,
        "install_id": state.install_id,
        "previous_install_ids": list(state.previous_install_ids),
        "notice": dataclasses.asdict(notice) if notice else None,
        "purposes": {str(p): _record_to_json(state.record(p)) for p in UPLOAD_PURPOSES},
        "last_log_entry": state.last_entry.to_json() if state.last_entry else None,
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _salvage(consent_file: Path, log_file: Path) -> tuple[dict[Purpose, int], str | None]:
    """The highest epoch per purpose and the install id still legible in damaged files."""
    epochs: dict[Purpose, int] = {}
    install_id: str | None = None

    def note(purpose: object, epoch: object) -> None:
        if purpose in {str(p) for p in UPLOAD_PURPOSES} and type(epoch) is int:
            key = Purpose(str(purpose))
            epochs[key] = max(epochs.get(key, 0), epoch)

    with contextlib.suppress(OSError):
        for raw in log_file.read_bytes().splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict):
                    note(line.get("purpose"), line.get("epoch"))
    with contextlib.suppress(OSError, ValueError):
        document = json.loads(consent_file.read_bytes())
        if isinstance(document, dict):
            purposes = document.get("purposes")
            if isinstance(purposes, dict):
                for name, record in purposes.items():
                    if isinstance(record, dict):
                        note(name, record.get("epoch"))
            candidate = document.get("install_id")
            if isinstance(candidate, str):
                with contextlib.suppress(ValueError):
                    install_id = str(uuid.UUID(candidate))
    return epochs, install_id
