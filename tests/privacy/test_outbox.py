"""The outbox: layout, crash safety, quotas, expiry, purge, corrupt files, sharing and wipe."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeClock
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.outbox import (
    DELETION_REQUEST_KEY,
    Dropped,
    DropReason,
    Outbox,
    Queued,
    Quota,
)
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose

ALERTS = Purpose.CLOUD_ALERTS
ENERGY = Purpose.ENERGY_HISTORY
CONTROL = Purpose.CONTROL
QUEUE_NAME = re.compile(r"\d{13}-[0-9a-f-]{36}\.json")


def make_envelope(purpose: Purpose = ALERTS, /, **data: Any) -> Envelope:
    return Envelope(
        envelope_id=str(uuid.uuid4()),
        purpose=purpose,
        consent_epoch=1,
        notice_version="2026-09-01",
        prompt_version=1,
        inventory_version=1,
        created_at="2026-09-02T10:15:03Z",
        client={"client.agent_version": "1.4.2"},
        data=data or {"ups.status": "online"},
    )


def deletion_request() -> Envelope:
    return make_envelope(CONTROL, **{DELETION_REQUEST_KEY: ["cloud_alerts"]})


def ids(queued: list[Queued]) -> list[str]:
    return [q.envelope.envelope_id for q in queued]


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(tmp_path: Path, clock: FakeClock) -> Outbox:
    return Outbox(tmp_path, clock=clock.time)


# --- Layout and round trip --------------------------------------------------------


def test_an_envelope_round_trips_through_its_purpose_directory(
    outbox: Outbox, tmp_path: Path, clock: FakeClock
) -> None:
    envelope = make_envelope()
    assert outbox.put(envelope) == ()
    [queued] = outbox.pending()
    assert queued.envelope == envelope
    assert queued.path.parent == tmp_path / "outbox" / "cloud_alerts"
    assert queued.path.name == f"{int(clock.time() * 1000):013d}-{envelope.envelope_id}.json"
    assert queued.path.read_bytes() == envelope.encode()
    assert queued.size == len(envelope.encode())
    assert queued.queued_at == clock.time()
    outbox.remove(queued)
    assert outbox.pending() == []
    assert not queued.path.exists()


def test_control_envelopes_live_in_control_and_come_first(
    outbox: Outbox, tmp_path: Path, clock: FakeClock
) -> None:
    upload = make_envelope()
    outbox.put(upload)
    clock.advance(5)
    receipt = make_envelope(CONTROL, **{"consent.to": "denied"})
    outbox.put(receipt)
    pending = outbox.pending()
    assert ids(pending) == [receipt.envelope_id, upload.envelope_id]
    assert pending[0].path.parent == tmp_path / "control"


def test_pending_is_oldest_first_across_purposes_and_filters(
    outbox: Outbox, clock: FakeClock
) -> None:
    order = []
    for purpose in (ENERGY, ALERTS, ENERGY, ALERTS):
        envelope = make_envelope(purpose)
        outbox.put(envelope)
        order.append(envelope)
        clock.advance(1)
    control = deletion_request()
    outbox.put(control)
    assert ids(outbox.pending()) == [control.envelope_id] + [e.envelope_id for e in order]
    assert ids(outbox.pending([ENERGY])) == [order[0].envelope_id, order[2].envelope_id]
    assert ids(outbox.pending([CONTROL])) == [control.envelope_id]


def test_order_holds_within_one_millisecond_and_across_a_reopen(
    tmp_path: Path, clock: FakeClock
) -> None:
    outbox = Outbox(tmp_path, clock=clock.time)
    envelopes = [make_envelope() for _ in range(20)]
    for envelope in envelopes:
        outbox.put(envelope)  # the fake clock does not move
    reopened = Outbox(tmp_path, clock=clock.time)
    assert ids(reopened.pending()) == [e.envelope_id for e in envelopes]
    assert all(QUEUE_NAME.fullmatch(q.path.name) for q in reopened.pending())


def test_counts_report_envelopes_and_bytes_per_purpose(outbox: Outbox) -> None:
    first, second, control = make_envelope(), make_envelope(), deletion_request()
    for envelope in (first, second, control):
        outbox.put(envelope)
    counts = outbox.counts()
    assert counts[ALERTS] == (2, len(first.encode()) + len(second.encode()))
    assert counts[CONTROL] == (1, len(control.encode()))
    assert counts[ENERGY] == (0, 0)
    assert set(counts) == {CONTROL, *UPLOAD_PURPOSES}


def test_put_refuses_what_cannot_be_queued(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="never uploaded"):
        outbox.put(make_envelope(Purpose.LOCAL))
    unsafe = dataclasses.replace(make_envelope(), envelope_id="../../escape")
    with pytest.raises(ValueError, match="cannot name a file"):
        outbox.put(unsafe)
    assert outbox.pending() == []


def test_quota_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Quota(max_envelopes=0)
    with pytest.raises(ValueError, match="positive"):
        Quota(max_age_s=0)


# --- Crash safety -----------------------------------------------------------------

RENAME_NEVER_HAPPENS = """
import os, sys
from pathlib import Path
from upsight.agent.privacy import outbox as outbox_module
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose

