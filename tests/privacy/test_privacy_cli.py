"""``upsight privacy``: every action on real files, with a test keychain, and the real command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from jsonschema import Draft202012Validator

from tests.keyrings import DIR_ENV, DirectoryKeyring, MemoryKeyring
from tests.privacy.samples import snapshot
from upsight.agent import privacy_cli
from upsight.agent.history.store import HistoryStore
from upsight.agent.paths import AppPaths
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import load_inventory
from upsight.agent.privacy.ledger import LedgerResult
from upsight.agent.privacy.outbox import DELETION_REQUEST_KEY
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import INSTALL_SECRET_ITEM, SERVICE, TOKEN_ITEM, Secrets
from upsight.drivers.model import Reading, Status, UpsFlag

if TYPE_CHECKING:
    from upsight.agent.api.client import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]
UPSIGHT = Path(sys.executable).with_name("upsight")
ALERTS = Purpose.CLOUD_ALERTS
ENERGY = Purpose.ENERGY_HISTORY
REGISTRATION = Purpose.DEVICE_REGISTRATION
SERIAL_CLEAR = "send_serial_clear"
TOKEN = "tok-3c9e1a7f52"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


class FakeAgent:
    """The running agent's local API as the CLI reaches it: records calls, answers from a table."""

    def __init__(self, answers: Mapping[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, /, **params: Any) -> Any:
        self.calls.append((method, params))
        return self.answers.get(method)

    def client(self) -> ApiClient:
        return cast("ApiClient", self)


@dataclass
class Install:
    """One install's directories, keychain and admin policy, with the CLI run against them."""

    paths: AppPaths
    keyring: MemoryKeyring
    policy_root: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    @property
    def privacy_dir(self) -> Path:
        return self.paths.data_dir / "privacy"

    def center(self) -> PrivacyCenter:
        return PrivacyCenter(
            self.privacy_dir,
            secrets=Secrets(self.keyring),
            policy=lambda: load_policy(self.policy_root, "linux"),
        )

    def run(self, *argv: str, stdin: str = "", agent: FakeAgent | None = None) -> Run:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = privacy_cli.main(list(argv), self.paths, agent.client() if agent else None)
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def show(self) -> dict[str, Any]:
        shown = self.run("show", "--json")
        assert shown.code == 0, shown.err
        document: dict[str, Any] = json.loads(shown.out)
        return document

    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["purpose"]: row for row in self.show()["purposes"]}

    def consent_file(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.privacy_dir / "consent.json").read_text())
        return document

    def queued(self, purpose: Purpose) -> list[Envelope]:
        center = self.center()
        try:
            return [q.envelope for q in center.outbox.pending([purpose])]
        finally:
            center.close()

    def policy(self, level: str, document: Mapping[str, Any]) -> Path:
        directory = self.policy_root / "etc" / "upsight" / "policies" / level
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "10-corp.json"
        path.write_text(json.dumps({"schema_version": 1, "policies": document}))
        return path


@pytest.fixture
def install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Install:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    made = Install(paths, MemoryKeyring(), tmp_path / "root", capsys, monkeypatch)
    monkeypatch.setattr(privacy_cli, "_center", lambda _paths: made.center())
    return made


def deletion_requests(envelopes: list[Envelope]) -> list[Envelope]:
    return [e for e in envelopes if DELETION_REQUEST_KEY in e.data]


def receipts(envelopes: list[Envelope]) -> list[Envelope]:
    return [e for e in envelopes if "consent.state" in e.data]


# --- show -----------------------------------------------------------------------------


def test_show_starts_with_every_purpose_undecided_and_off(install: Install) -> None:
    shown = install.run("show")

    assert shown.code == 0
    lines = shown.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [str(p) for p in UPLOAD_PURPOSES]
    for line in lines[:-1]:
        assert line.split()[1] == "off"
        assert line.endswith("stored: undetermined; not decided yet: off")
    assert lines[-1] == "queued: nothing"


def test_show_after_a_grant_says_on_by_your_choice(install: Install) -> None:
    install.run("grant", "cloud_alerts")

    lines = {line.split()[0]: line for line in install.run("show").out.splitlines()}

    assert lines["cloud_alerts"].split()[1] == "on"
    assert "stored: granted; your choice (cli, " in lines["cloud_alerts"]
    assert lines["energy_history"].split()[1] == "off"
    assert lines["queued:"] == "queued: control 1"


