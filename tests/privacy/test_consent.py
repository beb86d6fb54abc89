"""The consent store: defaults, decisions, epochs, re-consent, the hash chain and failing closed."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from upsight.agent.privacy import consent as consent_module
from upsight.agent.privacy.consent import (
    CONSENT_FILE,
    GENESIS_HASH,
    LOG_FILE,
    ConsentError,
    ConsentState,
    ConsentStore,
    ConsentStoreError,
    CurrentVersions,
    LocalUser,
    Notice,
    OrgPolicy,
    Source,
    Surface,
    entry_hash,
)
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose, prompt_versions

KEY = b"k" * 32
USER = LocalUser(1000)
PANEL = Surface.SETTINGS_PANEL
POLICY = OrgPolicy("/etc/upsight/policies/managed/10-corp.json")
NOTICE = Notice("privacy-notice", "2026-09-01", "ab" * 32, "en-US")
VERSIONS = CurrentVersions(NOTICE, inventory_version=1, app_version="1.4.2")
ALERTS = Purpose.CLOUD_ALERTS
REGISTRATION = Purpose.DEVICE_REGISTRATION
SERIAL = "send_serial_clear"


def open_store(directory: Path, versions: CurrentVersions = VERSIONS, **kw: Any) -> ConsentStore:
    return ConsentStore(directory, id_key=KEY, versions=versions, **kw)


def with_prompt(purpose: Purpose, version: int) -> CurrentVersions:
    return dataclasses.replace(VERSIONS, prompt_versions={**prompt_versions(), purpose: version})


def log_lines(directory: Path) -> list[dict[str, Any]]:
    text = (directory / LOG_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def write_lines(directory: Path, lines: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (directory / LOG_FILE).write_text(text, encoding="utf-8")


@pytest.fixture
def store(tmp_path: Path) -> ConsentStore:
    return open_store(tmp_path)


# --- Defaults and decisions -------------------------------------------------------


def test_every_upload_purpose_starts_undetermined_and_off(tmp_path: Path) -> None:
    store = open_store(tmp_path / "new")
    for purpose, view in store.snapshot().items():
        assert view.state is ConsentState.UNDETERMINED, purpose
        assert not view.granted
        assert not store.is_granted(purpose)
        assert view.epoch == 0
    assert set(store.snapshot()) == set(UPLOAD_PURPOSES)
    assert store.error is None
    assert not (tmp_path / "new").exists(), "reading must not create anything"


def test_local_and_control_are_not_choices(store: ConsentStore) -> None:
    for purpose in (Purpose.LOCAL, Purpose.CONTROL):
        with pytest.raises(ConsentError, match="not a consent choice"):
            store.consent(purpose)
        with pytest.raises(ConsentError):
            store.grant(purpose, actor=USER, surface=PANEL)


def test_grant_withdraw_and_reset_are_one_call_each_and_persist(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.grant(ALERTS, actor=USER, surface=Surface.FIRST_RUN_DIALOG)
    assert store.is_granted(ALERTS)
    assert open_store(tmp_path).is_granted(ALERTS)
    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    assert open_store(tmp_path).consent(ALERTS).state is ConsentState.DENIED
    store.reset(ALERTS, actor=USER, surface=PANEL)
    assert open_store(tmp_path).consent(ALERTS).state is ConsentState.UNDETERMINED
    assert [(e.from_state, e.to_state) for e in store.history()] == [
        (ConsentState.UNDETERMINED, ConsentState.GRANTED),
        (ConsentState.GRANTED, ConsentState.DENIED),
        (ConsentState.DENIED, ConsentState.UNDETERMINED),
    ]


def test_a_decision_records_who_when_where_and_under_which_versions(tmp_path: Path) -> None:
    store = open_store(tmp_path, clock=lambda: 1788344103.0)
    entry = store.grant(ALERTS, actor=USER, surface=Surface.FIRST_RUN_DIALOG)
    assert entry is not None
    record = store.consent(ALERTS).record
    assert record.decided_at == entry.ts == "2026-09-02T10:15:03Z"
    assert record.surface is Surface.FIRST_RUN_DIALOG
    assert record.source is Source.USER
    assert (record.prompt_version, record.inventory_version) == (1, 1)
    assert record.app_version == entry.app_version == "1.4.2"
    assert entry.notice_version == "2026-09-01"
    assert record.decided_by == entry.decided_by
    assert entry.decided_by.kind == "local_user"
    assert entry.decided_by.id_hmac is not None
    assert len(entry.decided_by.id_hmac) == 64
    document = json.loads((tmp_path / CONSENT_FILE).read_text(encoding="utf-8"))
    assert document["schema"] == "upsight.consent/1"
    assert document["notice"] == dataclasses.asdict(NOTICE)
    assert document["purposes"]["cloud_alerts"]["stored"] == "granted"


def test_only_a_keyed_hash_of_the_user_is_stored(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.grant(
        ALERTS, actor=LocalUser("S-1-5-21-1004336348-1177238915-682003330-512"), surface=PANEL
    )
    files = (tmp_path / CONSENT_FILE).read_text() + (tmp_path / LOG_FILE).read_text()
    assert "S-1-5-21" not in files
    other = ConsentStore(tmp_path / "b", id_key=b"x" * 32, versions=VERSIONS)
    mine = store.grant(REGISTRATION, actor=USER, surface=PANEL)
    theirs = other.grant(REGISTRATION, actor=USER, surface=PANEL)
    assert mine is not None
    assert theirs is not None
    assert mine.decided_by.id_hmac != theirs.decided_by.id_hmac


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        ConsentStore(tmp_path, id_key=b"short", versions=VERSIONS)


def test_repeating_a_decision_writes_nothing(store: ConsentStore) -> None:
    assert store.grant(ALERTS, actor=USER, surface=PANEL) is not None
    assert store.grant(ALERTS, actor=USER, surface=Surface.FIRST_RUN_DIALOG) is None
    assert store.withdraw(ALERTS, actor=USER, surface=PANEL) is not None
    assert store.withdraw(ALERTS, actor=USER, surface=PANEL) is None
    assert len(store.history()) == 2


def test_an_organisation_may_grant_only_org_grantable_purposes(store: ConsentStore) -> None:
    entry = store.grant(ALERTS, actor=POLICY, surface=Surface.POLICY)
    assert entry is not None
    assert entry.source is Source.ORG_POLICY
    assert entry.decided_by.to_json() == {"kind": "policy", "ref": POLICY.ref}
    for purpose in (Purpose.DIAGNOSTICS, Purpose.USAGE_ANALYTICS, Purpose.LOCATION):
        with pytest.raises(ConsentError, match="only the user"):
            store.grant(purpose, actor=POLICY, surface=Surface.POLICY)
    # The user's own grant replaces the organisation's as the source.
    assert store.grant(ALERTS, actor=USER, surface=PANEL) is not None
    assert store.consent(ALERTS).record.source is Source.USER


def test_actors_must_use_their_own_surfaces(store: ConsentStore) -> None:
    with pytest.raises(ConsentError, match="through policy"):
        store.grant(ALERTS, actor=POLICY, surface=PANEL)
    with pytest.raises(ConsentError, match="dialog, panel or CLI"):
        store.grant(ALERTS, actor=USER, surface=Surface.MSI_PRESET)


# --- Sub-toggles ----------------------------------------------------------------------


def test_subtoggles_need_a_grant_and_the_user(store: ConsentStore) -> None:
    with pytest.raises(ConsentError, match="grant device_registration before"):
        store.set_subtoggle(REGISTRATION, SERIAL, True, actor=USER, surface=PANEL)
    store.grant(REGISTRATION, actor=USER, surface=PANEL)
    with pytest.raises(ConsentError, match="only the user"):
        store.set_subtoggle(REGISTRATION, SERIAL, True, actor=POLICY, surface=Surface.POLICY)
    with pytest.raises(ConsentError, match="no sub-toggle"):
        store.set_subtoggle(REGISTRATION, "send_everything", True, actor=USER, surface=PANEL)
    entry = store.set_subtoggle(REGISTRATION, SERIAL, True, actor=USER, surface=PANEL)
    assert entry is not None
    assert entry.subtoggle == (SERIAL, True)
    assert store.subtoggle(REGISTRATION, SERIAL)


def test_withdrawing_clears_subtoggles(store: ConsentStore) -> None:
    store.grant(REGISTRATION, actor=USER, surface=PANEL)
    store.set_subtoggle(REGISTRATION, SERIAL, True, actor=USER, surface=PANEL)
    store.withdraw(REGISTRATION, actor=USER, surface=PANEL)
    store.grant(REGISTRATION, actor=USER, surface=PANEL)
    assert not store.subtoggle(REGISTRATION, SERIAL)


# --- Epochs ---------------------------------------------------------------------------


def test_the_epoch_rises_each_time_a_grant_ends(store: ConsentStore) -> None:
    def epoch() -> int:
        return store.consent(ALERTS).epoch

    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    assert epoch() == 0, "denying what was never granted ends no grant"
    store.grant(ALERTS, actor=USER, surface=PANEL)
    assert epoch() == 0
    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    assert epoch() == 1
    store.grant(ALERTS, actor=USER, surface=PANEL)
    store.reset(ALERTS, actor=USER, surface=PANEL)
    assert epoch() == 2
    assert [e.epoch for e in store.history()] == [0, 0, 1, 1, 2]


def test_switching_a_subtoggle_off_starts_a_new_epoch(store: ConsentStore) -> None:
    store.grant(REGISTRATION, actor=USER, surface=PANEL)
    store.set_subtoggle(REGISTRATION, SERIAL, True, actor=USER, surface=PANEL)
    assert store.consent(REGISTRATION).epoch == 0
    store.set_subtoggle(REGISTRATION, SERIAL, False, actor=USER, surface=PANEL)
    assert store.consent(REGISTRATION).epoch == 1
    assert store.is_granted(REGISTRATION)


# --- Re-consent ----------------------------------------------------------------------


def test_a_new_prompt_version_asks_again(tmp_path: Path) -> None:
    open_store(tmp_path).grant(ALERTS, actor=USER, surface=PANEL)
    open_store(tmp_path).withdraw(Purpose.DIAGNOSTICS, actor=USER, surface=PANEL)
    bumped = open_store(tmp_path, with_prompt(ALERTS, 2))
    view = bumped.consent(ALERTS)
    assert view.state is ConsentState.UNDETERMINED
    assert view.stored is ConsentState.GRANTED
    assert "prompt version 1" in view.reason
    assert not bumped.is_granted(ALERTS)
    assert bumped.consent(Purpose.DIAGNOSTICS).state is ConsentState.DENIED, "other rows keep"


def test_a_new_inventory_version_asks_again_for_every_choice(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    store.withdraw(Purpose.LOCATION, actor=USER, surface=PANEL)
    bumped = open_store(tmp_path, dataclasses.replace(VERSIONS, inventory_version=2))
    for purpose in (ALERTS, Purpose.LOCATION):
        view = bumped.consent(purpose)
        assert view.state is ConsentState.UNDETERMINED
        assert "inventory version 1" in view.reason


def test_an_older_build_does_not_honour_a_newer_answer(tmp_path: Path) -> None:
    open_store(tmp_path, with_prompt(ALERTS, 3)).grant(ALERTS, actor=USER, surface=PANEL)
    assert not open_store(tmp_path).is_granted(ALERTS)


def test_answering_again_under_the_new_version_starts_a_new_epoch(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.grant(REGISTRATION, actor=USER, surface=PANEL)
    store.set_subtoggle(REGISTRATION, SERIAL, True, actor=USER, surface=PANEL)
    bumped = open_store(tmp_path, with_prompt(REGISTRATION, 2))
    assert not bumped.subtoggle(REGISTRATION, SERIAL)
    entry = bumped.grant(REGISTRATION, actor=USER, surface=Surface.FIRST_RUN_DIALOG)
    assert entry is not None
    assert entry.prompt_version == 2
    view = bumped.consent(REGISTRATION)
    assert view.granted
    assert view.epoch == 1, "envelopes queued under the old grant must not go out"
    assert not bumped.subtoggle(REGISTRATION, SERIAL), "a sub-toggle is asked again too"


# --- Install id ------------------------------------------------------------------------


def test_rotating_the_install_id_keeps_the_old_one(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = store.install_id
    second = store.rotate_install_id()
    assert second != first
    reopened = open_store(tmp_path)
    assert reopened.install_id == second
    assert reopened.previous_install_ids == (first,)
    assert reopened.verify_log().ok


# --- The hash chain ----------------------------------------------------------------


def make_history(directory: Path) -> ConsentStore:
    store = open_store(directory)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    store.grant(Purpose.ENERGY_HISTORY, actor=USER, surface=PANEL)
    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    store.grant(Purpose.DIAGNOSTICS, actor=USER, surface=PANEL)
    return store


def test_the_log_is_a_hash_chain(tmp_path: Path) -> None:
    store = make_history(tmp_path)
    assert store.verify_log().ok
    assert store.verify_log().entries == 4
    lines = log_lines(tmp_path)
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert lines[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(lines):
        assert after["prev_hash"] == before["hash"]
    for line in lines:
        body = {k: v for k, v in line.items() if k != "hash"}
        assert entry_hash(body) == line["hash"]
    assert list(lines[0])[:5] == ["seq", "ts", "purpose", "from", "to"]


def edit_to(lines: list[dict[str, Any]]) -> None:
    lines[0]["to"] = "denied"


def edit_and_rehash(lines: list[dict[str, Any]]) -> None:
    lines[1]["purpose"] = "location"
    lines[1]["hash"] = entry_hash({k: v for k, v in lines[1].items() if k != "hash"})


def drop_middle(lines: list[dict[str, Any]]) -> None:
    del lines[1]


def drop_last_two(lines: list[dict[str, Any]]) -> None:
    del lines[-2:]


def swap(lines: list[dict[str, Any]]) -> None:
    lines[1], lines[2] = lines[2], lines[1]


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (edit_to, "line 1: hash does not match"),
        (edit_and_rehash, "line 3 breaks the hash chain"),
        (drop_middle, "line 2 breaks the hash chain"),
        (drop_last_two, "does not end at the change"),
        (swap, "line 2 breaks the hash chain"),
    ],
)
def test_tampering_is_detected_and_fails_closed(tmp_path: Path, tamper: Any, problem: str) -> None:
    make_history(tmp_path)
    lines = log_lines(tmp_path)
    tamper(lines)
    write_lines(tmp_path, lines)
    report = open_store(tmp_path).verify_log()
    assert not report.ok
    assert report.problem is not None
    assert problem in report.problem
    reopened = open_store(tmp_path)
    assert reopened.error is not None
    assert not any(v.granted for v in reopened.snapshot().values())


def test_a_removed_last_line_is_restored_from_consent_json(tmp_path: Path) -> None:
    # consent.json embeds the change it committed, exactly as after a crash before the append.
    make_history(tmp_path)
    lines = log_lines(tmp_path)
    write_lines(tmp_path, lines[:-1])
    store = open_store(tmp_path)
    assert store.error is None
    assert log_lines(tmp_path) == lines


def test_a_forged_extra_line_is_detected(tmp_path: Path) -> None:
    make_history(tmp_path)
    lines = log_lines(tmp_path)
    forged = {**lines[-1], "seq": 5, "prev_hash": lines[-1]["hash"], "purpose": "location"}
    forged["hash"] = entry_hash({k: v for k, v in forged.items() if k != "hash"})
    write_lines(tmp_path, [*lines, forged])
    store = open_store(tmp_path)
    assert not store.verify_log().ok
    assert store.error is not None
    assert not store.is_granted(Purpose.ENERGY_HISTORY)


def test_tampering_while_open_is_noticed_on_the_next_read(tmp_path: Path) -> None:
    store = make_history(tmp_path)
    assert store.is_granted(Purpose.ENERGY_HISTORY)
    lines = log_lines(tmp_path)
    edit_to(lines)
    write_lines(tmp_path, lines)
    assert not store.is_granted(Purpose.ENERGY_HISTORY)
    assert store.error is not None


# --- Crashes ---------------------------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying at that point."""