def die(*_):
    os._exit(9)  # the temporary file is written and synced; the rename never happens

outbox = outbox_module.Outbox(Path(sys.argv[1]))
outbox_module.os.replace = die
outbox.put(Envelope(sys.argv[2], Purpose.CLOUD_ALERTS, 1, "n", 1, 1, "t", {}, {}))
"""

WRITES_UNTIL_KILLED = """
import sys, uuid
from pathlib import Path
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.outbox import Outbox, Quota
from upsight.agent.privacy.purposes import Purpose

outbox = Outbox(Path(sys.argv[1]), quota=Quota(max_envelopes=10**6, max_bytes=2**40))
blob = "x" * 65536  # big enough that the kill often lands inside a write
while True:
    envelope = Envelope(
        str(uuid.uuid4()), Purpose.ENERGY_HISTORY, 1, "n", 1, 1, "t", {}, {"energy.kwh": blob}
    )
    outbox.put(envelope)
    print(envelope.envelope_id, flush=True)
"""


def test_a_write_interrupted_before_the_rename_is_never_queued(tmp_path: Path) -> None:
    Outbox(tmp_path).put(make_envelope())
    lost = str(uuid.uuid4())
    child = subprocess.run(
        [sys.executable, "-c", RENAME_NEVER_HAPPENS, str(tmp_path), lost],
        capture_output=True,
        check=False,
    )
    assert child.returncode == 9, child.stderr
    queue = tmp_path / "outbox" / "cloud_alerts"
    assert any(name.endswith(".tmp") for name in files(queue)), "the crash left its temp"
    reopened = Outbox(tmp_path)
    assert not any(name.endswith(".tmp") for name in files(queue))
    assert lost not in ids(reopened.pending())
    assert len(reopened.pending()) == 1
    assert reopened.take_dropped() == ()


def kill_while_writing(root: Path) -> set[str]:
    """Run the writer, kill it in the middle of a write, and return the ids it reported."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITES_UNTIL_KILLED, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    reported = [child.stdout.readline() for _ in range(20)]
    queue = root / "outbox" / "energy_history"
    # Aim the kill at a write in progress, which is whenever a temporary file exists; the
    # deadline only keeps a stuck writer from hanging the test.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(n.endswith(".tmp") for n in os.listdir(queue)):
        pass
    child.kill()  # SIGKILL on POSIX
    child.wait()
    reported += child.stdout.readlines()
    child.stdout.close()
    return {line.strip() for line in reported if line.endswith("\n")}


