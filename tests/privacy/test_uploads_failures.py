"""The uploader when its files fail: one clear line per episode, nothing lost, nothing sent.

A real outbox and consent store under a temporary directory; the faults are real files
in the way (a file where a queue directory should be, a damaged consent store).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.keyrings import MemoryKeyring
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.privacy import uploads as uploads_module
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.privacy.uploads import DIAGNOSTICS_S, Uploads
from upsight.drivers.model import Reading, Status, UpsFlag

ALERTS = Purpose.CLOUD_ALERTS
START = 1_699_999_200.0
PASSES = 4
LOGGER = "upsight.agent.privacy.uploads"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def center(tmp_path: Path, clock: FakeClock) -> Iterator[PrivacyCenter]:
    no_policy = tmp_path / "no-policy"
    no_policy.mkdir()
    secrets = Secrets(MemoryKeyring())
    secrets.set_token("device-token")
    made = PrivacyCenter(
        tmp_path / "privacy",
        secrets=secrets,
        policy=lambda: load_policy(no_policy),
        clock=clock.time,
    )
    made.grant(ALERTS, actor=LocalUser(1000), surface=Surface.CLI)
    yield made
    made.close()


@pytest.fixture
def uploads(tmp_path: Path, clock: FakeClock, center: PrivacyCenter) -> Iterator[Uploads]:
    history = HistoryStore(tmp_path / "history.sqlite3", clock=clock)
    reading = Reading(clock.time(), Status.of(UpsFlag.OL), {"battery.charge": 90.0})
    state = DeviceState(device="ups", spec="sim://normal", link=Link.OK, reading=reading)
    made = Uploads(center, Config(), lambda: [state], history, clock=clock)
    yield made
    history.close()


def alert(uploads: Uploads, clock: FakeClock) -> None:
    """An ONBATT: it makes the next pass queue a cloud alert."""
    uploads.on_message(Event(clock.time(), "ups", EventKind.ONBATT, "on battery"))


def uploader_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def test_an_unwritable_queue_is_one_line_until_it_is_writable_again(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = center.outbox.root / "outbox" / str(ALERTS)
    shutil.rmtree(queue)
    queue.write_bytes(b"")  # a file where the queue's directory belongs: every write fails
    caplog.set_level(logging.DEBUG, LOGGER)
    for _ in range(PASSES):
        alert(uploads, clock)
        uploads.run_due()
        clock.advance(1)
    problem = f"Cannot queue uploads in {queue.parent} (File exists); retrying at each pass"
    assert [(r.levelname, r.getMessage()) for r in uploader_lines(caplog)] == [("ERROR", problem)]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert uploads.status()["problem"] == problem
    assert center.outbox.pending([ALERTS]) == []

    queue.unlink()
    alert(uploads, clock)
    uploads.run_due()
    uploads.run_due()
    assert [r.getMessage() for r in uploader_lines(caplog)][1:] == [
        f"Uploads resumed after: {problem}"
    ]
    assert uploads.status()["problem"] is None
    assert len(center.outbox.pending([ALERTS])) == 1, "the alert due went out once space was back"


def test_a_corrupt_consent_store_pauses_uploads_with_one_line_naming_it(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    consent = center.store.consent_file
    good = consent.read_bytes()
    before = center.outbox.counts()
    consent.write_bytes(b"[]\n")
    caplog.set_level(logging.DEBUG, LOGGER)
    for _ in range(PASSES):
        alert(uploads, clock)
        uploads.run_due()
        clock.advance(1)
    lines = [r.getMessage() for r in uploader_lines(caplog)]
    assert len(lines) == 1
    assert lines[0].startswith(f"Uploads paused: {consent}: ")
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert center.outbox.counts() == before, "nothing queued while consent is unknown"

    consent.write_bytes(good)
    uploads.run_due()
    assert [r.getMessage() for r in uploader_lines(caplog)][1:] == [
        f"Uploads resumed after: {lines[0]}"
    ]


def block(center: PrivacyCenter, purpose: Purpose) -> Path:
    """A file where ``purpose``'s queue directory belongs: every write to it fails."""
    queue = center.outbox.root / "outbox" / str(purpose)
    shutil.rmtree(queue, ignore_errors=True)
    queue.write_bytes(b"")
    return queue


