"""The Privacy page against a real privacy center, a real agent and a real HTTPS cloud.

The keychain (an in-memory keyring) and the machine's policy directory (a temporary tree)
are the only stand-ins; consent store, outbox, ledger, uploader and cloud are real.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QTableWidget
from pytestqt.qtbot import QtBot

from tests.collector import Collector
from tests.gui.dumps import write_dump
from tests.keyrings import MemoryKeyring
from tests.peers.cloud import CloudServer, Received
from upsight.agent.config import Config
from upsight.agent.events import EventKind
from upsight.agent.paths import AppPaths
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentState, LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import Category
from upsight.agent.privacy.ledger import LedgerResult
from upsight.agent.privacy.outbox import DELETION_REQUEST_KEY
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.pages.privacy import PrivacyPage, PrivacyPanel
from upsight.gui.privacy_rows import category_badge

ALERTS = Purpose.CLOUD_ALERTS
REGISTRATION = Purpose.DEVICE_REGISTRATION
DIAGNOSTICS = Purpose.DIAGNOSTICS
TOKEN = "device-token"
ON_LINE = """\
device.mfr: APC
device.model: Back-UPS ES 700
device.serial: AS1234567890
ups.firmware: 871.O4
ups.status: OL
battery.charge: 100
battery.runtime: 1800
input.voltage: 230
ups.load: 20
"""
ON_BATTERY = ON_LINE.replace("ups.status: OL", "ups.status: OB DISCHRG")


def policy_root(tmp_path: Path, document: object | None = None, text: str | None = None) -> Path:
    """A private stand-in for / holding one managed policy file, or none."""
    root = tmp_path / "policy-root"
    managed = root / "etc" / "upsight" / "policies" / "managed"
    managed.mkdir(parents=True, exist_ok=True)
    if document is not None:
        text = json.dumps(document)
    if text is not None:
        (managed / "10-corp.json").write_text(text, encoding="utf-8")
    return root


def open_center(paths: AppPaths, root: Path, secrets: Secrets | None = None) -> PrivacyCenter:
    if secrets is None:
        secrets = Secrets(MemoryKeyring())
        secrets.set_token(TOKEN)
    return PrivacyCenter(
        paths.data_dir / "privacy", secrets=secrets, policy=lambda: load_policy(root)
    )


@dataclass
class Rig:
    agent: Agent
    bridge: Bridge
    center: PrivacyCenter
    dump: Path
    pages: list[PrivacyPage] = field(default_factory=list)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(tmp_path / "cloud") as server:
        yield server


def _running(paths: AppPaths, config: Config, *, uploads: bool) -> Iterator[Rig]:
    dump = paths.data_dir.parent / "ups.dev"
    write_dump(dump, ON_LINE)
    center = open_center(paths, policy_root(paths.data_dir.parent))
    privacy = center if uploads else None
    agent = Agent(paths, config, [f"dummy:{dump}"], serve_api=False, privacy=privacy)
    bridge = Bridge.in_process(agent)
    agent.start()
    yield Rig(agent, bridge, center, dump)
    bridge.close()
    agent.stop()
    center.close()


@pytest.fixture
def uploading(qtbot: QtBot, paths: AppPaths, cloud: CloudServer) -> Iterator[Rig]:
    """A personal-mode agent that uploads to the loopback cloud; the page shares its center."""
    config = Config(
        poll_interval_s=0.2,
        cloud_endpoint=cloud.url,
        cloud_ca_bundle=str(cloud.ca_pem),
        cloud_max_requests_per_minute=600,
    )
    yield from _running(paths, config, uploads=True)


@pytest.fixture
def monitoring(qtbot: QtBot, paths: AppPaths) -> Iterator[Rig]:
    """A personal-mode agent without uploads; the page is handed the rig's center."""
    yield from _running(paths, Config(poll_interval_s=0.2), uploads=False)


def panel_of(qtbot: QtBot, rig: Rig, center: PrivacyCenter | None = None) -> PrivacyPanel:
    page = PrivacyPage(rig.bridge, center=center)
    qtbot.addWidget(page)
    # qtbot holds widgets weakly; the rig keeps the page alive for the whole test.
    rig.pages.append(page)
    assert page.panel is not None
    return page.panel


def posts_for(cloud: CloudServer, purpose: Purpose) -> list[Received]:
    return [r for r in cloud.posts() if isinstance(r.body, dict) and r.body["purpose"] == purpose]


def is_deletion_request(received: Received) -> bool:
    body = received.body
    return isinstance(body, dict) and DELETION_REQUEST_KEY in body.get("data", {})