def test_a_process_killed_while_writing_leaves_only_whole_envelopes(tmp_path: Path) -> None:
    queue = tmp_path / "outbox" / "energy_history"
    done: set[str] = set()
    for _ in range(3):
        done |= kill_while_writing(tmp_path)
        reopened = Outbox(tmp_path, quota=Quota(max_envelopes=10**6, max_bytes=2**40))
        assert not any(name.endswith(".tmp") for name in files(queue))
        queued = set(ids(reopened.pending()))
        assert reopened.take_dropped() == (), "every file parses"
        assert done <= queued
        assert len(queued - done) <= 1  # renamed, but killed before reporting it
        for path in queue.iterdir():
            assert Envelope.decode(path.read_bytes()).purpose is ENERGY
        done = queued
    assert len(done) >= 60


def test_a_temporary_file_of_a_running_writer_is_left_alone(tmp_path: Path) -> None:
    queue = tmp_path / "outbox" / "cloud_alerts"
    queue.mkdir(parents=True)
    live = queue / f".0000000000001-a.json.{os.getpid()}.tmp"
    orphan = queue / ".0000000000001-b.json.tmp"
    live.write_bytes(b"{")
    orphan.write_bytes(b"{")
    outbox = Outbox(tmp_path)
    assert live.exists()
    assert not orphan.exists()
    assert outbox.pending() == []


# --- Quotas and expiry ------------------------------------------------------------


def test_count_quota_drops_the_oldest_and_reports_them(tmp_path: Path, clock: FakeClock) -> None:
    outbox = Outbox(tmp_path, quota=Quota(max_envelopes=3), clock=clock.time)
    envelopes = [make_envelope() for _ in range(5)]
    dropped: list[Dropped] = []
    for envelope in envelopes:
        dropped += outbox.put(envelope)
        clock.advance(1)
    assert [d.envelope_id for d in dropped] == [e.envelope_id for e in envelopes[:2]]
    assert {d.reason for d in dropped} == {DropReason.QUOTA_COUNT}
    assert dropped[0].payload == envelopes[0].encode()
    assert dropped[0].purpose is ALERTS
    assert dropped[0].size == len(envelopes[0].encode())
    assert ids(outbox.pending()) == [e.envelope_id for e in envelopes[2:]]


