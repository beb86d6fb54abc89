"""The privacy center: consent, policy, outbox and ledger of one install, and what changes them."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets as random_bytes
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from upsight.agent.privacy import builder
from upsight.agent.privacy.admin_policy import EffectivePolicy, load_policy
from upsight.agent.privacy.builder import EnvelopeInvalid, Grant, Snapshot
from upsight.agent.privacy.consent import (
    Actor,
    ConsentState,
    ConsentStore,
    ConsentStoreError,
    CurrentVersions,
    LogEntry,
    Notice,
    Surface,
)
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.gate import ConsentGate, PurposeView
from upsight.agent.privacy.inventory import Inventory, Transform, load_inventory
from upsight.agent.privacy.ledger import Ledger, LedgerResult
from upsight.agent.privacy.outbox import Dropped, DropReason, Outbox, Quota
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import Secrets, SecureStorageUnavailable

log = logging.getLogger(__name__)

NOTICE_RESOURCE: Final = "privacy-notice.md"
_NOTICE_HEADER: Final = re.compile(
    r"<!-- notice-id: (?P<id>[\w-]+); version: (?P<version>[\w.-]+); locale: (?P<locale>[\w-]+) -->"
)

Listener = Callable[[Collection[Purpose]], None]
"""Told which purposes were just switched off, so an uploader can cancel what it is sending."""


def current_notice() -> tuple[Notice, str]:
    """The privacy notice shipped with this build, and its text."""
    text = (resources.files("upsight.resources") / NOTICE_RESOURCE).read_text(encoding="utf-8")
    header = _NOTICE_HEADER.match(text)
    if header is None:
        raise ValueError(f"{NOTICE_RESOURCE} lacks its notice-id/version/locale header")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Notice(header["id"], header["version"], digest, header["locale"]), text


class PurposeOff(Exception):
    """The purpose is not allowed now, so nothing may be queued for it."""


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal did (privacy-design.md §7.4).

    Attributes:
        purpose: The purpose withdrawn.
        changed: False when it was already denied (nothing else was done).
        purged: Envelopes deleted from the outbox unsent.
        deletion_request: The control envelope asking the cloud to delete, or None.
        rotated: Whether the install's identifiers were replaced (nothing left granted).
    """

    purpose: Purpose
    changed: bool
    purged: int
    deletion_request: Envelope | None
    rotated: bool


