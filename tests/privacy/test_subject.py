"""Data-subject actions: the export zip and its manifest, and deleting local data (§12)."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from keyring.backends import fail

from tests.keyrings import MemoryKeyring
from tests.privacy.samples import snapshot
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.privacy import subject
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentState, LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import LedgerResult
from upsight.agent.privacy.outbox import DELETION_REQUEST_KEY
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import INSTALL_SECRET_ITEM, SERVICE, TOKEN_ITEM, Secrets
from upsight.drivers.model import Reading, Status, UpsFlag

USER = LocalUser(1000)
ALERTS = Purpose.CLOUD_ALERTS
DEVICE = "ups"
MINUTES = 5
HISTORY_MEMBERS = {"history/events.jsonl", "history/minutes.jsonl", "history/hours.jsonl"}


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def policy_root(tmp_path: Path) -> Path:
    directory = tmp_path / "root" / "etc" / "upsight" / "policies" / "managed"
    directory.mkdir(parents=True)
    return tmp_path / "root"


@pytest.fixture
def center(tmp_path: Path, keyring: MemoryKeyring, policy_root: Path) -> Iterator[PrivacyCenter]:
    opened = PrivacyCenter(
        tmp_path / "privacy",
        secrets=Secrets(keyring),
        policy=lambda: load_policy(policy_root, "linux"),
    )
    yield opened
    opened.close()


@pytest.fixture
def history_db(tmp_path: Path) -> Path:
    """A closed history database with a few minutes of readings and one event, ending now."""
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    start = (time.time() // 60 - MINUTES - 1) * 60
    for i in range(MINUTES * 60):
        values = {"battery.charge": 100.0 - i / 60, "ups.load": 20.0}
        store.record(DEVICE, Reading(start + i, Status.of(UpsFlag.OL), values))
    store.record_event(Event(start + 30, DEVICE, EventKind.ONBATT, "On battery"))
    store.flush()
    store.close()
    return path


def used(center: PrivacyCenter) -> Envelope:
    """Grant cloud alerts, queue one envelope and record one sent; returns the queued one."""
    center.grant(ALERTS, actor=USER, surface=Surface.CLI)
    sent = center.enqueue(ALERTS, snapshot())
    queued = center.enqueue(ALERTS, snapshot())
    assert sent is not None
    assert queued is not None
    center.outbox.remove(next(q for q in center.outbox.pending([ALERTS]) if q.envelope == sent))
    center.ledger.record(sent, LedgerResult.SENT, "HTTP 202")
    return queued


def export(center: PrivacyCenter, history_db: Path | None, out: Path) -> dict[str, bytes]:
    history = HistoryStore(history_db) if history_db else None
    try:
        listed = subject.export(center, history, out)
    finally:
        if history is not None:
            history.close()
    with zipfile.ZipFile(out) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    assert [f["name"] for f in manifest["files"]] == [f.name for f in listed]
    return members


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def export_validator() -> Draft202012Validator:
    text = (resources.files("upsight.resources") / "export.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# --- export -----------------------------------------------------------------------------


def test_the_manifest_is_valid_and_lists_every_member_with_its_size_and_hash(
    center: PrivacyCenter, history_db: Path, tmp_path: Path
) -> None:
    queued = used(center)

    members = export(center, history_db, tmp_path / "export.zip")

    manifest = json.loads(members.pop("manifest.json"))
    assert list(export_validator().iter_errors(manifest)) == []
    assert manifest["inventory_version"] == center.inventory.version
    assert manifest["notice_version"] == center.notice.version
    files = {f["name"]: f for f in manifest["files"]}
    assert set(files) == set(members)
    for name, data in members.items():
        assert files[name]["bytes"] == len(data), name
        assert files[name]["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert files[name]["description"], name
    queued_file = next(q.path.name for q in center.outbox.pending([ALERTS]))
    assert {
        "consent.json",
        "consent_log.jsonl",
        "ledger.json",
        "policy.json",
        f"outbox/cloud_alerts/{queued_file}",
        *HISTORY_MEMBERS,
    } <= set(members)
    assert Envelope.decode(members[f"outbox/cloud_alerts/{queued_file}"]) == queued


def test_the_export_holds_the_consent_files_queue_and_ledger_as_kept(
    center: PrivacyCenter, tmp_path: Path
) -> None:
    used(center)
    center.request_deletion([ALERTS])

    members = export(center, None, tmp_path / "export.zip")

    assert members["consent.json"] == center.store.consent_file.read_bytes()
    assert members["consent_log.jsonl"] == center.store.log_file.read_bytes()
    control = [
        Envelope.decode(data)
        for name, data in members.items()
        if name.startswith("outbox/control/")
    ]
    assert [e.data.get(DELETION_REQUEST_KEY) for e in control] == [None, ["cloud_alerts"]]
    [entry] = json.loads(members["ledger.json"])
    [sent] = center.ledger.entries()
    assert entry["envelope_id"] == sent.envelope_id
    assert entry["result"] == "sent"
    assert entry["payload"] == json.loads(sent.payload or "null")


def test_the_export_holds_the_policy_in_effect_and_its_errors(
    center: PrivacyCenter, policy_root: Path, tmp_path: Path
) -> None:
    corp = policy_root / "etc" / "upsight" / "policies" / "managed" / "10-corp.json"
    corp.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "policies": {"CloudConnection": {"Value": "blocked", "Locked": True}, "Tint": 1},
            }
        )
    )

    policy = json.loads(export(center, None, tmp_path / "export.zip")["policy.json"])

    [active] = policy["active"]
    assert (active["name"], active["value"], active["source"]) == (
        "CloudConnection",
        "blocked",
        str(corp),
    )
    assert policy["purposes"]["cloud_alerts"] == {"decision": "blocked", "source": str(corp)}
    [error] = policy["errors"]
    assert error["key"] == "policies.Tint"


def test_the_export_holds_local_history_per_minute_per_hour_and_its_events(
    center: PrivacyCenter, history_db: Path, tmp_path: Path
) -> None:
    members = export(center, history_db, tmp_path / "export.zip")

    [event] = jsonl(members["history/events.jsonl"])
    assert event["device"] == DEVICE
    assert event["kind"] == "ONBATT"
    assert event["message"] == "On battery"
    minutes = [r for r in jsonl(members["history/minutes.jsonl"]) if r["var"] == "battery.charge"]
    starts = [r["t"] for r in minutes]
    assert len(starts) == MINUTES
    assert all(t % 60 == 0 for t in starts)
    assert [b - a for a, b in itertools.pairwise(starts)] == [60.0] * (MINUTES - 1)
    assert all(r["n"] == 60 and r["device"] == DEVICE for r in minutes)
    assert minutes[0]["max"] == 100.0
    hours = [r for r in jsonl(members["history/hours.jsonl"]) if r["var"] == "battery.charge"]
    assert all(r["t"] % 3600 == 0 for r in hours)
    assert sum(r["n"] for r in hours) == MINUTES * 60


def test_an_export_without_history_has_no_history_members_and_no_leftovers(
    center: PrivacyCenter, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "dir" / "export.zip"

    members = export(center, None, out)

    assert not HISTORY_MEMBERS & set(members)
    assert {"manifest.json", "ledger.json", "policy.json"} <= set(members)
    assert json.loads(members["ledger.json"]) == []
    assert [p.name for p in out.parent.iterdir()] == ["export.zip"]


def test_an_export_replaces_an_earlier_one(center: PrivacyCenter, tmp_path: Path) -> None:
    out = tmp_path / "export.zip"
    out.write_bytes(b"an older export")

    members = export(center, None, out)

    assert "manifest.json" in members


# --- delete_local -----------------------------------------------------------------------


def test_delete_local_leaves_only_denials_and_deletion_requests(
    center: PrivacyCenter, keyring: MemoryKeyring, history_db: Path
) -> None:
    used(center)
    center.secrets.set_token("tok-1")
    wal = history_db.with_name(history_db.name + "-wal")
    wal.write_bytes(b"")
    (center.directory / "uploads.json").write_text("{}")
    install_id = center.store.install_id
    secret = center.install_secret()

    gone = subject.delete_local(center, history_db)

    assert gone.history is True
    assert gone.token is True
    assert gone.withdrawn == len(UPLOAD_PURPOSES)
    assert gone.ledger_rows >= 2
    assert not history_db.exists()
    assert not wal.exists()
    assert not (center.directory / "uploads.json").exists()
    assert center.ledger.entries() == []
    pending = [q.envelope for q in center.outbox.pending()]
    assert gone.envelopes >= 1
    assert pending
    assert all(e.purpose is Purpose.CONTROL and DELETION_REQUEST_KEY in e.data for e in pending)
    assert install_id in pending[0].data["deletion.install_ids"]
    assert keyring.get_password(SERVICE, TOKEN_ITEM) is None
    assert {center.store.consent(p).state for p in UPLOAD_PURPOSES} == {ConsentState.DENIED}
    assert center.store.install_id != install_id
    assert keyring.get_password(SERVICE, INSTALL_SECRET_ITEM) is not None
    assert center.install_secret() != secret
    assert center.store.verify_log().ok


def test_delete_local_keeps_deletion_requests_queued_before(
    center: PrivacyCenter, tmp_path: Path
) -> None:
    used(center)
    earlier = center.request_deletion([ALERTS])
    assert earlier is not None

    subject.delete_local(center, tmp_path / "absent.sqlite3")

    ids = [q.envelope.envelope_id for q in center.outbox.pending([Purpose.CONTROL])]
    assert earlier.envelope_id in ids


def test_delete_local_with_nothing_to_delete(center: PrivacyCenter, tmp_path: Path) -> None:
    gone = subject.delete_local(center, tmp_path / "absent.sqlite3")

    assert gone.history is False
    assert gone.token is False
    assert gone.ledger_rows == 0
    assert {center.store.consent(p).state for p in UPLOAD_PURPOSES} == {ConsentState.DENIED}


def test_delete_local_without_a_keychain_still_denies_everything(tmp_path: Path) -> None:
    center = PrivacyCenter(tmp_path / "privacy", secrets=Secrets(fail.Keyring()))
    try:
        install_id = center.store.install_id
        center.grant(ALERTS, actor=USER, surface=Surface.CLI)

        gone = subject.delete_local(center, tmp_path / "absent.sqlite3")

        assert gone.token is False
        assert {center.store.consent(p).state for p in UPLOAD_PURPOSES} == {ConsentState.DENIED}
        assert center.store.install_id != install_id
    finally:
        center.close()