def answer_next_message_box(qtbot: QtBot, button: str, seen: list[str]) -> None:
    """Press ``button`` in the next modal message box once it is up; record its text."""

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, press)
            return
        seen.append(box.text())
        [chosen] = [b for b in box.buttons() if b.text().replace("&", "") == button]
        chosen.click()

    QTimer.singleShot(0, press)


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    assert item is not None, f"no cell at {row}, {column}"
    return item.text()


def has_reading(rig: Rig) -> Callable[[], bool]:
    return lambda: any(s.reading is not None for s in rig.bridge.states())


# --- Nothing by default ------------------------------------------------------------------


def test_nothing_is_preselected_on_a_fresh_install(qtbot: QtBot, uploading: Rig) -> None:
    panel = panel_of(qtbot, uploading)
    assert set(panel.rows) == set(UPLOAD_PURPOSES)
    for row in panel.rows.values():
        assert not row.allow.isChecked()
        assert not row.deny.isChecked()
        assert row.allow.isEnabled()
        assert row.status.text() == "Off: not decided yet"
        for box in row.subtoggles.values():
            assert not box.isChecked()
            assert not box.isEnabled()
    assert all(not v.effective.on for v in uploading.center.views())


def test_each_row_lists_the_inventory_fields_with_shape_badges(
    qtbot: QtBot, uploading: Rig
) -> None:
    panel = panel_of(qtbot, uploading)
    inventory = uploading.center.inventory
    row = panel.rows[REGISTRATION]
    fields = row.fields.fields
    assert fields.field_ids() == [f.id for f in inventory.disclosed_for(REGISTRATION)]
    serial = fields.field_ids().index("ups.serial")
    assert fields.badges()[serial] == category_badge(Category.HIGHLY_SENSITIVE)
    # Each category has its own shape, so a badge never relies on colour.
    shapes = {category_badge(c).split(" ", 1)[0] for c in Category}
    assert len(shapes) == len(Category)
    assert fields.isHidden()
    row.fields.button.click()
    assert not fields.isHidden()
    assert "the Upsight cloud at https://127.0.0.1:" in row.details.text()


# --- Allow and withdraw reach the store and the uploader -----------------------------------


def test_allow_reaches_the_store_and_the_uploader_and_withdrawing_stops_it(
    qtbot: QtBot, uploading: Rig, cloud: CloudServer
) -> None:
    panel = panel_of(qtbot, uploading)
    center = uploading.center
    qtbot.wait_until(has_reading(uploading), timeout=10_000)
    row = panel.rows[ALERTS]

    row.allow.click()

    consent = center.store.consent(ALERTS)
    assert consent.stored is ConsentState.GRANTED
    assert consent.record.surface is Surface.SETTINGS_PANEL
    assert row.allow.isChecked()
    assert row.status.text() == "On: you allowed it"
    # The agent was told at once: it sends without waiting for its next heartbeat.
    cloud.wait_until(lambda c: bool(posts_for(c, ALERTS)), "a cloud_alerts envelope")
    assert [str(p) for p in UPLOAD_PURPOSES if posts_for(cloud, p)] == [ALERTS]

    events = Collector()
    uploading.agent.subscribe(events)
    row.deny.click()

    assert center.store.consent(ALERTS).stored is ConsentState.DENIED
    assert row.deny.isChecked()
    assert "the cloud is asked to delete what it received" in panel.feedback.text()
    cloud.wait_until(
        lambda c: any(is_deletion_request(r) for r in c.posts()), "the deletion request"
    )
    # A power failure makes the uploader send an alert at once, unless the purpose is off.
    write_dump(uploading.dump, ON_BATTERY)
    assert events.wait(lambda: EventKind.ONBATT in events.kinds(), 10)
    assert uploading.agent.uploads is not None
    uploading.agent.uploads.run_due()
    assert center.outbox.pending([ALERTS]) == []
    assert len(posts_for(cloud, ALERTS)) == 1