class PrivacyCenter:
    """Owns one install's consent store, outbox and ledger; every change goes through here.

    The agent uses it to queue and send; the CLI and the GUI use it to show, grant,
    withdraw, preview and delete. Several processes may open the same directory: every
    file it keeps is safe to share, and the consent store is re-read on each question.
    """

    def __init__(
        self,
        directory: Path,
        *,
        secrets: Secrets | None = None,
        policy: Callable[[], EffectivePolicy] = load_policy,
        inventory: Inventory | None = None,
        quota: Quota | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.secrets = secrets or Secrets()
        self.inventory = inventory or load_inventory()
        self.notice, self.notice_text = current_notice()
        self._policy = policy
        self._clock = clock
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        directory.mkdir(parents=True, exist_ok=True)
        self._storage_problem = _storage_problem(self.secrets.problem())
        self.store = ConsentStore(
            directory,
            id_key=self._id_key(),
            versions=CurrentVersions(self.notice, self.inventory.version),
            clock=clock,
        )
        self.outbox = Outbox(directory, quota=quota or Quota(), clock=clock)
        (directory / "ledger").mkdir(mode=0o700, exist_ok=True)
        self.ledger = Ledger(directory / "ledger" / "ledger.sqlite3", clock=clock)
        self.gate = ConsentGate(self.store, self.policy, self.inventory, self.hard_limit)

    # --- State -----------------------------------------------------------------------

    def policy(self) -> EffectivePolicy:
        """The admin policy in effect, read now."""
        return self._policy()

    def hard_limit(self) -> str | None:
        """Why nothing can be uploaded whatever anyone chooses, or None."""
        return self._storage_problem

    def views(self) -> list[PurposeView]:
        """Every upload purpose: effective state, stored choice, and what decided it."""
        return self.gate.views()

    def problems(self) -> list[str]:
        """Everything that keeps uploads off against someone's wish, worded for people."""
        found: list[str] = []
        if self._storage_problem:
            found.append(self._storage_problem)
        if self.store.error is not None:
            found.append(str(self.store.error))
        found.extend(
            f"policy {p.source}: {p.key or '(whole source)'}: {p.problem}"
            for p in self.policy().errors
        )
        return found

    def add_listener(self, listener: Listener) -> None:
        """Be told when purposes are switched off (on the caller's thread)."""
        self._listeners.append(listener)

    # --- Building --------------------------------------------------------------------

    def install_secret(self) -> bytes:
        """The pseudonym key; raises SecureStorageUnavailable without a system keychain."""
        return self.secrets.install_secret()

    def preview(self, purpose: Purpose, snapshot: Snapshot) -> tuple[Envelope, bool]:
        """The exact envelope the uploader would queue next, and whether it would be queued.

        For a purpose that is off, the envelope is built as if the user allowed it now, so
        people can see what they would share before they decide.
        """
        grant = self.gate.grant_for(purpose)
        allowed = grant is not None
        if grant is None:
            view = self.gate.view(purpose)
            grant = Grant(
                epoch=view.consent.epoch,
                prompt_version=PURPOSES[purpose].prompt_version,
                by_org=False,
            )
        return self._build(purpose, snapshot, grant), allowed

    def enqueue(self, purpose: Purpose, snapshot: Snapshot) -> Envelope | None:
        """Build and queue the next envelope of ``purpose``; None when it has no data.

        Raises:
            PurposeOff: The purpose is not allowed now.
            EnvelopeInvalid: The envelope failed its schema (recorded in the ledger).
            SecureStorageUnavailable: No keychain holds the pseudonym key.
        """
        grant = self.gate.grant_for(purpose)
        if grant is None:
            raise PurposeOff(f"{purpose} is off: {self.gate.view(purpose).decided_by}")
        envelope = self._build(purpose, snapshot, grant)
        if not envelope.data:
            return None
        self._queue(envelope)
        return envelope

    def _build(self, purpose: Purpose, snapshot: Snapshot, grant: Grant) -> Envelope:
        return builder.build(
            purpose,
            snapshot,
            grant,
            inventory=self.inventory,
            install_secret=self.install_secret(),
            notice_version=self.notice.version,
            now=self._clock(),
        )

    def _queue(self, envelope: Envelope) -> None:
        for dropped in self.outbox.put(envelope):
            self.record_dropped(dropped)

    def record_dropped(self, dropped: Dropped) -> None:
        """Write an envelope the outbox gave up on into the ledger."""
        self.ledger.record_dropped(dropped)

    # --- Decisions -------------------------------------------------------------------

    def grant(self, purpose: Purpose, *, actor: Actor, surface: Surface) -> LogEntry | None:
        """Record a grant and queue its consent receipt."""
        with self._lock:
            entry = self.store.grant(purpose, actor=actor, surface=surface)
            if entry is not None:
                self._receipt(entry)
            return entry

    def set_subtoggle(
        self, purpose: Purpose, subtoggle_id: str, on: bool, *, actor: Actor, surface: Surface
    ) -> LogEntry | None:
        """Switch a sub-toggle; switching one off starts a new epoch, dropping queued data."""
        with self._lock:
            entry = self.store.set_subtoggle(
                purpose, subtoggle_id, on, actor=actor, surface=surface
            )
            if entry is not None:
                self._receipt(entry)
                if not on:
                    self._purge(purpose)
            return entry

    def withdraw(self, purpose: Purpose, *, actor: Actor, surface: Surface) -> Withdrawal:
        """Withdraw consent for ``purpose`` (privacy-design.md §7.4), all before returning.

        Persists the new state, tells listeners (the uploader cancels a request in
        flight), deletes the purpose's queued envelopes, queues a consent receipt and a
        deletion request, and replaces the install's identifiers once nothing is granted.
        """
        with self._lock:
            was_granted = self.store.consent(purpose).stored is ConsentState.GRANTED
            entry = self.store.withdraw(purpose, actor=actor, surface=surface)
            if entry is None:
                return Withdrawal(purpose, False, 0, None, False)
            for listener in self._listeners:
                listener((purpose,))
            purged = self._purge(purpose)
            self._receipt(entry)
            if not was_granted:
                # A "Don't allow" answer: nothing was ever sent, so nothing to delete.
                return Withdrawal(purpose, True, purged, None, False)
            request = self._deletion_request((purpose,))
            rotated = not any(self.store.consent(p).granted for p in UPLOAD_PURPOSES)
            if rotated:
                self.reset_identifiers()
            return Withdrawal(purpose, True, purged, request, rotated)

    def request_deletion(self, purposes: Collection[Purpose] | None = None) -> Envelope:
        """Queue a request that the cloud delete what it holds (every purpose by default)."""
        with self._lock:
            return self._deletion_request(tuple(purposes) if purposes else "all")

    def reset_identifiers(self) -> None:
        """New install id and pseudonym key: what was sent before can no longer be linked."""
        with self._lock:
            self.store.rotate_install_id()
            if self._storage_problem is None:
                try:
                    self.secrets.rotate_install_secret()
                except SecureStorageUnavailable as exc:
                    log.warning("%s", exc)

    def policy_sync(self) -> list[Purpose]:
        """Apply a policy block (§7.4, steps 2-3): purge what may no longer go; returns them."""
        off = [v.purpose for v in self.views() if not v.effective.on]
        blocked = [p for p in off if self.outbox.counts().get(p, (0, 0))[0]]
        if blocked:
            for listener in self._listeners:
                listener(blocked)
            for purpose in blocked:
                self._purge(purpose, DropReason.BLOCKED)
        return blocked

    def _purge(self, purpose: Purpose, reason: DropReason = DropReason.WITHDRAWN) -> int:
        dropped = self.outbox.purge(purpose, reason=reason)
        for item in dropped:
            self.ledger.record_dropped(item)
        return len(dropped)

    def _receipt(self, entry: LogEntry) -> None:
        try:
            envelope = builder.consent_receipt(
                entry,
                install_id=self.store.install_id,
                inventory=self.inventory,
                notice_version=self.notice.version,
                now=self._clock(),
            )
        except (EnvelopeInvalid, ConsentStoreError, OSError) as exc:
            # The decision is already recorded; a missing receipt must not undo it.
            log.error("could not queue the consent receipt for %s: %s", entry.purpose, exc)
            return
        self._queue(envelope)

    def _deletion_request(self, purposes: tuple[Purpose, ...] | Literal["all"]) -> Envelope:
        try:
            install_ids = (*self.store.previous_install_ids, self.store.install_id)
        except ConsentStoreError as exc:
            # A broken store must not block a request to delete what was sent.
            log.error("deletion request without the current install id: %s", exc)
            install_ids = self.store.previous_install_ids
        envelope = builder.deletion_request(
            purposes,
            install_ids=install_ids,
            pseudonyms=self._pseudonyms(purposes),
            inventory=self.inventory,
            notice_version=self.notice.version,
            now=self._clock(),
        )
        self._queue(envelope)
        return envelope

    def _pseudonyms(self, purposes: tuple[Purpose, ...] | Literal["all"]) -> tuple[str, ...]:
        """Pseudonyms already sent for these purposes, from the ledger's exact payloads."""
        pseudonymised = {
            f.id
            for f in self.inventory.fields.values()
            if Transform.HMAC_INSTALL_SECRET in f.upload_transform.values()
        }
        found: set[str] = set()
        for entry in self.ledger.entries():
            wanted = purposes == "all" or entry.purpose in purposes
            if not wanted or entry.result is not LedgerResult.SENT:
                continue
            for name in pseudonymised & set(entry.fields):
                value = _payload_value(entry.payload, name)
                if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
                    found.add(value)
        return tuple(sorted(found))

    def _id_key(self) -> bytes:
        if self._storage_problem is None:
            try:
                return self.secrets.install_secret()
            except SecureStorageUnavailable as exc:
                self._storage_problem = _storage_problem(str(exc))
        # Without a keychain the user ids in the consent log are keyed with a throw-away
        # secret: still not reversible, merely unlinkable across restarts.
        return random_bytes.token_bytes(32)

    def close(self) -> None:
        """Close the ledger database."""
        self.ledger.close()


def _storage_problem(problem: str | None) -> str | None:
    if problem is None or problem.startswith("secure storage unavailable"):
        return problem
    return f"secure storage unavailable ({problem}): cloud features stay off"


def _payload_value(payload: str | None, name: str) -> object:
    if payload is None:
        return None
    document = json.loads(payload)
    for part in ("data", "client"):
        section = document.get(part, {})
        if name in section:
            return section[name]
    return None