def test_a_crash_before_the_rename_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_history(tmp_path)
    before = ((tmp_path / CONSENT_FILE).read_bytes(), (tmp_path / LOG_FILE).read_bytes())

    def crash(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Crash):
        store.grant(Purpose.LOCATION, actor=USER, surface=PANEL)
    monkeypatch.undo()
    assert ((tmp_path / CONSENT_FILE).read_bytes(), (tmp_path / LOG_FILE).read_bytes()) == before
    assert not store.is_granted(Purpose.LOCATION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consent.json", "consent.lock", LOG_FILE]
    assert open_store(tmp_path).verify_log().ok


CRASHING_CHILD = """
import os, sys
from pathlib import Path
from upsight.agent.privacy import consent
from upsight.agent.privacy.purposes import Purpose

def die(*_):
    os._exit(9)  # the temporary file is written and synced; the rename never happens

versions = consent.CurrentVersions(
    consent.Notice("privacy-notice", "2026-09-01", "ab" * 32, "en-US"), inventory_version=1
)
store = consent.ConsentStore(Path(sys.argv[1]), id_key=b"k" * 32, versions=versions)
consent.os.replace = die
store.grant(Purpose.LOCATION, actor=consent.LocalUser(1000), surface=consent.Surface.CLI)
"""


def test_a_process_killed_mid_write_leaves_the_old_store_intact(tmp_path: Path) -> None:
    make_history(tmp_path)
    before = (tmp_path / CONSENT_FILE).read_bytes()
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(tmp_path)], capture_output=True, check=False
    )
    assert child.returncode == 9, child.stderr
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir()), "the crash left its temp"
    assert (tmp_path / CONSENT_FILE).read_bytes() == before
    store = open_store(tmp_path)
    assert store.error is None
    assert store.verify_log().ok
    assert store.is_granted(Purpose.ENERGY_HISTORY)
    assert not store.is_granted(Purpose.LOCATION)