def test_show_json_carries_every_purpose_and_no_problems(install: Install) -> None:
    install.run("grant", "energy_history")

    document = install.show()

    assert set(document) == {"purposes", "problems", "uploads"}
    assert document["problems"] == []
    assert document["uploads"] is None
    rows = {row["purpose"]: row for row in document["purposes"]}
    assert list(rows) == [str(p) for p in UPLOAD_PURPOSES]
    assert rows["energy_history"]["effective"] == "on"
    assert rows["energy_history"]["stored"] == "granted"
    assert rows["energy_history"]["name"] == "Electricity history in the cloud"
    assert rows["cloud_alerts"] == {
        "purpose": "cloud_alerts",
        "name": "Cloud alerts & remote status",
        "effective": "off",
        "stored": "undetermined",
        "decided_by": "not decided yet: off",
        "locked": False,
    }


def test_show_includes_what_the_running_agent_reports(install: Install) -> None:
    status = {
        "endpoint": "https://eu.cloud.upsight.example",
        "problem": "not signed in",
        "sender": {"state": "waiting", "reason": "rate limited"},
    }
    agent = FakeAgent({"privacy.status": status})

    text = install.run("show", agent=agent).out

    assert "endpoint: https://eu.cloud.upsight.example" in text
    assert "uploads: not signed in" in text
    assert "sender: waiting rate limited" in text
    assert json.loads(install.run("show", "--json", agent=agent).out)["uploads"] == status
    assert [method for method, _ in agent.calls] == ["privacy.status", "privacy.status"]


def test_a_corrupt_consent_file_turns_everything_off_and_names_the_file(
    install: Install,
) -> None:
    install.run("grant", "cloud_alerts")
    consent = install.privacy_dir / "consent.json"
    consent.write_text("{ this is not json")

    document = install.show()

    assert all(row["effective"] == "off" for row in document["purposes"])
    [problem] = document["problems"]
    assert problem.startswith(f"{consent}: is not valid JSON")
    assert "Nothing is uploaded" in problem