def test_byte_quota_drops_the_oldest_and_reports_them(tmp_path: Path, clock: FakeClock) -> None:
    envelopes = [make_envelope(**{"ups.status": "x" * 1000}) for _ in range(4)]
    size = len(envelopes[0].encode())
    outbox = Outbox(tmp_path, quota=Quota(max_bytes=size * 5 // 2), clock=clock.time)
    dropped: list[Dropped] = []
    for envelope in envelopes:
        dropped += outbox.put(envelope)
        clock.advance(1)
    assert [d.envelope_id for d in dropped] == [e.envelope_id for e in envelopes[:2]]
    assert {d.reason for d in dropped} == {DropReason.QUOTA_BYTES}
    assert ids(outbox.pending()) == [e.envelope_id for e in envelopes[2:]]
    assert outbox.counts()[ALERTS] == (2, 2 * size)


def test_an_envelope_larger_than_the_byte_quota_is_dropped_alone(tmp_path: Path) -> None:
    small = make_envelope()
    outbox = Outbox(tmp_path, quota=Quota(max_bytes=len(small.encode()) + 10))
    outbox.put(small)
    big = make_envelope(**{"ups.status": "x" * 100})
    [dropped] = outbox.put(big)
    assert dropped.envelope_id == big.envelope_id
    assert dropped.reason is DropReason.QUOTA_BYTES
    assert dropped.payload == big.encode()
    assert ids(outbox.pending()) == [small.envelope_id]


def test_control_is_exempt_from_every_quota(tmp_path: Path, clock: FakeClock) -> None:
    quota = Quota(max_envelopes=1, max_bytes=10, max_age_s=60)
    outbox = Outbox(tmp_path, quota=quota, clock=clock.time)
    requests = [deletion_request() for _ in range(3)]
    for request in requests:
        assert outbox.put(request) == ()
    clock.advance(3600)
    assert ids(outbox.pending()) == [r.envelope_id for r in requests]
    assert outbox.take_dropped() == ()


def test_expired_envelopes_are_dropped_and_reported_once(tmp_path: Path, clock: FakeClock) -> None:
    outbox = Outbox(tmp_path, quota=Quota(max_age_s=100), clock=clock.time)
    old, fresh = make_envelope(), make_envelope()
    outbox.put(old)
    clock.advance(60)
    outbox.put(fresh)
    clock.advance(50)
    assert ids(outbox.pending()) == [fresh.envelope_id]
    [dropped] = outbox.take_dropped()
    assert dropped.envelope_id == old.envelope_id
    assert dropped.reason is DropReason.EXPIRED
    assert dropped.payload == old.encode()
    assert outbox.take_dropped() == ()
    assert ids(outbox.pending()) == [fresh.envelope_id]
    assert outbox.take_dropped() == ()
    assert outbox.counts()[ALERTS][0] == 1


# --- Withdrawal -------------------------------------------------------------------


def test_purge_empties_one_purpose_and_leaves_the_rest(outbox: Outbox, tmp_path: Path) -> None:
    alerts = [make_envelope() for _ in range(3)]
    energy, request = make_envelope(ENERGY), deletion_request()
    for envelope in (*alerts, energy, request):
        outbox.put(envelope)
    dropped = outbox.purge(ALERTS)
    assert [d.envelope_id for d in dropped] == [e.envelope_id for e in alerts]
    assert [d.payload for d in dropped] == [e.encode() for e in alerts]
    assert {d.reason for d in dropped} == {DropReason.WITHDRAWN}
    assert files(tmp_path / "outbox" / "cloud_alerts") == []
    assert ids(outbox.pending()) == [request.envelope_id, energy.envelope_id]


def test_purge_of_a_queue_whose_directory_is_gone_drops_nothing(
    outbox: Outbox, tmp_path: Path
) -> None:
    outbox.put(make_envelope())
    queue = tmp_path / "outbox" / "cloud_alerts"
    for path in queue.iterdir():
        path.unlink()
    queue.rmdir()
    assert outbox.purge(ALERTS) == ()
    assert ids(outbox.pending([ALERTS])) == []


def test_purge_records_a_policy_block_and_removes_quarantined_files(
    outbox: Outbox, tmp_path: Path
) -> None:
    outbox.put(make_envelope())
    (tmp_path / "outbox" / "cloud_alerts" / "0000000000001-bad.json").write_bytes(b"{")
    (tmp_path / "outbox" / "energy_history" / "0000000000001-bad.json").write_bytes(b"{")
    outbox.pending()
    assert len(files(tmp_path / "corrupt")) == 2
    [dropped] = outbox.purge(ALERTS, reason=DropReason.BLOCKED)
    assert dropped.reason is DropReason.BLOCKED
    assert files(tmp_path / "corrupt") == ["energy_history-0000000000001-bad.json"]


def test_control_and_local_cannot_be_purged(outbox: Outbox) -> None:
    outbox.put(deletion_request())
    for purpose in (CONTROL, Purpose.LOCAL):
        with pytest.raises(ValueError, match="upload purposes"):
            outbox.purge(purpose)
    assert len(outbox.pending()) == 1


# --- Corrupt files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("0000000000001-3f1c6a0e.json", b'{"schema": "upsight.envelope/1", "purp'),
        ("0000000000001-3f1c6a0e.json", b"\xff\xfe not utf-8"),
        ("not-a-queue-name.json", b"{}"),
    ],
)
def test_an_unreadable_file_is_moved_to_corrupt_and_reported_once(
    outbox: Outbox, tmp_path: Path, name: str, content: bytes
) -> None:
    good = make_envelope()
    outbox.put(good)
    (tmp_path / "outbox" / "cloud_alerts" / name).write_bytes(content)
    assert ids(outbox.pending()) == [good.envelope_id]
    [dropped] = outbox.take_dropped()
    assert dropped.reason is DropReason.CORRUPT
    assert dropped.purpose is ALERTS
    assert dropped.payload is None
    assert dropped.size == len(content)
    assert (tmp_path / "corrupt" / f"cloud_alerts-{name}").read_bytes() == content
    assert ids(outbox.pending()) == [good.envelope_id]
    assert outbox.take_dropped() == ()