def test_a_crash_between_commit_and_log_append_is_completed_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_history(tmp_path)

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(consent_module, "_append_line", fail)
    entry = store.grant(Purpose.LOCATION, actor=USER, surface=PANEL)
    monkeypatch.undo()
    assert entry is not None
    assert len(log_lines(tmp_path)) == 4
    reopened = open_store(tmp_path)
    assert reopened.error is None
    assert reopened.is_granted(Purpose.LOCATION)
    assert reopened.verify_log().ok
    assert log_lines(tmp_path)[-1]["hash"] == entry.hash


def test_a_torn_last_line_is_completed_on_load(tmp_path: Path) -> None:
    store = make_history(tmp_path)
    entry = store.grant(Purpose.LOCATION, actor=USER, surface=PANEL)
    assert entry is not None
    data = (tmp_path / LOG_FILE).read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    (tmp_path / LOG_FILE).write_bytes(data[: last_start + 40])
    reopened = open_store(tmp_path)
    assert reopened.error is None
    assert reopened.verify_log().ok
    assert (tmp_path / LOG_FILE).read_bytes() == data


# --- Fail closed on a damaged store ----------------------------------------------------


def garbage(directory: Path) -> None:
    (directory / CONSENT_FILE).write_bytes(b'{"schema": "upsight.consent/1", "purp')