def test_preview_is_byte_for_byte_what_the_uploader_sends_and_the_ledger_keeps(
    qtbot: QtBot, uploading: Rig, cloud: CloudServer
) -> None:
    panel = panel_of(qtbot, uploading)
    center = uploading.center
    qtbot.wait_until(has_reading(uploading), timeout=10_000)
    row = panel.rows[ALERTS]

    row.preview.click()
    dialog = panel.preview_dialog
    assert dialog is not None
    assert dialog.preview.from_agent
    assert not dialog.preview.allowed
    assert "is off, so nothing is sent" in dialog.note.text()
    assert json.loads(dialog.body.toPlainText()) == dialog.document

    row.allow.click()
    cloud.wait_until(lambda c: bool(posts_for(c, ALERTS)), "a cloud_alerts envelope")
    [sent] = posts_for(cloud, ALERTS)
    # Only the envelope's own id and build time differ between two builds.
    shown = Envelope.from_json(dialog.document)
    received = Envelope.decode(sent.raw)
    same = Envelope.from_json(
        {**dialog.document, "envelope_id": received.envelope_id, "created_at": received.created_at}
    )
    assert same.encode() == sent.raw
    assert shown.data == received.data
    assert shown.data  # the preview held the UPS readings, not only the install's facts

    qtbot.wait_until(
        lambda: any(e.result is LedgerResult.SENT for e in center.ledger.entries(purpose=ALERTS)),
        timeout=10_000,
    )
    panel.refresh()
    ledger = panel.ledger
    ledger.purpose_filter.setCurrentIndex(ledger.purpose_filter.findData(ALERTS))
    assert {e.purpose for e in ledger.entries} == {ALERTS}
    [entry] = ledger.entries
    assert entry.envelope_id == received.envelope_id
    assert entry.payload is not None
    assert entry.payload.encode() == sent.raw
    assert cell(ledger.table, 0, 2) == "Sent"
    ledger.select(0)
    assert json.loads(ledger.payload.toPlainText()) == json.loads(sent.raw)
    ledger.result_filter.setCurrentIndex(ledger.result_filter.findData(LedgerResult.REJECTED))
    assert ledger.entries == []


# --- Policy and hard limits ----------------------------------------------------------------


def test_locked_rows_are_disabled_and_name_the_policy_source(
    qtbot: QtBot, monitoring: Rig, paths: AppPaths, tmp_path: Path
) -> None:
    document = {
        "schema_version": 1,
        "policies": {
            "Purposes": {
                "diagnostics": {"Value": "denied", "Status": "locked"},
                "cloud_alerts": {"Value": "granted", "Status": "locked"},
            }
        },
    }
    root = policy_root(tmp_path, document)
    source = str(root / "etc/upsight/policies/managed/10-corp.json")
    center = open_center(paths, root)
    try:
        panel = panel_of(qtbot, monitoring, center)
        blocked = panel.rows[DIAGNOSTICS]
        assert not blocked.allow.isEnabled()
        assert not blocked.deny.isEnabled()
        assert blocked.managed.text() == "Managed by your organization"
        assert source in blocked.managed.toolTip()
        assert blocked.status.text() == "Off: blocked by your organization"
        enabled = panel.rows[ALERTS]
        assert not enabled.allow.isEnabled()
        assert enabled.managed.text() == "Enabled by your organization"
        assert source in enabled.managed.toolTip()
        free = panel.rows[REGISTRATION]
        assert free.allow.isEnabled()
        assert free.managed.isHidden()
        table = panel.policy.active
        assert "Purposes.diagnostics" in [cell(table, r, 0) for r in range(table.rowCount())]
        assert panel.policy.summary.text().startswith("Managed by your organization")
    finally:
        center.close()


def test_policy_errors_are_listed_with_their_source(
    qtbot: QtBot, monitoring: Rig, paths: AppPaths, tmp_path: Path
) -> None:
    root = policy_root(tmp_path, text="{ not json")
    center = open_center(paths, root)
    try:
        panel = panel_of(qtbot, monitoring, center)
        errors = panel.policy.errors
        assert errors.rowCount() >= 1
        assert cell(errors, 0, 0).endswith("10-corp.json")
        assert panel.problems.isVisibleTo(panel)
        assert "10-corp.json" in panel.problems.text()
        assert all(not r.allow.isEnabled() for r in panel.rows.values())
    finally:
        center.close()


def test_a_hard_limit_keeps_every_row_off_and_says_why(
    qtbot: QtBot, monitoring: Rig, paths: AppPaths, tmp_path: Path
) -> None:
    center = open_center(paths, policy_root(tmp_path), Secrets(FailKeyring()))
    try:
        panel = panel_of(qtbot, monitoring, center)
        for row in panel.rows.values():
            assert not row.allow.isEnabled()
            assert row.status.text().startswith("Off: secure storage unavailable (")
        assert "secure storage unavailable" in panel.problems.text()
        panel.rows[ALERTS].preview.click()
        assert panel.preview_dialog is None
        assert "secure storage unavailable" in panel.feedback.text()
    finally:
        center.close()


# --- Sub-toggles and history ----------------------------------------------------------------


