"""The upload ledger: results and payloads, listing, caps, export, clearing and corruption."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeClock
from upsight.agent.privacy import ledger as ledger_module
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import DROP_RESULTS, Ledger, LedgerEntry, LedgerResult
from upsight.agent.privacy.outbox import Dropped, DropReason, Outbox, Quota
from upsight.agent.privacy.purposes import Purpose

ALERTS = Purpose.CLOUD_ALERTS
ENERGY = Purpose.ENERGY_HISTORY
DAY_S = 86400.0
REPO = Path(__file__).resolve().parents[2]
DEFAULT_FIELDS = ("client.agent_version", "client.locale", "ups.battery.charge_pct", "ups.status")


def make_envelope(purpose: Purpose = ALERTS, /, **data: Any) -> Envelope:
    return Envelope(
        envelope_id=str(uuid.uuid4()),
        purpose=purpose,
        consent_epoch=2,
        notice_version="2026-09-01",
        prompt_version=1,
        inventory_version=7,
        created_at="2026-09-02T10:15:03Z",
        client={"client.agent_version": "1.4.2", "client.locale": "de-CH"},
        data=data or {"ups.status": "on-battery", "ups.battery.charge_pct": 87},
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite", clock=clock.time)


def payload_bytes(entries: list[LedgerEntry]) -> int:
    return sum(len((e.payload or "").encode("utf-8")) for e in entries)


# --- Recording --------------------------------------------------------------------


@pytest.mark.parametrize("result", list(LedgerResult))
def test_every_result_is_recorded_with_the_exact_payload(
    ledger: Ledger, clock: FakeClock, result: LedgerResult
) -> None:
    envelope = make_envelope(**{"device.label": "Büro-Rack ✓"})
    entry = ledger.record(envelope, result, "HTTP 202")
    assert entry.result is result
    assert entry.payload == envelope.encode().decode("utf-8")
    assert entry.size == len(envelope.encode())
    assert entry.fields == ("client.agent_version", "client.locale", "device.label")
    assert (entry.at, entry.purpose, entry.envelope_id, entry.detail) == (
        clock.time(),
        ALERTS,
        envelope.envelope_id,
        "HTTP 202",
    )
    assert ledger.entries() == [entry]


def test_entries_survive_a_reopen(tmp_path: Path, clock: FakeClock) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite", clock=clock.time)
    entry = ledger.record(make_envelope(), LedgerResult.SENT)
    ledger.close()
    reopened = Ledger(tmp_path / "ledger.sqlite", clock=clock.time)
    assert reopened.entries() == [entry]
    assert reopened.persistent


def test_outbox_drops_are_recorded_with_their_payload_and_reason(
    ledger: Ledger, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "queue", quota=Quota(max_envelopes=1))
    oldest = make_envelope()
    outbox.put(oldest)
    [dropped] = outbox.put(make_envelope())
    entry = ledger.record_dropped(dropped)
    assert entry.result is LedgerResult.DROPPED_QUOTA
    assert entry.detail.startswith("quota_count: ")
    assert entry.envelope_id == oldest.envelope_id
    assert entry.payload == oldest.encode().decode("utf-8")
    assert entry.fields == (
        "client.agent_version",
        "client.locale",
        "ups.battery.charge_pct",
        "ups.status",
    )
    assert entry.size == len(oldest.encode())


def test_an_unreadable_drop_is_recorded_without_a_payload(ledger: Ledger) -> None:
    corrupt = Dropped("3f1c6a0e", ENERGY, 17, DropReason.CORRUPT, None, "not JSON")
    garbled = Dropped("3f1c6a0f", ENERGY, 3, DropReason.EXPIRED, b"{x", "")
    first, second = ledger.record_dropped(corrupt), ledger.record_dropped(garbled)
    assert (first.result, first.detail, first.payload, first.fields, first.size) == (
        LedgerResult.DROPPED_CORRUPT,
        "corrupt: not JSON",
        None,
        (),
        17,
    )
    assert (second.result, second.detail, second.payload) == (
        LedgerResult.DROPPED_EXPIRED,
        "expired",
        None,
    )


def test_a_drop_can_be_given_another_result(ledger: Ledger) -> None:
    envelope = make_envelope()
    dropped = Dropped(envelope.envelope_id, ALERTS, 9, DropReason.WITHDRAWN, envelope.encode(), "")
    assert ledger.record_dropped(dropped).result is LedgerResult.DROPPED_CONSENT
    override = ledger.record_dropped(dropped, LedgerResult.SENT_BEFORE_WITHDRAWAL)
    assert override.result is LedgerResult.SENT_BEFORE_WITHDRAWAL


def test_every_drop_reason_has_a_result() -> None:
    assert set(DROP_RESULTS) == set(DropReason)


def test_threads_recording_at_once_lose_nothing(ledger: Ledger) -> None:
    def record_many() -> None:
        for _ in range(25):
            ledger.record(make_envelope(), LedgerResult.SENT)

    workers = [threading.Thread(target=record_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = ledger.entries()
    assert len(entries) == 100
    assert len({e.id for e in entries}) == 100


# --- Listing ----------------------------------------------------------------------


def test_entries_are_newest_first_and_filter(ledger: Ledger, clock: FakeClock) -> None:
    recorded: list[LedgerEntry] = []
    for purpose in (ALERTS, ENERGY, ALERTS, ENERGY):
        recorded.append(ledger.record(make_envelope(purpose), LedgerResult.SENT))
        clock.advance(10)
    assert ledger.entries() == recorded[::-1]
    assert ledger.entries(purpose=ENERGY) == [recorded[3], recorded[1]]
    assert ledger.entries(since=recorded[2].at) == [recorded[3], recorded[2]]
    assert ledger.entries(limit=1) == [recorded[3]]
    assert ledger.entries(purpose=ALERTS, since=recorded[1].at, limit=5) == [recorded[2]]


def test_last_sent_counts_only_uploads(ledger: Ledger, clock: FakeClock) -> None:
    ledger.record(make_envelope(ALERTS), LedgerResult.SENT)
    clock.advance(10)
    sent_at = clock.time()
    ledger.record(make_envelope(ALERTS), LedgerResult.SENT_BEFORE_WITHDRAWAL)
    clock.advance(10)
    ledger.record(make_envelope(ALERTS), LedgerResult.REJECTED)
    ledger.record(make_envelope(ENERGY), LedgerResult.DROPPED_QUOTA)
    assert ledger.last_sent() == {ALERTS: sent_at}


# --- Caps -------------------------------------------------------------------------


def test_entries_older_than_the_age_cap_are_pruned(tmp_path: Path, clock: FakeClock) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite", clock=clock.time, max_age_s=30 * DAY_S)
    old = ledger.record(make_envelope(), LedgerResult.SENT)
    clock.advance(20 * DAY_S)
    middle = ledger.record(make_envelope(), LedgerResult.SENT)
    clock.advance(11 * DAY_S)
    newest = ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.entries() == [newest, middle]
    assert old.id not in {e.id for e in ledger.entries()}


def test_the_oldest_entries_go_first_past_the_byte_cap(tmp_path: Path, clock: FakeClock) -> None:
    envelopes = [make_envelope(**{"ups.status": "x" * 1000}) for _ in range(12)]
    size = len(envelopes[0].encode())
    ledger = Ledger(tmp_path / "ledger.sqlite", clock=clock.time, max_bytes=10 * size)
    recorded: list[LedgerEntry] = []
    for envelope in envelopes:
        recorded.append(ledger.record(envelope, LedgerResult.SENT))
        clock.advance(1)
        assert payload_bytes(ledger.entries()) <= 10 * size
    kept = ledger.entries()[::-1]
    assert kept == recorded[-len(kept) :], "what is left is the newest, in order"
    assert len(kept) < 12


def test_byte_cap_counts_what_is_there_after_another_process_cleared(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "ledger.sqlite"
    envelopes = [make_envelope(**{"ups.status": "x" * 1000}) for _ in range(8)]
    size = len(envelopes[0].encode())
    agent = Ledger(path, clock=clock.time, max_bytes=5 * size)
    for envelope in envelopes[:4]:
        agent.record(envelope, LedgerResult.SENT)
    assert Ledger(path, clock=clock.time).clear() == 4
    recorded = [agent.record(envelope, LedgerResult.SENT) for envelope in envelopes[4:]]
    assert agent.entries() == recorded[::-1]


def test_an_entry_larger_than_the_byte_cap_is_still_recorded(
    tmp_path: Path, clock: FakeClock
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite", clock=clock.time, max_bytes=100)
    ledger.record(make_envelope(), LedgerResult.SENT)
    big = ledger.record(make_envelope(**{"ups.status": "x" * 500}), LedgerResult.SENT)
    assert ledger.entries() == [big]


def test_caps_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        Ledger(tmp_path / "ledger.sqlite", max_bytes=0)


# --- Export and clear -------------------------------------------------------------


def test_json_export_parses_back_with_payload_objects(ledger: Ledger) -> None:
    sent = make_envelope()
    ledger.record(sent, LedgerResult.SENT, "HTTP 202")
    ledger.record_dropped(Dropped("3f1c6a0e", ENERGY, 5, DropReason.CORRUPT, None, "bad"))
    out = io.StringIO()
    assert ledger.export_json(out) == 2
    exported = json.loads(out.getvalue())
    assert [row["result"] for row in exported] == ["sent", "dropped_corrupt"]
    assert exported[0]["payload"] == sent.to_json()
    assert exported[0]["fields"] == [
        "client.agent_version",
        "client.locale",
        "ups.battery.charge_pct",
        "ups.status",
    ]
    assert exported[0]["detail"] == "HTTP 202"
    assert exported[0]["time"].endswith("Z")
    assert exported[1]["payload"] is None


def test_an_empty_ledger_exports_an_empty_list_and_a_bare_header(ledger: Ledger) -> None:
    out = io.StringIO()
    assert ledger.export_json(out) == 0
    assert json.loads(out.getvalue()) == []
    out = io.StringIO(newline="")
    assert ledger.export_csv(out) == 0
    assert len(list(csv.reader(io.StringIO(out.getvalue())))) == 1


def test_csv_export_has_a_header_and_one_row_per_entry(ledger: Ledger) -> None:
    envelopes = [make_envelope(**{"device.label": 'Rack "A", row 3'}) for _ in range(3)]
    for envelope in envelopes:
        ledger.record(envelope, LedgerResult.SENT)
    out = io.StringIO(newline="")
    assert ledger.export_csv(out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert len(rows) == 3
    assert [json.loads(row["payload"]) for row in rows] == [e.to_json() for e in envelopes]
    assert rows[0]["fields"] == "client.agent_version client.locale device.label"
    assert rows[0]["result"] == "sent"


def test_export_spans_more_than_one_batch(ledger: Ledger) -> None:
    for _ in range(1203):
        ledger.record_dropped(Dropped("3f1c6a0e", ENERGY, 5, DropReason.CORRUPT, None, ""))
    out = io.StringIO()
    assert ledger.export_json(out) == 1203
    ids = [row["id"] for row in json.loads(out.getvalue())]
    assert ids == sorted(set(ids))


def test_clear_deletes_every_entry_and_leaves_no_payload_on_disk(
    tmp_path: Path, ledger: Ledger
) -> None:
    marker = "marker-" + uuid.uuid4().hex
    first = ledger.record(make_envelope(**{"device.label": marker}), LedgerResult.SENT)
    ledger.record(make_envelope(), LedgerResult.REJECTED)
    assert ledger.clear() == 2
    assert ledger.entries() == []
    assert ledger.last_sent() == {}
    for path in tmp_path.iterdir():
        assert marker.encode() not in path.read_bytes(), path.name
    after = ledger.record(make_envelope(), LedgerResult.SENT)
    assert after.id > first.id
    assert ledger.entries() == [after]


# --- Damage -----------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_moved_aside(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not SQLite" * 100)
    ledger = Ledger(path, clock=clock.time)
    aside = tmp_path / f"ledger.sqlite.corrupt-{int(clock.time())}"
    assert aside.read_bytes() == b"this is not SQLite" * 100
    assert "corrupt" in caplog.text
    assert ledger.persistent
    entry = ledger.record(make_envelope(), LedgerResult.SENT)
    assert Ledger(path, clock=clock.time).entries() == [entry]


def test_damaged_pages_are_found_on_open(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path, clock=clock.time)
    for _ in range(50):
        ledger.record(make_envelope(**{"ups.status": "x" * 3000}), LedgerResult.SENT)
    ledger.close()
    scribble(path)
    reopened = Ledger(path, clock=clock.time)
    assert reopened.entries() == []
    assert (tmp_path / f"ledger.sqlite.corrupt-{int(clock.time())}").exists()
    reopened.record(make_envelope(), LedgerResult.SENT)
    assert len(reopened.entries()) == 1


def test_damage_found_while_open_moves_the_file_aside_and_recording_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "ledger.sqlite"
    writer = Ledger(path, clock=clock.time)
    # More than SQLite's default 2 MB page cache, so reading it all must go back to disk.
    for _ in range(100):
        writer.record(make_envelope(**{"ups.status": "x" * 30000}), LedgerResult.SENT)
    writer.close()
    ledger = Ledger(path, clock=clock.time)
    scribble(path)
    assert ledger.entries() == []
    assert (tmp_path / f"ledger.sqlite.corrupt-{int(clock.time())}").exists()
    entry = ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.entries() == [entry]
    assert ledger.persistent


def test_an_unusable_path_keeps_the_ledger_in_memory(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ledger.sqlite"
    path.mkdir()  # a directory where the file should be
    ledger = Ledger(path, clock=clock.time)
    assert not ledger.persistent
    entry = ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.entries() == [entry]
    assert path.is_dir()


def scribble(path: Path) -> None:
    """Overwrite everything after the first page with random bytes."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(size - 4096))


