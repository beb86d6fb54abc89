"""The privacy center end to end: withdrawal (§7.4), policy blocks, and failing closed.

Real consent store, outbox, ledger, sender and a real HTTPS server on loopback; only the
OS keychain is a test double.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from tests.keyrings import MemoryKeyring
from tests.peers.cloud import Answer, CloudServer
from tests.privacy.samples import snapshot
from upsight.agent.privacy.admin_policy import EffectivePolicy, load_policy
from upsight.agent.privacy.center import PrivacyCenter, PurposeOff
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.ledger import LedgerResult
from upsight.agent.privacy.outbox import DELETION_REQUEST_KEY
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.privacy.sender import Sender, Verdict
from upsight.agent.privacy.transport import HttpsTransport

USER = LocalUser(1000)
CLI = Surface.CLI
ALERTS = Purpose.CLOUD_ALERTS
REGISTRATION = Purpose.DEVICE_REGISTRATION


def policy_root(tmp_path: Path, document: dict[str, object] | None) -> Path:
    root = tmp_path / "root"
    managed = root / "etc" / "upsight" / "policies" / "managed"
    managed.mkdir(parents=True, exist_ok=True)
    if document is not None:
        (managed / "10-corp.json").write_text(json.dumps(document), encoding="utf-8")
    return root


def open_center(tmp_path: Path, keyring: MemoryKeyring, root: Path | None = None) -> PrivacyCenter:
    root = root or policy_root(tmp_path, None)

    def policy() -> EffectivePolicy:
        return load_policy(root)

    return PrivacyCenter(tmp_path / "privacy", secrets=Secrets(keyring), policy=policy)


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def center(tmp_path: Path, keyring: MemoryKeyring) -> Iterator[PrivacyCenter]:
    opened = open_center(tmp_path, keyring)
    yield opened
    opened.close()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(tmp_path / "cloud") as server:
        yield server


def sender_for(center: PrivacyCenter, cloud: CloudServer, **kwargs: float) -> Sender:
    transport = HttpsTransport(
        cloud.url,
        token=lambda: "device-token",
        ca_bundle=cloud.ca_pem,
        read_timeout_s=kwargs.pop("read_timeout_s", 30.0),
    )
    sender = Sender(
        center.outbox,
        center.ledger,
        transport,
        center.gate.decide,
        spacing_s=0.0,
        max_requests_per_minute=600,
    )

    def cancel(purposes: Collection[Purpose]) -> None:
        for purpose in purposes:
            sender.cancel(purpose)

    center.add_listener(cancel)
    return sender


def queued(center: PrivacyCenter, purpose: Purpose) -> int:
    return center.outbox.counts().get(purpose, (0, 0))[0]


def control_kinds(center: PrivacyCenter) -> list[str]:
    return [
        "deletion" if DELETION_REQUEST_KEY in q.envelope.data else "receipt"
        for q in center.outbox.pending([Purpose.CONTROL])
    ]


def test_nothing_can_be_queued_until_someone_says_yes(center: PrivacyCenter) -> None:
    for purpose in UPLOAD_PURPOSES:
        with pytest.raises(PurposeOff, match="off"):
            center.enqueue(purpose, snapshot())
    assert center.outbox.pending() == []


def test_a_grant_queues_a_receipt_and_then_data(center: PrivacyCenter) -> None:
    center.grant(ALERTS, actor=USER, surface=CLI)
    assert control_kinds(center) == ["receipt"]
    envelope = center.enqueue(ALERTS, snapshot())
    assert envelope is not None
    assert envelope.data["ups.battery.charge_pct"] == 87
    assert queued(center, ALERTS) == 1


def test_withdrawal_purges_the_queue_and_asks_for_deletion(center: PrivacyCenter) -> None:
    center.grant(ALERTS, actor=USER, surface=CLI)
    center.grant(REGISTRATION, actor=USER, surface=CLI)
    for charge in (90.0, 80.0, 70.0):
        center.enqueue(ALERTS, snapshot(charge))
    center.enqueue(REGISTRATION, snapshot())
    install_id = center.store.install_id

    done = center.withdraw(ALERTS, actor=USER, surface=CLI)

    assert (done.changed, done.purged, done.rotated) == (True, 3, False)
    assert queued(center, ALERTS) == 0
    assert queued(center, REGISTRATION) == 1, "another purpose's queue is untouched"
    assert done.deletion_request is not None
    assert done.deletion_request.data[DELETION_REQUEST_KEY] == [str(ALERTS)]
    assert install_id in done.deletion_request.data["deletion.install_ids"]
    assert control_kinds(center).count("deletion") == 1
    dropped = center.ledger.entries(purpose=ALERTS)
    assert {e.result for e in dropped} == {LedgerResult.DROPPED_CONSENT}
    assert len(dropped) == 3
    assert center.withdraw(ALERTS, actor=USER, surface=CLI).changed is False


def test_withdrawing_the_last_purpose_rotates_identifiers(
    center: PrivacyCenter, keyring: MemoryKeyring
) -> None:
    center.grant(REGISTRATION, actor=USER, surface=CLI)
    first = center.enqueue(REGISTRATION, snapshot())
    assert first is not None
    old_id, old_secret = center.store.install_id, center.install_secret()

    assert center.withdraw(REGISTRATION, actor=USER, surface=CLI).rotated
    assert center.store.install_id != old_id
    assert old_id in center.store.previous_install_ids
    assert center.install_secret() != old_secret

    center.grant(REGISTRATION, actor=USER, surface=CLI)
    second = center.enqueue(REGISTRATION, snapshot())
    assert second is not None
    assert second.data["ups.serial"] != first.data["ups.serial"], "old pseudonyms unlinkable"


def test_envelopes_from_before_a_withdraw_and_regrant_are_never_sent(
    center: PrivacyCenter, cloud: CloudServer
) -> None:
    center.grant(ALERTS, actor=USER, surface=CLI)
    stale = center.enqueue(ALERTS, snapshot(90.0))
    assert stale is not None
    kept = stale.encode()
    center.withdraw(ALERTS, actor=USER, surface=CLI)
    center.grant(ALERTS, actor=USER, surface=CLI)
    # As if another process had queued it just before the withdrawal landed.
    center.outbox.put(stale)
    fresh = center.enqueue(ALERTS, snapshot(80.0))
    assert fresh is not None

    assert center.gate.decide(stale).verdict is Verdict.DROP
    sender_for(center, cloud).drain_once()

    sent = {r.key for r in cloud.posts()}
    assert fresh.envelope_id in sent
    assert stale.envelope_id not in sent
    assert all(r.raw != kept for r in cloud.posts())
    results = {e.envelope_id: e.result for e in center.ledger.entries(purpose=ALERTS)}
    assert results[stale.envelope_id] is LedgerResult.DROPPED_CONSENT
    assert results[fresh.envelope_id] is LedgerResult.SENT


def test_withdrawal_while_a_request_is_in_flight_cancels_it(
    center: PrivacyCenter, cloud: CloudServer
) -> None:
    center.grant(ALERTS, actor=USER, surface=CLI)
    sender = sender_for(center, cloud)
    sender.drain_once()  # the grant's receipt goes first
    slow = center.enqueue(ALERTS, snapshot())
    assert slow is not None
    later = center.enqueue(ALERTS, snapshot(60.0))
    assert later is not None
    cloud.script(Answer(200, delay_s=20.0))
    draining = threading.Thread(target=sender.drain_once)
    draining.start()
    cloud.wait_for(2)

    center.withdraw(ALERTS, actor=USER, surface=CLI)
    draining.join(10.0)

    assert not draining.is_alive(), "the request in flight was aborted, not waited for"
    alert_posts = [r for r in cloud.posts() if r.path.endswith(str(ALERTS))]
    assert [r.key for r in alert_posts] == [slow.envelope_id], "nothing more for the purpose"
    results = {e.envelope_id: e.result for e in center.ledger.entries(purpose=ALERTS)}
    assert results[slow.envelope_id] in (
        LedgerResult.DROPPED_CONSENT,
        LedgerResult.SENT_BEFORE_WITHDRAWAL,
    )
    assert results[later.envelope_id] is LedgerResult.DROPPED_CONSENT
    sender.drain_once()
    control = [r for r in cloud.posts() if "/v1/privacy/" in r.path]
    assert {r.path for r in control} == {
        "/v1/privacy/consent-receipts",
        "/v1/privacy/deletion-requests",
    }


def test_a_policy_block_purges_but_keeps_the_users_choice(
    tmp_path: Path, keyring: MemoryKeyring
) -> None:
    root = policy_root(tmp_path, None)
    center = open_center(tmp_path, keyring, root)
    center.grant(ALERTS, actor=USER, surface=CLI)
    center.enqueue(ALERTS, snapshot())
    blocked = {"schema_version": 1, "policies": {"CloudConnection": {"Value": "blocked"}}}
    (root / "etc/upsight/policies/managed/10-corp.json").write_text(json.dumps(blocked))

    assert center.policy_sync() == [ALERTS]

    assert queued(center, ALERTS) == 0
    assert center.store.consent(ALERTS).granted, "a block keeps the stored choice"
    assert not control_kinds(center).count("deletion"), "a block is not a withdrawal"
    receipt = center.outbox.pending([Purpose.CONTROL])[0].envelope
    decision = center.gate.decide(receipt)
    assert decision.verdict is Verdict.HOLD
    assert "blocked by your organization" in decision.reason

    (root / "etc/upsight/policies/managed/10-corp.json").unlink()
    assert center.gate.grant_for(ALERTS) is not None, "lifting the block restores the choice"
    center.close()


def test_a_corrupt_consent_store_fails_closed_with_a_clear_error(
    tmp_path: Path, keyring: MemoryKeyring
) -> None:
    center = open_center(tmp_path, keyring)
    center.grant(ALERTS, actor=USER, surface=CLI)
    envelope = center.enqueue(ALERTS, snapshot())
    assert envelope is not None
    center.store.consent_file.write_text("{ not json", encoding="utf-8")

    assert center.gate.decide(envelope).verdict is Verdict.DROP
    receipt = center.outbox.pending([Purpose.CONTROL])[0].envelope
    held = center.gate.decide(receipt)
    assert held.verdict is Verdict.HOLD, "a receipt the store can no longer vouch for waits"
    assert str(center.store.consent_file) in held.reason
    with pytest.raises(PurposeOff):
        center.enqueue(ALERTS, snapshot())
    problems = center.problems()
    assert any(str(center.store.consent_file) in p for p in problems), problems
    assert all(not v.effective.on for v in center.views())
    # Withdrawing stays possible and repairs the store, keeping the damaged file aside.
    assert center.withdraw(ALERTS, actor=USER, surface=CLI) is not None
    assert center.store.error is None
    assert any(p.name.startswith("consent.json.") for p in center.store.directory.iterdir())
    center.close()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            {"schema_version": 1, "policies": {"Purposes": {"diagnostics": {"Value": "granted"}}}},
            "diagnostics",
            id="policy-grants-a-user-only-purpose",
        ),
        pytest.param(
            {"schema_version": 1, "policies": {"CloudConnection": "yes please"}},
            "CloudConnection",
            id="wrong-type",
        ),
        pytest.param(
            {"schema_version": 1, "policies": {"Telemetry": 1}}, "Telemetry", id="unknown"
        ),
    ],
)
def test_a_bad_policy_is_reported_and_fails_closed(
    tmp_path: Path, keyring: MemoryKeyring, document: dict[str, object], expected: str
) -> None:
    center = open_center(tmp_path, keyring, policy_root(tmp_path, document))
    center.grant(Purpose.DIAGNOSTICS, actor=USER, surface=CLI)
    problems = center.problems()
    assert any(expected in p and "10-corp.json" in p for p in problems), problems
    if expected != "Telemetry":
        # An unknown key is ignored; a bad value for a purpose or the connection blocks.
        assert center.gate.grant_for(Purpose.DIAGNOSTICS) is None
    center.close()


def test_a_corrupt_policy_file_blocks_even_control_messages(
    tmp_path: Path, keyring: MemoryKeyring
) -> None:
    root = policy_root(tmp_path, None)
    (root / "etc/upsight/policies/managed/10-corp.json").write_text("{ broken", encoding="utf-8")
    center = open_center(tmp_path, keyring, root)
    center.grant(ALERTS, actor=USER, surface=CLI)
    assert center.gate.grant_for(ALERTS) is None
    receipt = center.outbox.pending([Purpose.CONTROL])[0].envelope
    assert center.gate.decide(receipt).verdict is Verdict.HOLD
    assert any("10-corp.json" in p for p in center.problems())
    center.close()


def test_without_a_system_keychain_nothing_is_uploaded(tmp_path: Path) -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    center = PrivacyCenter(
        tmp_path / "privacy",
        secrets=Secrets(FailKeyring()),
        policy=lambda: load_policy(policy_root(tmp_path, None)),
    )
    center.grant(ALERTS, actor=USER, surface=CLI)
    view = center.gate.view(ALERTS)
    assert not view.effective.on
    assert "no system keychain" in view.decided_by
    assert any("secure storage unavailable" in p or "keychain" in p for p in center.problems())
    with pytest.raises(PurposeOff):
        center.enqueue(ALERTS, snapshot())
    receipt = center.outbox.pending([Purpose.CONTROL])[0].envelope
    assert center.gate.decide(receipt).verdict is Verdict.HOLD
    assert not list((tmp_path / "privacy").glob("*secret*"))
    center.close()