def test_a_subtoggle_opens_only_after_allow_and_is_recorded(qtbot: QtBot, monitoring: Rig) -> None:
    center = monitoring.center
    panel = panel_of(qtbot, monitoring, center)
    row = panel.rows[REGISTRATION]
    clear = row.subtoggles["send_serial_clear"]
    assert not clear.isEnabled()
    row.allow.click()
    assert clear.isEnabled()
    assert not clear.isChecked()
    clear.click()
    assert center.store.subtoggle(REGISTRATION, "send_serial_clear")
    row.deny.click()
    assert not clear.isChecked()
    assert not center.store.subtoggle(REGISTRATION, "send_serial_clear")


def test_consent_history_shows_decisions_newest_first(qtbot: QtBot, monitoring: Rig) -> None:
    center = monitoring.center
    center.grant(DIAGNOSTICS, actor=LocalUser.current(), surface=Surface.CLI)
    panel = panel_of(qtbot, monitoring, center)
    panel.rows[DIAGNOSTICS].deny.click()
    history = panel.history
    assert [e.seq for e in history.entries] == [2, 1]
    assert cell(history.table, 0, 2) == "Allowed \u2192 Not allowed"
    assert cell(history.table, 0, 4) == "Privacy page"
    assert cell(history.table, 1, 4) == "Command line"
    assert "complete and unaltered" in history.chain.text()


def test_export_writes_the_zip_the_manifest_lists(
    qtbot: QtBot, monitoring: Rig, tmp_path: Path
) -> None:
    center = monitoring.center
    center.grant(DIAGNOSTICS, actor=LocalUser.current(), surface=Surface.CLI)
    panel = panel_of(qtbot, monitoring, center)
    out = tmp_path / "export" / "mine.zip"
    panel.data_actions.export_to(out)
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    listed = {f["name"] for f in manifest["files"]}
    assert {"consent.json", "consent_log.jsonl", "ledger.json", "policy.json"} <= listed
    assert listed | {"manifest.json"} == names
    assert str(out) in panel.data_actions.result.text()


def test_delete_local_is_refused_while_the_agent_runs_in_this_window(
    qtbot: QtBot, monitoring: Rig, paths: AppPaths
) -> None:
    center = monitoring.center
    center.grant(DIAGNOSTICS, actor=LocalUser.current(), surface=Surface.CLI)
    panel = panel_of(qtbot, monitoring, center)
    panel.data_actions.delete_local.click()
    assert panel.data_actions.result.text().startswith("Nothing was deleted.")
    assert "Quit Upsight" in panel.data_actions.result.text()
    assert center.store.consent(DIAGNOSTICS).stored is ConsentState.GRANTED
    assert paths.history_db.exists()


def test_request_cloud_deletion_says_what_happens_and_queues_the_request(
    qtbot: QtBot, monitoring: Rig
) -> None:
    center = monitoring.center
    actions = panel_of(qtbot, monitoring, center).data_actions
    seen: list[str] = []
    answer_next_message_box(qtbot, "Cancel", seen)
    actions.request_deletion.click()
    assert seen == [actions.request_deletion_text()]
    assert center.outbox.pending([Purpose.CONTROL]) == []

    answer_next_message_box(qtbot, "Send request", seen)
    actions.request_deletion.click()
    [queued] = center.outbox.pending([Purpose.CONTROL])
    assert queued.envelope.data[DELETION_REQUEST_KEY] == "all"
    assert queued.envelope.envelope_id in actions.result.text()


def test_reset_identifiers_asks_first_and_then_replaces_the_install_id(
    qtbot: QtBot, monitoring: Rig
) -> None:
    center = monitoring.center
    center.grant(DIAGNOSTICS, actor=LocalUser.current(), surface=Surface.CLI)
    before = center.store.install_id
    actions = panel_of(qtbot, monitoring, center).data_actions
    seen: list[str] = []
    answer_next_message_box(qtbot, "Cancel", seen)
    actions.reset.click()
    assert center.store.install_id == before

    answer_next_message_box(qtbot, "Reset", seen)
    actions.reset.click()
    assert seen == [actions.reset_text()] * 2
    assert center.store.install_id != before
    assert before in center.store.previous_install_ids
    assert center.store.consent(DIAGNOSTICS).stored is ConsentState.GRANTED


def test_without_an_uploading_agent_the_preview_holds_only_the_install(
    qtbot: QtBot, monitoring: Rig
) -> None:
    center = monitoring.center
    panel = panel_of(qtbot, monitoring, center)
    panel.rows[ALERTS].preview.click()
    dialog = panel.preview_dialog
    assert dialog is not None
    assert not dialog.preview.from_agent
    assert dialog.without_readings.text().startswith("No uploading Upsight service answered")
    envelope = Envelope.from_json(dialog.document)
    assert envelope.purpose is ALERTS
    assert envelope.client["client.install_id"] == center.store.install_id
    assert "ups.status" not in envelope.data