def test_a_ledger_of_another_schema_version_is_moved_aside(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "ledger.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    ledger = Ledger(path, clock=clock.time)
    assert (tmp_path / f"ledger.sqlite.corrupt-{int(clock.time())}").exists()
    entry = ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.entries() == [entry]


# --- A file that cannot be used for a while ---------------------------------------

RESUMED = (
    "Upload ledger {path} resumed after {failures} failed attempts;"
    " {written} entries kept in memory were written to it, {dropped} dropped"
)
WRITE_FAILS = """
import logging, resource, signal, sys
from pathlib import Path
from tests.privacy.test_ledger import make_envelope
from upsight.agent.privacy.ledger import Ledger, LedgerResult

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
# Past RLIMIT_FSIZE a write then fails with EFBIG, as one fails on a full disk.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
now = [1_700_000_000.0]
ledger = Ledger(Path(sys.argv[1]), clock=lambda: now[0])
ledger.record(make_envelope(), LedgerResult.SENT)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
for _ in range(3):
    ledger.record(make_envelope(), LedgerResult.SENT)
print("persistent while full:", ledger.persistent)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
now[0] += 1.0
ledger.record(make_envelope(), LedgerResult.SENT)
print("persistent after:", ledger.persistent)
ledger.close()
"""


def blocked_path(tmp_path: Path) -> tuple[Path, Path]:
    """A ledger path whose directory cannot be made: a regular file holds its name."""
    blocker = tmp_path / "privacy"
    blocker.write_bytes(b"")
    return blocker / "ledger.sqlite", blocker


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "upsight.agent.privacy.ledger" and r.levelno >= logging.WARNING
    ]