def test_a_managed_block_turns_everything_off_and_names_its_source(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    source = install.policy("managed", {"CloudConnection": {"Value": "blocked", "Locked": True}})

    rows = install.rows()

    alerts = rows["cloud_alerts"]
    assert alerts["effective"] == "off"
    assert alerts["stored"] == "granted"
    assert alerts["locked"] is True
    assert alerts["decided_by"] == f"policy_block: {source}"
    assert all(row["effective"] == "off" and row["locked"] for row in rows.values())
    text = install.run("show").out
    assert f"cloud_alerts         off (locked)  stored: granted; policy_block: {source}" in text


def test_withdrawal_stays_possible_while_blocked(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    install.policy("managed", {"CloudConnection": {"Value": "blocked", "Locked": True}})

    done = install.run("withdraw", "cloud_alerts")

    assert done.code == 0
    assert done.out.startswith("cloud_alerts: not allowed.")
    assert install.rows()["cloud_alerts"]["stored"] == "denied"


def test_a_policy_that_grants_diagnostics_fails_closed_with_an_error(install: Install) -> None:
    install.run("grant", "diagnostics")
    source = install.policy(
        "managed", {"Purposes": {"diagnostics": {"Value": "granted", "Status": "locked"}}}
    )

    document = install.show()

    rows = {row["purpose"]: row for row in document["purposes"]}
    assert rows["diagnostics"]["effective"] == "off"
    assert rows["diagnostics"]["locked"] is True
    assert rows["diagnostics"]["decided_by"] == f"fail_closed: {source}"
    [problem] = document["problems"]
    assert problem.startswith(f"policy {source}: policies.Purposes.diagnostics.Value: ")
    assert "'granted' is rejected" in problem


# --- grant and withdraw -----------------------------------------------------------------


def test_grant_says_how_to_withdraw_queues_a_receipt_and_tells_the_agent(
    install: Install,
) -> None:
    agent = FakeAgent()

    done = install.run("grant", "cloud_alerts", agent=agent)

    assert done.code == 0
    assert done.out == (
        "cloud_alerts: allowed. Withdraw any time: upsight privacy withdraw cloud_alerts\n"
    )
    [receipt] = receipts(install.queued(Purpose.CONTROL))
    assert receipt.data["consent.purpose"] == "cloud_alerts"
    assert receipt.data["consent.state"] == "granted"
    assert agent.calls == [("privacy.changed", {})]


def test_withdraw_purges_and_queues_a_receipt_and_a_deletion_request(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    install.run("grant", "energy_history")
    center = install.center()
    queued = center.enqueue(ALERTS, snapshot())
    center.close()
    assert queued is not None
    install_id = install.consent_file()["install_id"]

    done = install.run("withdraw", "cloud_alerts")

    assert done.code == 0
    assert done.out == (
        "cloud_alerts: not allowed. Deleted 1 queued envelope(s); "
        "asked the cloud to delete what it received.\n"
    )
    assert install.queued(ALERTS) == []
    control = install.queued(Purpose.CONTROL)
    assert [r.data["consent.state"] for r in receipts(control)] == ["granted", "granted", "denied"]
    [request] = deletion_requests(control)
    assert request.data[DELETION_REQUEST_KEY] == ["cloud_alerts"]
    assert request.data["deletion.install_ids"] == [install_id]
    assert install.consent_file()["install_id"] == install_id
    center = install.center()
    [dropped] = center.ledger.entries()
    center.close()
    assert dropped.envelope_id == queued.envelope_id
    assert dropped.result is LedgerResult.DROPPED_CONSENT


def test_withdrawing_the_last_granted_purpose_rotates_the_install_id(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    before = install.consent_file()["install_id"]

    done = install.run("withdraw", "cloud_alerts")

    after = install.consent_file()["install_id"]
    assert done.out.endswith("; new install identifiers.\n")
    assert after != before
    assert install.consent_file()["previous_install_ids"] == [before]
    [request] = deletion_requests(install.queued(Purpose.CONTROL))
    assert request.data["deletion.install_ids"] == [before]


def test_withdrawing_twice_says_already(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    install.run("withdraw", "cloud_alerts")
    control_before = len(install.queued(Purpose.CONTROL))

    again = install.run("withdraw", "cloud_alerts")

    assert again.code == 0
    assert again.out == "cloud_alerts: already not allowed.\n"
    assert len(install.queued(Purpose.CONTROL)) == control_before


def test_an_unknown_purpose_is_a_usage_error_naming_the_choices(install: Install) -> None:
    with pytest.raises(SystemExit) as exited:
        install.run("grant", "telemetry")

    assert exited.value.code == 2
    err = install.capsys.readouterr().err
    assert "unknown purpose 'telemetry'; one of " in err
    assert all(str(p) in err for p in UPLOAD_PURPOSES)
    assert not (install.privacy_dir / "consent.json").exists()


@pytest.mark.parametrize("purpose", ["control", "local"])
def test_purposes_that_are_not_choices_cannot_be_granted(install: Install, purpose: str) -> None:
    with pytest.raises(SystemExit) as exited:
        install.run("grant", purpose)

    assert exited.value.code == 2
    assert f"{purpose} is not a choice" in install.capsys.readouterr().err


# --- subtoggle --------------------------------------------------------------------------


def test_a_subtoggle_cannot_be_switched_on_before_its_purpose_is_granted(
    install: Install,
) -> None:
    done = install.run("subtoggle", "device_registration", SERIAL_CLEAR, "on")

    assert done.code == 1
    assert done.out == ""
    assert done.err == (
        f"upsight privacy: grant device_registration before switching on {SERIAL_CLEAR}\n"
    )


def test_an_unknown_subtoggle_is_refused(install: Install) -> None:
    install.run("grant", "device_registration")

    done = install.run("subtoggle", "device_registration", "send_everything", "on")

    assert done.code == 1
    assert done.err.startswith("upsight privacy: ")
    assert "send_everything" in done.err


def test_switching_a_subtoggle_off_drops_what_was_queued_under_it(install: Install) -> None:
    install.run("grant", "device_registration")
    on = install.run("subtoggle", "device_registration", SERIAL_CLEAR, "on")
    assert on.out == f"device_registration: {SERIAL_CLEAR} on.\n"
    record = install.consent_file()["purposes"]["device_registration"]
    assert record["subtoggles"] == {SERIAL_CLEAR: True}
    center = install.center()
    queued = center.enqueue(REGISTRATION, snapshot())
    center.close()
    assert queued is not None
    assert queued.data["ups.serial"] == "AS1234567890"

    off = install.run("subtoggle", "device_registration", SERIAL_CLEAR, "off")

    assert off.code == 0
    assert off.out == f"device_registration: {SERIAL_CLEAR} off.\n"
    after = install.consent_file()["purposes"]["device_registration"]
    assert after["subtoggles"] == {SERIAL_CLEAR: False}
    assert after["epoch"] == record["epoch"] + 1
    assert after["stored"] == "granted"
    assert install.queued(REGISTRATION) == []


# --- preview ----------------------------------------------------------------------------


def payload_validator() -> Draft202012Validator:
    text = (resources.files("upsight.resources") / "payload.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def test_preview_without_an_agent_prints_a_valid_envelope_and_queues_nothing(
    install: Install,
) -> None:
    install.run("grant", "cloud_alerts")
    before = install.queued(Purpose.CONTROL)

    done = install.run("preview", "cloud_alerts")

    assert done.code == 0
    assert done.err == (
        "upsight: no running agent, so no UPS readings: this preview holds only what "
        "describes this install\n"
    )
    document = json.loads(done.out)
    assert document["purpose"] == "cloud_alerts"
    assert document["client"]["client.install_id"] == install.consent_file()["install_id"]
    assert list(payload_validator().iter_errors(document)) == []
    assert install.queued(ALERTS) == []
    assert install.queued(Purpose.CONTROL) == before


def test_preview_of_a_purpose_that_is_off_says_so(install: Install) -> None:
    done = install.run("preview", "location")

    assert done.code == 0
    assert "upsight: location is off, so nothing is sent; this is what would be\n" in done.err
    document = json.loads(done.out)
    assert document["purpose"] == "location"
    assert list(payload_validator().iter_errors(document)) == []
    center = install.center()
    counts = center.outbox.counts()
    center.close()
    assert all(n == 0 for n, _ in counts.values())


def test_preview_with_an_agent_prints_what_the_agent_would_send(install: Install) -> None:
    envelope = {"purpose": "cloud_alerts", "data": {"ups.status": "online"}}
    agent = FakeAgent({"privacy.preview": {"envelope": envelope, "allowed": True}})

    done = install.run("preview", "cloud_alerts", agent=agent)

    assert json.loads(done.out) == envelope
    assert done.err == ""
    assert agent.calls == [("privacy.preview", {"purpose": "cloud_alerts"})]


# --- ledger -----------------------------------------------------------------------------


def recorded(install: Install) -> tuple[Envelope, Envelope]:
    """Two envelopes in the ledger: one sent, then one rejected."""
    install.run("grant", "cloud_alerts")
    center = install.center()
    try:
        sent = center.enqueue(ALERTS, snapshot())
        rejected = center.enqueue(ALERTS, snapshot())
        assert sent is not None
        assert rejected is not None
        center.ledger.record(sent, LedgerResult.SENT, "HTTP 202")
        center.ledger.record(rejected, LedgerResult.REJECTED, "HTTP 413")
    finally:
        center.close()
    return sent, rejected


def test_an_empty_ledger_says_nothing_was_sent(install: Install) -> None:
    done = install.run("ledger")

    assert done.code == 0
    assert done.out == "Nothing has been sent, rejected or dropped.\n"


def test_ledger_text_lists_newest_first_with_result_size_and_id(install: Install) -> None:
    sent, rejected = recorded(install)

    lines = install.run("ledger").out.splitlines()

    assert len(lines) == 2
    newest, oldest = (line.split() for line in lines)
    assert newest[1:] == [
        "cloud_alerts",
        "rejected",
        str(len(rejected.encode())),
        "B",
        rejected.envelope_id,
        "(HTTP",
        "413)",
    ]
    assert oldest[2] == "sent"
    assert oldest[5] == sent.envelope_id
    assert install.run("ledger", "--limit", "1").out.splitlines() == lines[:1]
    assert install.run("ledger", "--purpose", "energy_history").out == (
        "Nothing has been sent, rejected or dropped.\n"
    )


def test_ledger_payload_prints_the_exact_payload(install: Install) -> None:
    _, rejected = recorded(install)

    out = install.run("ledger", "--limit", "1", "--payload").out

    first, rest = out.split("\n", 1)
    assert rejected.envelope_id in first
    assert json.loads(rest) == json.loads(rejected.encode())


def test_ledger_json_holds_every_entry_with_its_payload(install: Install) -> None:
    sent, rejected = recorded(install)

    entries = json.loads(install.run("ledger", "--format", "json").out)

    assert [e["envelope_id"] for e in entries] == [sent.envelope_id, rejected.envelope_id]
    assert [e["result"] for e in entries] == ["sent", "rejected"]
    assert entries[0]["payload"] == json.loads(sent.encode())
    assert entries[1]["detail"] == "HTTP 413"
    assert entries[0]["fields"] == sorted(entries[0]["fields"])
    assert "ups.battery.charge_pct" in entries[0]["fields"]


def test_ledger_csv_has_a_header_and_a_row_per_entry(install: Install) -> None:
    sent, rejected = recorded(install)

    rows = list(csv.reader(io.StringIO(install.run("ledger", "--format", "csv").out)))

    header, *body = rows
    assert len(body) == 2
    table = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["envelope_id"] for r in table] == [sent.envelope_id, rejected.envelope_id]
    assert [r["result"] for r in table] == ["sent", "rejected"]
    assert json.loads(table[1]["payload"]) == json.loads(rejected.encode())


# --- catalogue --------------------------------------------------------------------------


def test_catalogue_json_lists_every_field_with_its_purposes(install: Install) -> None:
    inventory = load_inventory()

    document = json.loads(install.run("catalogue", "--json").out)

    assert document["inventory_version"] == inventory.version
    listed = {f["field"]: f["purposes"] for f in document["fields"]}
    assert listed == {
        field.id: [str(p) for p in field.purposes] for field in inventory.fields.values()
    }
    serial = next(f for f in document["fields"] if f["field"] == "ups.serial")
    assert serial["category"] == "highly_sensitive"
    assert serial["transform"] == {"device_registration": "hmac_sha256_install_secret"}


def test_catalogue_text_lists_every_field_id(install: Install) -> None:
    inventory = load_inventory()

    rows = list(csv.reader(io.StringIO(install.run("catalogue").out), delimiter="\t"))

    assert rows[0] == ["FIELD", "CATEGORY", "PURPOSES", "DESCRIPTION"]
    assert [row[0] for row in rows[1:]] == [field.id for field in inventory.fields.values()]


# --- history ----------------------------------------------------------------------------


def test_history_prints_each_decision_and_an_intact_chain(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    install.run("withdraw", "cloud_alerts")

    done = install.run("history")

    assert done.code == 0
    lines = done.out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("  cloud_alerts: undetermined -> granted by user via cli")
    assert lines[1].endswith("  cloud_alerts: granted -> denied by user via cli")
    assert lines[2] == "log chain: intact"


def test_history_reports_an_altered_log_line_as_broken(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    install.run("grant", "energy_history")
    log = install.privacy_dir / "consent_log.jsonl"
    first, *rest = log.read_text().splitlines(keepends=True)
    altered = first.replace('"surface":"cli"', '"surface":"settings_panel"')
    assert altered != first
    log.write_text("".join([altered, *rest]))

    done = install.run("history")

    assert done.code == 1
    last = done.out.splitlines()[-1]
    assert last.startswith(f"log chain: BROKEN: {log}: line 1")


# --- export and delete-local ------------------------------------------------------------


def history_db(paths: AppPaths) -> None:
    store = HistoryStore(paths.history_db)
    for i in range(5):
        store.record("ups", Reading(1_800_000_000.0 + i, Status.of(UpsFlag.OL), {"ups.load": 20.0}))
    store.flush()
    store.close()


def test_export_writes_the_zip_with_local_history(install: Install, tmp_path: Path) -> None:
    install.run("grant", "cloud_alerts")
    history_db(install.paths)
    out = tmp_path / "exports" / "mine.zip"

    done = install.run("export", str(out))

    assert done.code == 0
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    listed = {f["name"] for f in manifest["files"]}
    assert done.out == f"Wrote {out}: manifest.json and {len(listed)} files.\n"
    assert names == listed | {"manifest.json"}
    assert {"history/events.jsonl", "history/minutes.jsonl", "history/hours.jsonl"} <= names


def test_delete_local_refuses_while_the_agent_runs(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    history_db(install.paths)

    done = install.run("delete-local", "--yes", agent=FakeAgent())

    assert done.code == 1
    assert done.err == (
        "upsight privacy: stop the agent first: it holds the history database open\n"
    )
    assert install.paths.history_db.exists()
    assert install.rows()["cloud_alerts"]["stored"] == "granted"


@pytest.mark.parametrize("answer", ["n\n", "", "yes please\n"], ids=["no", "eof", "not-y"])
def test_delete_local_asks_first_and_anything_but_y_deletes_nothing(
    install: Install, answer: str
) -> None:
    install.run("grant", "cloud_alerts")
    history_db(install.paths)
    install.keyring.set_password(SERVICE, TOKEN_ITEM, TOKEN)

    done = install.run("delete-local", stdin=answer)

    assert done.code == 1
    assert done.out.startswith("Delete all local Upsight data? [y/N] ")
    assert done.out.endswith("Nothing deleted.\n")
    assert install.paths.history_db.exists()
    assert install.rows()["cloud_alerts"]["stored"] == "granted"
    assert install.keyring.get_password(SERVICE, TOKEN_ITEM) == TOKEN


def test_delete_local_with_yes_leaves_only_denials_and_deletion_requests(
    install: Install,
) -> None:
    install.run("grant", "cloud_alerts")
    center = install.center()
    queued = center.enqueue(ALERTS, snapshot())
    assert queued is not None
    center.ledger.record(queued, LedgerResult.SENT, "HTTP 202")
    center.close()
    history_db(install.paths)
    install.keyring.set_password(SERVICE, TOKEN_ITEM, TOKEN)
    install_id = install.consent_file()["install_id"]
    secret = install.keyring.get_password(SERVICE, INSTALL_SECRET_ITEM)

    done = install.run("delete-local", "--yes")

    assert done.code == 0
    assert done.out.startswith("Deleted: history yes, ")
    assert "sign-in yes" in done.out
    assert not install.paths.history_db.exists()
    center = install.center()
    try:
        assert center.ledger.entries() == []
        pending = [q.envelope for q in center.outbox.pending()]
    finally:
        center.close()
    assert pending
    assert all(e.purpose is Purpose.CONTROL and DELETION_REQUEST_KEY in e.data for e in pending)
    assert install.keyring.get_password(SERVICE, TOKEN_ITEM) is None
    assert {row["stored"] for row in install.rows().values()} == {"denied"}
    assert install.consent_file()["install_id"] != install_id
    assert install.keyring.get_password(SERVICE, INSTALL_SECRET_ITEM) not in (None, secret)


def test_delete_local_goes_ahead_on_y(install: Install) -> None:
    history_db(install.paths)

    done = install.run("delete-local", stdin="y\n")

    assert done.code == 0
    assert "Deleted: history yes" in done.out
    assert not install.paths.history_db.exists()


# --- request-deletion, reset-identifiers, token -----------------------------------------


def test_request_deletion_for_chosen_purposes(install: Install) -> None:
    install.run("grant", "cloud_alerts")
    agent = FakeAgent()

    done = install.run("request-deletion", "cloud_alerts", "energy_history", agent=agent)

    [request] = deletion_requests(install.queued(Purpose.CONTROL))
    assert done.out == f"Deletion request {request.envelope_id} queued.\n"
    assert request.data[DELETION_REQUEST_KEY] == ["cloud_alerts", "energy_history"]
    assert request.data["deletion.install_ids"] == [install.consent_file()["install_id"]]
    assert agent.calls == [("privacy.changed", {})]


def test_request_deletion_without_purposes_covers_them_all(install: Install) -> None:
    install.run("request-deletion")

    [request] = deletion_requests(install.queued(Purpose.CONTROL))
    assert request.data[DELETION_REQUEST_KEY] == "all"


def test_reset_identifiers_replaces_the_install_id_and_the_pseudonym_key(
    install: Install,
) -> None:
    install.run("grant", "cloud_alerts")
    install_id = install.consent_file()["install_id"]
    secret = install.keyring.get_password(SERVICE, INSTALL_SECRET_ITEM)

    done = install.run("reset-identifiers")

    assert done.code == 0
    assert "earlier uploads can no longer be linked" in done.out
    assert install.consent_file()["install_id"] != install_id
    assert install.keyring.get_password(SERVICE, INSTALL_SECRET_ITEM) not in (None, secret)
    assert install.rows()["cloud_alerts"]["effective"] == "on"


def test_token_set_reads_stdin_and_clear_deletes_it(install: Install) -> None:
    stored = install.run("token", "set", stdin=f"{TOKEN}\n")

    assert stored.code == 0
    assert stored.out == "The device token is stored in the system keychain.\n"
    assert install.keyring.get_password(SERVICE, TOKEN_ITEM) == TOKEN
    assert TOKEN not in stored.out + stored.err

    cleared = install.run("token", "clear")

    assert cleared.code == 0
    assert cleared.out == "Signed out: the device token is deleted.\n"
    assert install.keyring.get_password(SERVICE, TOKEN_ITEM) is None
    assert install.run("token", "clear").code == 0


@pytest.mark.parametrize("stdin", ["", "   \n"], ids=["empty", "blank"])
def test_token_set_without_a_token_is_an_error(install: Install, stdin: str) -> None:
    done = install.run("token", "set", stdin=stdin)

    assert done.code == 1
    assert done.err == "upsight privacy: no token on standard input\n"
    assert install.keyring.get_password(SERVICE, TOKEN_ITEM) is None


# --- the real command -------------------------------------------------------------------


def command_env(tmp_path: Path, keyring_backend: str) -> dict[str, str]:
    for name in ("home", "config", "data", "run", "keys"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "XDG_DATA_HOME": str(tmp_path / "home" / ".local" / "share"),
        "UPSIGHT_CONFIG_DIR": str(tmp_path / "config"),
        "UPSIGHT_DATA_DIR": str(tmp_path / "data"),
        "UPSIGHT_RUNTIME_DIR": str(tmp_path / "run"),
        "PYTHON_KEYRING_BACKEND": keyring_backend,
        DIR_ENV: str(tmp_path / "keys"),
        "PYTHONPATH": str(REPO_ROOT),
    }


def upsight(
    env: dict[str, str], *args: str, stdin: str = "", module: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "upsight.agent.cli"] if module else [str(UPSIGHT)]
    return subprocess.run(
        [*command, "privacy", *args],
        env=env,
        cwd=env["HOME"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_shares_consent_and_keychain_with_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = command_env(tmp_path, "tests.keyrings.DirectoryKeyring")
    monkeypatch.setenv(DIR_ENV, env[DIR_ENV])

    granted = upsight(env, "grant", "cloud_alerts")
    token = upsight(env, "token", "set", stdin=f"{TOKEN}\n", module=False)
    shown = upsight(env, "show", "--json", module=False)

    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.startswith("cloud_alerts: allowed.")
    assert token.returncode == 0, token.stderr
    assert shown.returncode == 0, shown.stderr
    rows = {row["purpose"]: row for row in json.loads(shown.stdout)["purposes"]}
    assert rows["cloud_alerts"]["effective"] == "on"
    secrets = Secrets(DirectoryKeyring())
    assert secrets.token() == TOKEN
    center = PrivacyCenter(tmp_path / "data" / "privacy", secrets=secrets)
    try:
        assert center.store.consent(ALERTS).granted
    finally:
        center.close()


def test_without_a_system_keychain_the_command_keeps_everything_off(tmp_path: Path) -> None:
    env = command_env(tmp_path, "keyring.backends.fail.Keyring")

    granted = upsight(env, "grant", "cloud_alerts")
    shown = upsight(env, "show", "--json")
    token = upsight(env, "token", "set", stdin=f"{TOKEN}\n")

    assert granted.returncode == 0, granted.stderr
    document = json.loads(shown.stdout)
    assert all(row["effective"] == "off" and row["locked"] for row in document["purposes"])
    [problem] = document["problems"]
    assert problem.startswith("secure storage unavailable (keyring.backends.fail.Keyring: ")
    assert "no system keychain" in problem
    assert token.returncode == 1
    assert token.stderr.startswith("upsight privacy: secure storage unavailable ")
    assert TOKEN not in token.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(TOKEN not in p.read_text(errors="replace") for p in written)