def empty(directory: Path) -> None:
    (directory / CONSENT_FILE).write_bytes(b"")


def rewrite(directory: Path, change: Any) -> None:
    document = json.loads((directory / CONSENT_FILE).read_text(encoding="utf-8"))
    change(document)
    (directory / CONSENT_FILE).write_text(json.dumps(document), encoding="utf-8")


def wrong_schema(directory: Path) -> None:
    rewrite(directory, lambda d: d.__setitem__("schema", "upsight.consent/2"))


def wrong_type(directory: Path) -> None:
    rewrite(directory, lambda d: d["purposes"]["cloud_alerts"].__setitem__("epoch", "3"))


def unknown_state(directory: Path) -> None:
    rewrite(directory, lambda d: d["purposes"]["cloud_alerts"].__setitem__("stored", "yes"))


def unknown_purpose(directory: Path) -> None:
    rewrite(directory, lambda d: d["purposes"].__setitem__("telemetry", {}))


def not_an_object(directory: Path) -> None:
    (directory / CONSENT_FILE).write_text("[1, 2, 3]", encoding="utf-8")


def unreadable(directory: Path) -> None:
    # A directory in its place cannot be read, even by root.
    (directory / CONSENT_FILE).unlink()
    (directory / CONSENT_FILE).mkdir()