def test_a_ledger_that_cannot_be_opened_writes_what_it_kept_once_it_opens(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path, blocker = blocked_path(tmp_path)
    ledger = Ledger(path, clock=clock.time)
    persistent = [ledger.persistent]
    kept = [ledger.record(make_envelope(), result) for result in list(LedgerResult)[:4]]
    assert ledger.entries() == kept[::-1], "what is kept in memory can be read meanwhile"

    blocker.unlink()
    clock.advance(0.5)
    kept.append(ledger.record(make_envelope(), LedgerResult.SENT))
    persistent.append(ledger.persistent)
    clock.advance(0.5)
    last = ledger.record(make_envelope(), LedgerResult.REJECTED, "HTTP 413")
    persistent.append(ledger.persistent)
    ledger.close()
    # The first retry comes a second after the failure, not before.
    assert persistent == [False, False, True]

    on_disk = Ledger(path, clock=clock.time).entries()[::-1]
    strip = [(e.at, e.purpose, e.envelope_id, e.result, e.detail, e.payload) for e in kept]
    assert [(e.at, e.purpose, e.envelope_id, e.result, e.detail, e.payload) for e in on_disk] == [
        *strip,
        (last.at, last.purpose, last.envelope_id, last.result, last.detail, last.payload),
    ]
    assert [e.id for e in on_disk] == sorted({e.id for e in on_disk})
    assert warnings_of(caplog) == [
        (
            "ERROR",
            f"Cannot open upload ledger {path} (File exists: {blocker});"
            " recording uploads in memory and retrying",
        ),
        (
            "WARNING",
            RESUMED.format(path=path, failures=1, written=5, dropped=0),
        ),
    ]


def test_retries_back_off_from_a_second_doubling_to_a_minute(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = blocked_path(tmp_path)
    caplog.set_level(logging.DEBUG, "upsight.agent.privacy.ledger")
    start = clock.time()
    ledger = Ledger(path, clock=clock.time)
    tried_at: list[float] = []
    for _ in range(400):
        clock.advance(0.5)
        before = caplog.text.count("still cannot be used")
        ledger.entries()
        if caplog.text.count("still cannot be used") > before:
            tried_at.append(clock.time() - start)
    assert tried_at == [1, 3, 7, 15, 31, 63, 123, 183]
    assert len(warnings_of(caplog)) == 1, "one line however many tries fail"


def test_a_clock_set_back_does_not_hold_off_the_next_try(tmp_path: Path, clock: FakeClock) -> None:
    path, blocker = blocked_path(tmp_path)
    ledger = Ledger(path, clock=clock.time)
    blocker.unlink()
    clock.jump_wall(-3600)
    ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.persistent


def test_a_clear_made_while_the_file_was_unusable_applies_to_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "privacy"
    folder.mkdir()
    path = folder / "ledger.sqlite"
    before = Ledger(path, clock=clock.time)
    for _ in range(3):
        before.record(make_envelope(), LedgerResult.SENT)
    before.close()
    folder.rename(tmp_path / "away")
    folder.write_bytes(b"")  # the mount is gone and a file holds its name
    ledger = Ledger(path, clock=clock.time)
    ledger.record(make_envelope(), LedgerResult.SENT)
    assert ledger.clear() == 1
    kept = ledger.record(make_envelope(), LedgerResult.SENT)

    folder.unlink()
    (tmp_path / "away").rename(folder)
    clock.advance(1)
    assert [e.envelope_id for e in ledger.entries()] == [kept.envelope_id]
    ledger.close()
    assert [e.envelope_id for e in Ledger(path, clock=clock.time).entries()] == [kept.envelope_id]


def test_memory_keeps_the_newest_entries_up_to_its_cap_and_counts_the_rest(
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    size = len(make_envelope().encode())
    monkeypatch.setattr(ledger_module, "PENDING_MAX_BYTES", 5 * size)
    path, blocker = blocked_path(tmp_path)
    ledger = Ledger(path, clock=clock.time)
    recorded = [ledger.record(make_envelope(), LedgerResult.SENT) for _ in range(12)]
    blocker.unlink()
    clock.advance(1)
    on_file = [e.envelope_id for e in ledger.entries()][::-1]
    assert on_file == [e.envelope_id for e in recorded[-len(on_file) :]]
    assert 4 <= len(on_file) <= 5
    dropped = len(recorded) - len(on_file)
    lines = warnings_of(caplog)
    assert lines[1] == (
        "WARNING",
        f"Upload ledger memory is full while {path} cannot be used; dropping the oldest",
    )
    assert lines[2] == (
        "WARNING",
        RESUMED.format(path=path, failures=1, written=len(on_file), dropped=dropped),
    )
    assert len(lines) == 3


def test_writes_failing_mid_session_are_kept_and_written_once_they_work(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", WRITE_FAILS, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["persistent while full: False", "persistent after: True"]
    assert f"ERROR Cannot write upload ledger {path} (" in done.stderr
    assert RESUMED.format(path=path, failures=1, written=3, dropped=0) in done.stderr
    entries = Ledger(path).entries()
    assert len(entries) == 5
    assert len({e.envelope_id for e in entries}) == 5