def sent_events(center: PrivacyCenter) -> list[list[dict[str, object]]]:
    """The ``ups.event`` field of each queued cloud alert (empty for a plain heartbeat)."""
    return [list(q.envelope.data.get("ups.event", [])) for q in center.outbox.pending([ALERTS])]


def failing_pass_with(uploads: Uploads, clock: FakeClock, *kinds: EventKind) -> list[int]:
    """Raise ``kinds`` one second apart, each followed by a pass that cannot queue."""
    times: list[int] = []
    for kind in kinds:
        times.append(int(clock.time()))
        uploads.on_message(Event(clock.time(), "ups", kind, kind.value))
        uploads.run_due()
        clock.advance(1)
    return times


def test_alerts_raised_while_the_queue_is_unwritable_are_queued_once_it_is_writable(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock
) -> None:
    queue = block(center, ALERTS)
    times = failing_pass_with(uploads, clock, EventKind.ONBATT, EventKind.ONLINE)
    assert uploads.status()["problem"] is not None
    queue.unlink()
    uploads.run_due()
    assert sent_events(center) == [
        [{"kind": "power-fail", "at": times[0]}, {"kind": "restore", "at": times[1]}]
    ]
    uploads.run_due()
    assert len(sent_events(center)) == 1, "queued once, not again at the next pass"


def test_alerts_kept_through_a_failure_are_dropped_if_consent_is_withdrawn_meanwhile(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock
) -> None:
    queue = block(center, ALERTS)
    failing_pass_with(uploads, clock, EventKind.ONBATT)
    queue.unlink()
    queue.mkdir()
    center.withdraw(ALERTS, actor=LocalUser(1000), surface=Surface.CLI)
    uploads.run_due()
    assert center.outbox.pending([ALERTS]) == []


def test_alerts_kept_through_a_failure_never_go_out_under_a_later_grant(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock
) -> None:
    queue = block(center, ALERTS)
    failing_pass_with(uploads, clock, EventKind.ONBATT)
    queue.unlink()
    queue.mkdir()
    center.withdraw(ALERTS, actor=LocalUser(1000), surface=Surface.CLI)
    center.grant(ALERTS, actor=LocalUser(1000), surface=Surface.CLI)
    uploads.run_due()
    assert sent_events(center) == [[]], "the new grant's heartbeat carries no earlier events"


def test_past_the_cap_the_oldest_kept_alerts_are_dropped_and_counted(
    uploads: Uploads,
    center: PrivacyCenter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uploads_module, "ALERTS_KEPT_MAX", 3)
    queue = block(center, ALERTS)
    caplog.set_level(logging.INFO, LOGGER)
    kinds = [EventKind.ONBATT, EventKind.ONLINE] * 3
    times = failing_pass_with(uploads, clock, *kinds)
    queue.unlink()
    uploads.run_due()
    assert sent_events(center) == [
        [
            {"kind": "restore", "at": times[3]},
            {"kind": "power-fail", "at": times[4]},
            {"kind": "restore", "at": times[5]},
        ]
    ]
    lines = [r.getMessage() for r in uploader_lines(caplog)]
    assert "More than 3 cloud alert events wait for the outbox; dropping the oldest" in lines
    assert "3 cloud alert events were dropped while uploads could not be queued" in lines


def test_error_counts_due_while_the_queue_is_unwritable_go_out_once_it_is_writable(
    uploads: Uploads, center: PrivacyCenter, clock: FakeClock
) -> None:
    center.grant(Purpose.DIAGNOSTICS, actor=LocalUser(1000), surface=Surface.CLI)
    uploads.run_due()
    for _ in range(3):
        uploads.on_message(Event(clock.time(), "ups", EventKind.COMMBAD, "comm bad"))
    queue = block(center, Purpose.DIAGNOSTICS)
    clock.advance(DIAGNOSTICS_S)
    uploads.run_due()
    uploads.on_message(Event(clock.time(), "ups", EventKind.COMMBAD, "comm bad"))
    uploads.run_due()
    queue.unlink()
    uploads.run_due()
    (daily,) = center.outbox.pending([Purpose.DIAGNOSTICS])
    assert daily.envelope.data["diag.error_codes"] == {"commbad": 4}