def missing_state(directory: Path) -> None:
    (directory / CONSENT_FILE).unlink()


def missing_log(directory: Path) -> None:
    (directory / LOG_FILE).unlink()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (garbage, "is not valid JSON"),
        (empty, "is empty"),
        (wrong_schema, "schema is 'upsight.consent/2'"),
        (wrong_type, "purposes.cloud_alerts.epoch must be a whole number"),
        (unknown_state, "purposes.cloud_alerts.stored must be granted | denied"),
        (unknown_purpose, "purposes.telemetry is not an upload purpose"),
        (not_an_object, "consent.json must be an object"),
        (unreadable, "cannot be read"),
        (missing_state, "is missing, but consent_log.jsonl records 2"),
        (missing_log, "does not end at change 2"),
    ],
)
def test_a_damaged_store_fails_closed_with_a_clear_error(
    tmp_path: Path, damage: Any, problem: str
) -> None:
    store = open_store(tmp_path)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    store.grant(Purpose.ENERGY_HISTORY, actor=USER, surface=PANEL)
    damage(tmp_path)
    broken = open_store(tmp_path)
    error = broken.error
    assert error is not None
    assert problem in str(error)
    assert str(tmp_path) in str(error), "the message names the file"
    assert "Nothing is uploaded" in str(error)
    for view in broken.snapshot().values():
        assert not view.granted
        assert view.reason == str(error)
    with pytest.raises(ConsentStoreError):
        _ = broken.install_id
    with pytest.raises(ConsentStoreError):
        broken.grant(ALERTS, actor=USER, surface=PANEL)
    assert store.is_granted(ALERTS) is False, "the open store notices too"