def test_an_envelope_in_another_purposes_directory_is_quarantined(
    outbox: Outbox, tmp_path: Path
) -> None:
    stray = make_envelope(Purpose.LOCATION)
    name = f"0000000000001-{stray.envelope_id}.json"
    (tmp_path / "outbox" / "cloud_alerts" / name).write_bytes(stray.encode())
    assert outbox.pending() == []
    [dropped] = outbox.take_dropped()
    assert dropped.reason is DropReason.CORRUPT
    assert "location" in dropped.detail
    assert outbox.purge(ALERTS) == ()


# --- Sharing the directory --------------------------------------------------------


def test_a_file_removed_by_another_process_is_tolerated(tmp_path: Path) -> None:
    agent, cli = Outbox(tmp_path), Outbox(tmp_path)
    first, second = make_envelope(), make_envelope()
    agent.put(first)
    agent.put(second)
    [queued, _] = agent.pending()
    assert len(cli.purge(ALERTS)) == 2
    agent.remove(queued)  # already gone
    assert agent.pending() == []
    assert agent.counts()[ALERTS] == (0, 0)
    assert agent.purge(ALERTS) == ()
    assert agent.take_dropped() == ()


def test_the_directory_is_the_truth_for_another_instance(tmp_path: Path) -> None:
    agent, cli = Outbox(tmp_path), Outbox(tmp_path)
    assert agent.counts()[ALERTS] == (0, 0)
    envelope = make_envelope()
    cli.put(envelope)
    assert agent.counts()[ALERTS] == (1, len(envelope.encode()))
    assert ids(agent.pending()) == [envelope.envelope_id]


def test_drain_and_purge_race_without_errors_or_double_reports(tmp_path: Path) -> None:
    agent, cli = Outbox(tmp_path), Outbox(tmp_path)
    envelopes = [make_envelope() for _ in range(200)]
    for envelope in envelopes:
        agent.put(envelope)
    errors: list[BaseException] = []
    sent: list[str] = []

    def drain() -> None:
        try:
            for queued in agent.pending():
                sent.append(queued.envelope.envelope_id)
                agent.remove(queued)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=drain)
    worker.start()
    purged = [d.envelope_id for d in cli.purge(ALERTS)]
    worker.join()
    assert errors == []
    assert set(purged) | set(sent) == {e.envelope_id for e in envelopes}
    assert agent.pending() == []
    assert agent.take_dropped() == ()
    assert len(purged) == len(set(purged))


# --- Delete local data ------------------------------------------------------------


def test_wipe_keeps_only_pending_deletion_requests(outbox: Outbox, tmp_path: Path) -> None:
    request = deletion_request()
    for envelope in (
        make_envelope(),
        make_envelope(ENERGY),
        make_envelope(CONTROL, **{"consent.to": "denied"}),
        request,
    ):
        outbox.put(envelope)
    (tmp_path / "outbox" / "energy_history" / "0000000000001-bad.json").write_bytes(b"{")
    outbox.pending()
    assert outbox.wipe(keep_deletion_requests=True) == 4
    assert ids(outbox.pending()) == [request.envelope_id]
    assert files(tmp_path / "corrupt") == []
    assert outbox.take_dropped() == ()
    assert outbox.wipe(keep_deletion_requests=False) == 1
    assert outbox.pending() == []
    assert files(tmp_path / "control") == []
