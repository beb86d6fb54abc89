"""Data-subject actions: export everything kept about this install, or delete it locally."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from upsight.agent import __version__
from upsight.agent.history.store import HistoryStore
from upsight.agent.privacy.builder import utc_text
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES
from upsight.agent.privacy.secrets import SecureStorageUnavailable

EXPORT_SCHEMA: Final = "upsight.export/1"
"""``schema`` of the export's manifest; resources/export.schema.json describes it."""

MINUTE_S: Final = 60
HOUR_S: Final = 3600


@dataclass(frozen=True)
class ExportedFile:
    """One member of the export zip, as listed in the manifest."""

    name: str
    description: str
    bytes: int
    sha256: str


def _jsonl(rows: Iterator[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True).encode("utf-8") + b"\n" for r in rows)


def _series_rows(
    history: HistoryStore, step_s: int, keep_s: float, end: float
) -> Iterator[dict[str, Any]]:
    # The store serves a window from the finest tier still holding its start by the store's
    # own clock, read after ours; one step inside the retention keeps that tier this one.
    start = end - keep_s + step_s
    for device in history.devices():
        for var in history.variables(device):
            points = int((end - start) // step_s) + 1
            for p in history.series(device, var, start, end, max_points=points):
                yield {"device": device, "var": var, **vars(p)}


def _history_members(history: HistoryStore, now: float) -> list[tuple[str, str, bytes]]:
    retention = history.retention
    events = (
        {"at": e.at, "device": e.device, "kind": e.kind.value, "message": e.message}
        for e in history.events()
    )
    return [
        ("history/events.jsonl", "every stored UPS event", _jsonl(events)),
        (
            "history/minutes.jsonl",
            "per-minute min/avg/max of every stored variable",
            _jsonl(_series_rows(history, MINUTE_S, retention.minute_s, now)),
        ),
        (
            "history/hours.jsonl",
            "per-hour min/avg/max of every stored variable",
            _jsonl(_series_rows(history, HOUR_S, retention.hour_s, now)),
        ),
    ]


def export(center: PrivacyCenter, history: HistoryStore | None, out: Path) -> list[ExportedFile]:
    """Write a zip of everything kept about this install, with a manifest (GDPR Art. 15, 20).

    Holds the consent state and log, local history, queued envelopes, the upload ledger
    and the admin policy in effect. Returns the members listed in the manifest.
    """
    now = time.time()
    members: list[tuple[str, str, bytes]] = []
    for path, what in (
        (center.store.consent_file, "current privacy choices"),
        (center.store.log_file, "every privacy decision, hash-chained"),
    ):
        if path.exists():
            members.append((path.name, what, path.read_bytes()))
    if history is not None:
        members.extend(_history_members(history, now))
    for queued in center.outbox.pending():
        name = f"outbox/{queued.envelope.purpose}/{queued.path.name}"
        members.append((name, "an envelope waiting to be sent", queued.envelope.encode()))
    ledger = io.StringIO()
    center.ledger.export_json(ledger)
    members.append(
        ("ledger.json", "every envelope sent, rejected or dropped", ledger.getvalue().encode())
    )
    from upsight.agent.policy_cli import show_json

    policy = json.dumps(show_json(center.policy()), indent=2).encode("utf-8")
    members.append(("policy.json", "the admin policy in effect and its errors", policy))
    listed = [
        ExportedFile(name, what, len(data), hashlib.sha256(data).hexdigest())
        for name, what, data in members
    ]
    manifest = {
        "schema": EXPORT_SCHEMA,
        "created_at": utc_text(now),
        "app_version": __version__,
        "inventory_version": center.inventory.version,
        "notice_version": center.notice.version,
        "files": [asdict(f) for f in listed],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, _, data in members:
            archive.writestr(name, data)
    tmp.replace(out)
    return listed


@dataclass(frozen=True)
class LocalDeletion:
    """What "Delete local data" removed."""

    withdrawn: int
    envelopes: int
    ledger_rows: int
    history: bool
    token: bool


def delete_local(center: PrivacyCenter, history_db: Path) -> LocalDeletion:
    """Delete everything kept locally except the record that every purpose is now denied.

    Withdraws every purpose (queuing the deletion requests, which are kept), empties the
    outbox and ledger, deletes the history database, signs out and replaces the install's
    identifiers. The agent must not be running: it holds the history database open.
    """
    from upsight.agent.privacy.consent import LocalUser, Surface

    actor = LocalUser.current()
    withdrawn = sum(
        center.withdraw(p, actor=actor, surface=Surface.CLI).changed for p in UPLOAD_PURPOSES
    )
    envelopes = center.outbox.wipe(keep_deletion_requests=True)
    rows = center.ledger.clear()
    removed = False
    for suffix in ("", "-wal", "-shm"):
        path = history_db.with_name(history_db.name + suffix)
        if path.exists():
            path.unlink()
            removed = True
    (center.directory / "uploads.json").unlink(missing_ok=True)
    token = False
    try:
        token = center.secrets.token() is not None
        center.secrets.delete_token()
    except SecureStorageUnavailable:
        token = False
    center.reset_identifiers()
    return LocalDeletion(withdrawn, envelopes, rows, removed, token)