def test_a_damaged_file_is_never_overwritten(tmp_path: Path) -> None:
    open_store(tmp_path).grant(ALERTS, actor=USER, surface=PANEL)
    garbage(tmp_path)
    damaged = (tmp_path / CONSENT_FILE).read_bytes()
    broken = open_store(tmp_path)
    with pytest.raises(ConsentStoreError):
        broken.grant(ALERTS, actor=USER, surface=PANEL)
    with pytest.raises(ConsentStoreError):
        broken.rotate_install_id()
    assert (tmp_path / CONSENT_FILE).read_bytes() == damaged


def test_withdrawing_still_works_and_keeps_the_damaged_files(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    install_id = store.install_id
    wrong_type(tmp_path)
    damaged = (tmp_path / CONSENT_FILE).read_bytes()
    broken = open_store(tmp_path)
    entry = broken.withdraw(ALERTS, actor=USER, surface=PANEL)
    assert entry is not None
    assert broken.error is None
    kept = sorted(tmp_path.glob("consent.json.corrupt-*"))
    assert len(kept) == 1
    assert kept[0].read_bytes() == damaged
    assert len(list(tmp_path.glob("consent_log.jsonl.corrupt-*"))) == 1
    view = broken.consent(ALERTS)
    assert view.state is ConsentState.DENIED
    assert view.epoch > 1, "epochs continue above those in the damaged files"
    assert broken.install_id == install_id
    assert broken.verify_log().ok
    history = broken.history()
    assert history[0].purpose is None
    assert history[0].note is not None
    assert kept[0].name in history[0].note


def test_recover_resets_every_purpose_and_reports_what_it_kept(tmp_path: Path) -> None:
    store = make_history(tmp_path)
    assert store.recover(actor=USER, surface=PANEL) == ()
    empty(tmp_path)
    kept = store.recover(actor=USER, surface=PANEL)
    assert [p.name.split(".corrupt-")[0] for p in kept] == [CONSENT_FILE, LOG_FILE]
    assert store.error is None
    assert all(v.state is ConsentState.UNDETERMINED for v in store.snapshot().values())
    assert store.consent(ALERTS).epoch == 2
    assert store.grant(ALERTS, actor=USER, surface=PANEL) is not None
    assert open_store(tmp_path).is_granted(ALERTS)


# --- Concurrency -----------------------------------------------------------------------


def hammer(store: ConsentStore, seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    for _ in range(rounds):
        purpose = rng.choice((ALERTS, REGISTRATION, Purpose.LOCATION))
        if rng.random() < 0.5:
            store.grant(purpose, actor=LocalUser(seed), surface=PANEL)
        else:
            store.withdraw(purpose, actor=LocalUser(seed), surface=PANEL)


def check_consistent(directory: Path, store: ConsentStore) -> None:
    report = store.verify_log()
    assert report.ok, report.problem
    history = store.history()
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    reopened = open_store(directory)
    assert reopened.snapshot() == store.snapshot()
    for purpose in (ALERTS, REGISTRATION, Purpose.LOCATION):
        ended = sum(
            1
            for e in history
            if e.purpose is purpose and e.from_state is ConsentState.GRANTED
            and e.to_state is not ConsentState.GRANTED
        )  # fmt: skip
        assert reopened.consent(purpose).epoch == ended


def test_threads_sharing_a_store_keep_the_chain_valid(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    threads = [threading.Thread(target=hammer, args=(store, n, 40)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_consistent(tmp_path, store)


def test_separate_store_objects_on_one_directory_keep_the_chain_valid(tmp_path: Path) -> None:
    # Each object takes the lock file on its own descriptor, as separate processes would.
    stores = [open_store(tmp_path) for _ in range(4)]
    threads = [threading.Thread(target=hammer, args=(s, n, 30)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_consistent(tmp_path, stores[0])
    assert len({s.install_id for s in stores}) == 1
