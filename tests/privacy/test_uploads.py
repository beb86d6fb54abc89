"""The agent's uploader: what it queues for each purpose, when, and what never leaves.

Real consent store, outbox, ledger, history store and a real HTTPS cloud on loopback;
the clock and the OS keychain are the only test doubles.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.fakes import FakeClock
from tests.keyrings import MemoryKeyring
from tests.peers.cloud import Answer, CloudServer, Received
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.paths import AppPaths
from upsight.agent.privacy.admin_policy import EffectivePolicy, load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import LedgerResult
from upsight.agent.privacy.outbox import DELETION_REQUEST_KEY
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.privacy.snapshot import BUCKET_S
from upsight.agent.privacy.transforms import pseudonym
from upsight.agent.privacy.uploads import DIAGNOSTICS_S, HEARTBEAT_S, STATE_FILE, Uploads
from upsight.agent.service import Agent
from upsight.drivers.model import Reading, Status, UpsFlag, UpsInfo

USER = LocalUser(1000)
CLI = Surface.CLI
ALERTS = Purpose.CLOUD_ALERTS
REGISTRATION = Purpose.DEVICE_REGISTRATION
ENERGY = Purpose.ENERGY_HISTORY
DIAGNOSTICS = Purpose.DIAGNOSTICS
K = EventKind
TOKEN = "device-token"
SERIAL = "AS1234567890"
HOUR_S = 3600
# Hour-aligned, so the test can name every 15-minute bucket it expects.
START = 1_699_999_200.0
READING_EVERY_S = 30
PRE_GRANT_W = 1000.0
"""Readings from before a grant are at least this high, so a leak is visible in any bucket."""
VALUES: dict[str, float | str] = {
    "battery.charge": 87.0,
    "battery.runtime": 1380.0,
    "input.voltage": 230.4,
    "ups.load": 31.0,
    "ups.realpower": 186.0,
}


def device_state(
    at: float,
    *,
    flags: tuple[UpsFlag, ...] = (UpsFlag.OL,),
    serial: str = SERIAL,
    firmware: str = "871.O4",
    charge: float = 87.0,
) -> DeviceState:
    values = {**VALUES, "battery.charge": charge}
    return DeviceState(
        device="ups",
        spec="sim://normal",
        link=Link.OK,
        reading=Reading(at, Status.of(*flags), values),
        info=UpsInfo(mfr="APC", model="Back-UPS ES 700", serial=serial, firmware=firmware),
    )


def volts(watts: float) -> float:
    """The input voltage :meth:`Rig.record` stores beside a power reading."""
    return 220.0 + watts / 100


@dataclass
class Rig:
    """A privacy center, history store and device state on one fake clock."""

    clock: FakeClock
    center: PrivacyCenter
    history: HistoryStore
    state: DeviceState
    made: list[Uploads] = field(default_factory=list)

    def uploads(self, config: Config | None = None) -> Uploads:
        made = Uploads(
            self.center, config or Config(), lambda: [self.state], self.history, clock=self.clock
        )
        self.made.append(made)
        return made

    def grant(self, purpose: Purpose) -> None:
        self.center.grant(purpose, actor=USER, surface=CLI)

    def event(self, uploads: Uploads, kind: EventKind) -> float:
        at = self.clock.time()
        uploads.on_message(Event(at, "ups", kind, kind.value))
        return at

    def queued(self, purpose: Purpose) -> list[Envelope]:
        return [q.envelope for q in self.center.outbox.pending([purpose])]

    def record(self, seconds: float, watts: Callable[[float], float]) -> list[tuple[float, float]]:
        """Record a reading every 30 s for ``seconds``, moving the clock; returns (t, W)."""
        samples: list[tuple[float, float]] = []
        stop = self.clock.time() + seconds
        while self.clock.time() < stop:
            at = self.clock.time()
            power = watts(at)
            values = {**VALUES, "ups.realpower": power, "input.voltage": volts(power)}
            self.history.record("ups", Reading(at, Status.of(UpsFlag.OL), values))
            samples.append((at, power))
            self.clock.advance(READING_EVERY_S)
        self.history.flush()
        return samples


def policy_free(tmp_path: Path) -> Callable[[], EffectivePolicy]:
    """No admin policy: an empty directory stands in for the machine's policy locations."""
    root = tmp_path / "no-policy"
    root.mkdir(parents=True, exist_ok=True)
    return lambda: load_policy(root)


def open_center(
    directory: Path, keyring: MemoryKeyring, clock: Callable[[], float]
) -> PrivacyCenter:
    secrets = Secrets(keyring)
    secrets.set_token(TOKEN)
    return PrivacyCenter(
        directory, secrets=secrets, policy=policy_free(directory.parent), clock=clock
    )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock(START)
    center = open_center(tmp_path / "privacy", MemoryKeyring(), clock.time)
    history = HistoryStore(tmp_path / "history.sqlite3", clock=clock)
    made = Rig(clock, center, history, device_state(clock.time()))
    yield made
    for uploads in made.made:
        uploads.stop()
    center.close()
    history.close()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(tmp_path / "cloud") as server:
        yield server


def cloud_config(cloud: CloudServer) -> Config:
    return Config(
        cloud_endpoint=cloud.url,
        cloud_ca_bundle=str(cloud.ca_pem),
        cloud_max_requests_per_minute=600,
    )


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait until ``condition`` holds, for work other threads finish."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def purpose_of(received: Received) -> str | None:
    body = received.body
    return str(body["purpose"]) if isinstance(body, dict) else None


def is_deletion_request(envelope: Envelope) -> bool:
    return envelope.purpose is Purpose.CONTROL and DELETION_REQUEST_KEY in envelope.data


# --- Nothing by default ------------------------------------------------------------------


def test_nothing_is_queued_or_sent_while_every_purpose_is_undetermined(
    rig: Rig, cloud: CloudServer
) -> None:
    rig.record(4 * HOUR_S, lambda t: 200.0)
    uploads = rig.uploads(cloud_config(cloud))
    uploads.start()
    for kind in (K.ONBATT, K.COMMBAD, K.LOWBATT, K.NOCOMM, K.COMMOK, K.ONLINE):
        rig.event(uploads, kind)
    for _ in range(3):
        uploads.run_due()
        rig.record(DIAGNOSTICS_S / 8, lambda t: 200.0)
        rig.clock.advance(DIAGNOSTICS_S)
    uploads.run_due()
    uploads.stop()

    assert rig.center.outbox.pending() == []
    assert {n for n, _ in rig.center.outbox.counts().values()} == {0}
    assert cloud.posts() == []
    assert rig.center.ledger.entries() == []


def test_a_pass_with_nothing_due_leaves_the_disk_alone(rig: Rig) -> None:
    rig.grant(ALERTS)
    uploads = rig.uploads()
    uploads.run_due()
    state = rig.center.directory / STATE_FILE
    written = state.stat()
    for _ in range(5):
        rig.clock.advance(1.0)
        uploads.run_due()
    # An idle agent runs a pass every few seconds; rewriting (and fsyncing) its marks each
    # time would cost CPU and wear the disk for nothing.
    assert (state.stat().st_ino, state.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert len(rig.queued(ALERTS)) == 1


# --- Cloud alerts ------------------------------------------------------------------------


def test_an_alert_goes_at_once_and_the_status_every_15_minutes(rig: Rig) -> None:
    rig.grant(ALERTS)
    uploads = rig.uploads()
    uploads.run_due()
    (started,) = rig.queued(ALERTS)
    assert "ups.event" not in started.data
    assert started.data["ups.status"] == "online"

    rig.clock.advance(60)
    rig.state = device_state(rig.clock.time(), flags=(UpsFlag.OB, UpsFlag.DISCHRG), charge=80.4)
    at = rig.event(uploads, K.ONBATT)
    uploads.run_due()
    queued = rig.queued(ALERTS)
    assert len(queued) == 2, "one envelope per alert, at once"
    alert = queued[1]
    assert alert.data["ups.event"] == [{"kind": "power-fail", "at": int(at)}]
    assert alert.data["ups.status"] == "on-battery"
    assert alert.data["ups.battery.charge_pct"] == 80
    assert alert.data["ups.battery.runtime_s"] == 1380
    assert alert.data["ups.input.voltage"] == VALUES["input.voltage"]
    assert alert.data["ups.output.power_w"] == VALUES["ups.realpower"]
    assert alert.data["ups.connection"] == "simulated"

    rig.clock.advance(HEARTBEAT_S - 1)
    uploads.run_due()
    assert len(rig.queued(ALERTS)) == 2, "no heartbeat before 15 minutes"
    rig.clock.advance(1)
    uploads.run_due()
    queued = rig.queued(ALERTS)
    assert len(queued) == 3
    heartbeat = queued[2]
    assert "ups.event" not in heartbeat.data
    assert heartbeat.data["ups.status"] == "on-battery"
    assert heartbeat.consent_epoch == alert.consent_epoch


# --- Device registration -----------------------------------------------------------------


def test_registration_goes_once_per_identity_with_the_serial_as_a_pseudonym(rig: Rig) -> None:
    rig.grant(REGISTRATION)
    uploads = rig.uploads()
    uploads.run_due()
    uploads.run_due()
    (first,) = rig.queued(REGISTRATION)
    secret = rig.center.install_secret()
    assert re.fullmatch("[0-9a-f]{64}", first.data["ups.serial"])
    assert first.data["ups.serial"] == pseudonym(secret, SERIAL)
    assert SERIAL not in first.encode().decode()
    assert (first.data["ups.model"], first.data["ups.firmware"]) == ("Back-UPS ES 700", "871.O4")

    rig.state = device_state(rig.clock.time(), firmware="872.O5")
    uploads.run_due()
    uploads.run_due()
    queued = rig.queued(REGISTRATION)
    assert len(queued) == 2, "a firmware update registers again, once"
    assert queued[1].data["ups.firmware"] == "872.O5"
    assert queued[1].data["ups.serial"] == first.data["ups.serial"]

    rig.state = device_state(rig.clock.time(), serial="AS0000000002", firmware="872.O5")
    uploads.run_due()
    queued = rig.queued(REGISTRATION)
    assert len(queued) == 3, "another UPS registers"
    assert queued[2].data["ups.serial"] == pseudonym(secret, "AS0000000002")


def test_the_serial_goes_in_clear_only_with_its_switch(rig: Rig) -> None:
    rig.grant(REGISTRATION)
    uploads = rig.uploads()
    uploads.run_due()
    rig.center.set_subtoggle(REGISTRATION, "send_serial_clear", True, actor=USER, surface=CLI)
    uploads.run_due()
    queued = rig.queued(REGISTRATION)
    assert len(queued) == 2, "switching the serial on sends it, without waiting for a new UPS"
    assert queued[1].data["ups.serial"] == SERIAL

    rig.center.set_subtoggle(REGISTRATION, "send_serial_clear", False, actor=USER, surface=CLI)
    assert rig.queued(REGISTRATION) == [], "switching it off drops what was queued with it"
    uploads.run_due()
    (again,) = rig.queued(REGISTRATION)
    assert again.data["ups.serial"] == pseudonym(rig.center.install_secret(), SERIAL)


def test_registration_is_sent_again_after_a_withdraw_and_regrant(rig: Rig) -> None:
    rig.grant(REGISTRATION)
    uploads = rig.uploads()
    uploads.run_due()
    assert len(rig.queued(REGISTRATION)) == 1
    rig.center.withdraw(REGISTRATION, actor=USER, surface=CLI)
    uploads.run_due()
    assert rig.queued(REGISTRATION) == []

    rig.grant(REGISTRATION)
    uploads.run_due()
    (again,) = rig.queued(REGISTRATION)
    assert again.consent_epoch == rig.center.store.consent(REGISTRATION).epoch
    assert again.data["ups.serial"] == pseudonym(rig.center.install_secret(), SERIAL)


# --- Energy history ----------------------------------------------------------------------


def expected_buckets(
    samples: list[tuple[float, float]], start: float, stop: float
) -> list[tuple[int, float, float, float]]:
    """(start, min, avg, max) of each 15-minute bucket in [start, stop), from the samples."""
    out: list[tuple[int, float, float, float]] = []
    for bucket in range(int(start), int(stop), BUCKET_S):
        values = [w for t, w in samples if bucket <= t < bucket + BUCKET_S]
        out.append((bucket, min(values), sum(values) / len(values), max(values)))
    return out


def pre_grant_watts(t: float) -> float:
    return PRE_GRANT_W + t % 500


def post_grant_watts(t: float) -> float:
    return 150.0 + 40.0 * ((t // READING_EVERY_S) % 7)


@pytest.mark.parametrize("ran_before_grant", [True, False], ids=["running", "started-after"])
def test_energy_goes_hourly_in_15_minute_buckets_from_the_grant_on(
    rig: Rig, ran_before_grant: bool
) -> None:
    rig.record(3 * HOUR_S, pre_grant_watts)
    uploads = rig.uploads()
    if ran_before_grant:
        uploads.run_due()
    rig.record(600, pre_grant_watts)
    rig.grant(ENERGY)
    # The bucket the grant fell in also holds readings from before it, so the first
    # bucket that may go is the next one.
    first = START + 3 * HOUR_S + BUCKET_S
    after = rig.record(3000, post_grant_watts)
    uploads.run_due()
    assert rig.queued(ENERGY) == [], "less than an hour since the grant"

    after += rig.record(5400, post_grant_watts)
    uploads.run_due()
    envelopes = rig.queued(ENERGY)
    assert len(envelopes) == 2
    for number, envelope in enumerate(envelopes):
        start = first + number * HOUR_S
        buckets = expected_buckets(after, start, start + HOUR_S)
        starts = [b[0] for b in buckets]
        series = {k: v for k, v in envelope.data.items() if k != "energy.kwh"}
        assert set(series) >= {
            "ups.output.power_w",
            "ups.input.voltage",
            "ups.battery.charge_pct",
            "ups.output.load_pct",
        }
        for name, rows in series.items():
            assert [row["t"] for row in rows] == starts, name
            assert all(row["min"] <= row["avg"] <= row["max"] for row in rows), name
        for row, (t, low, mean, high) in zip(
            envelope.data["ups.output.power_w"], buckets, strict=True
        ):
            assert row == pytest.approx({"t": t, "min": low, "avg": mean, "max": high})
            assert row["max"] < PRE_GRANT_W
        for row, (t, low, mean, high) in zip(
            envelope.data["ups.input.voltage"], buckets, strict=True
        ):
            expected = {"t": t, "min": volts(low), "avg": volts(mean), "max": volts(high)}
            assert row == pytest.approx(expected)
        kwh = envelope.data["energy.kwh"]
        assert [row["t"] for row in kwh] == starts
        for row, (_, _, mean, _) in zip(kwh, buckets, strict=True):
            # Sent to the nearest Wh.
            assert row["kwh"] == pytest.approx(mean * BUCKET_S / 3600 / 1000, abs=0.000501)

    rig.record(HOUR_S - BUCKET_S - READING_EVERY_S, post_grant_watts)
    uploads.run_due()
    assert len(rig.queued(ENERGY)) == 2, "the third hour is not over yet"
    rig.record(READING_EVERY_S, post_grant_watts)
    uploads.run_due()
    third = rig.queued(ENERGY)[2]
    assert [row["t"] for row in third.data["energy.kwh"]] == [
        first + 2 * HOUR_S + i * BUCKET_S for i in range(4)
    ]


# --- Diagnostics -------------------------------------------------------------------------


def test_errors_are_counted_only_while_diagnostics_is_on(rig: Rig) -> None:
    uploads = rig.uploads()
    uploads.run_due()
    for _ in range(2):
        rig.event(uploads, K.COMMBAD)
    rig.grant(DIAGNOSTICS)
    for kind in (K.COMMBAD, K.COMMBAD, K.NOCOMM, K.COMMBAD, K.ONLINE, K.COMMOK):
        rig.event(uploads, kind)
    rig.clock.advance(DIAGNOSTICS_S - 1)
    uploads.run_due()
    assert rig.queued(DIAGNOSTICS) == [], "error counts go once a day"
    rig.clock.advance(1)
    uploads.run_due()
    (daily,) = rig.queued(DIAGNOSTICS)
    assert daily.data["diag.error_codes"] == {"commbad": 3, "nocomm": 1}

    rig.event(uploads, K.COMMBAD)
    rig.center.withdraw(DIAGNOSTICS, actor=USER, surface=CLI)
    rig.event(uploads, K.NOCOMM)
    rig.grant(DIAGNOSTICS)
    rig.event(uploads, K.COMMBAD)
    rig.event(uploads, K.COMMBAD)
    rig.clock.advance(DIAGNOSTICS_S)
    uploads.run_due()
    (next_day,) = rig.queued(DIAGNOSTICS)
    assert next_day.data["diag.error_codes"] == {"commbad": 2}, "counted under this grant only"


# --- Withdrawal while queued -------------------------------------------------------------


def test_withdrawal_empties_the_queue_and_nothing_of_it_is_posted_again(
    rig: Rig, tmp_path: Path
) -> None:
    held = True

    def respond(request: Received) -> Answer:
        # The cloud holds alert uploads off for an hour of fake time, so they stay queued.
        if held and purpose_of(request) == ALERTS:
            return Answer(503, {"Retry-After": "3600"})
        return Answer()

    rig.grant(ALERTS)
    uploads = rig.uploads()
    rig.event(uploads, K.ONBATT)
    uploads.run_due()
    for _ in range(2):
        rig.clock.advance(HEARTBEAT_S)
        uploads.run_due()
    queued = rig.queued(ALERTS)
    assert len(queued) == 3
    stale = queued[-1]
    with CloudServer(tmp_path / "held-cloud", respond=respond) as cloud:
        uploads = rig.uploads(cloud_config(cloud))
        uploads.start()
        cloud.wait_until(lambda c: any(purpose_of(r) == ALERTS for r in c.posts()), "an alert")
        done = rig.center.withdraw(ALERTS, actor=USER, surface=CLI)

        assert done.purged == 3
        assert rig.queued(ALERTS) == []
        assert done.deletion_request is not None
        request_id = done.deletion_request.envelope_id
        deletions = [e for e in rig.queued(Purpose.CONTROL) if is_deletion_request(e)]
        assert [e.envelope_id for e in deletions] == [request_id]

        held = False
        rig.clock.advance(HOUR_S)
        uploads.changed()
        cloud.wait_until(lambda c: request_id in c.accepted, "the deletion request")
        rig.grant(ALERTS)
        # Queued from a copy made before the withdrawal: its epoch is the old grant's.
        rig.center.outbox.put(stale)
        uploads.changed()
        cloud.wait_until(
            lambda c: sum(purpose_of(r) == ALERTS for r in c.posts()) > 1,
            "the new grant's status envelope",
        )
        eventually(lambda: not rig.queued(ALERTS), "the alert queue sent or dropped")
        uploads.stop()
        alert_posts = [r.key for r in cloud.posts() if purpose_of(r) == ALERTS]

    assert alert_posts[0] == queued[0].envelope_id
    assert len(alert_posts) == 2
    assert alert_posts[1] not in {e.envelope_id for e in queued}, "only the new grant's"
    stale_rows = [
        e for e in rig.center.ledger.entries(purpose=ALERTS) if e.envelope_id == stale.envelope_id
    ]
    assert [e.result for e in stale_rows] == [LedgerResult.DROPPED_CONSENT] * 2
    assert "epoch" in stale_rows[0].detail, "dropped at send time for its old epoch"


# --- Status ------------------------------------------------------------------------------


def test_status_names_the_endpoint_and_the_sender(rig: Rig, cloud: CloudServer) -> None:
    rig.grant(ALERTS)
    uploads = rig.uploads(cloud_config(cloud))
    uploads.start()
    # The grant's receipt, then the status envelope queued at start.
    eventually(lambda: uploads.status()["sender"]["sent"] == 2, "two envelopes sent")
    status = uploads.status()
    uploads.stop()
    assert status["endpoint"] == cloud.url
    assert status["endpoint_source"] == "config cloud.endpoint"
    assert status["problem"] is None
    assert status["sender"]["state"] == "idle"
    assert status["queued"][str(ALERTS)] == 0
    assert sorted(purpose_of(r) or "" for r in cloud.posts()) == [str(ALERTS), "control"]


def test_without_an_endpoint_envelopes_stay_queued(rig: Rig) -> None:
    rig.grant(ALERTS)
    uploads = rig.uploads()
    uploads.start()
    uploads.run_due()
    uploads.stop()
    status = uploads.status()
    assert status["endpoint"] is None
    assert status["sender"] is None
    assert "no cloud endpoint" in status["problem"]
    assert status["queued"][str(ALERTS)] >= 1
    assert status["queued"][str(Purpose.CONTROL)] == 1, "the grant's receipt waits too"
    assert rig.center.ledger.entries() == []


# --- The whole agent ---------------------------------------------------------------------


def payload_validator() -> Draft202012Validator:
    text = (resources.files("upsight.resources") / "payload.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def alert_kinds(body: Any) -> list[str]:
    return [e["kind"] for e in body["data"].get("ups.event", [])]


def test_the_agent_sends_cloud_alerts_of_a_simulated_outage(
    tmp_path: Path, cloud: CloudServer
) -> None:
    center = open_center(tmp_path / "data" / "privacy", MemoryKeyring(), time.time)
    center.grant(ALERTS, actor=USER, surface=CLI)
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    config = Config(
        poll_interval_s=0.2,
        cloud_endpoint=cloud.url,
        cloud_ca_bundle=str(cloud.ca_pem),
        cloud_max_requests_per_minute=600,
        device_label="Rack 4",
    )
    agent = Agent(paths, config, ["sim://outage?speed=60"], serve_api=False, privacy=center)
    agent.start()
    try:
        cloud.wait_until(
            lambda c: any("restore" in alert_kinds(b) for b in list(c.accepted.values())),
            "the restore alert",
            timeout_s=30,
        )
        # Stopping cuts a request in flight short; let the queue run dry first.
        eventually(lambda: not center.outbox.pending(), "an empty outbox")
    finally:
        agent.stop()
    try:
        alerts = {k: b for k, b in cloud.accepted.items() if b["purpose"] == str(ALERTS)}
        kinds = [kind for body in alerts.values() for kind in alert_kinds(body)]
        assert kinds[:3] == ["power-fail", "low-battery", "restore"]
        validator = payload_validator()
        for body in cloud.accepted.values():
            validator.validate(body)
        assert {b["data"]["device.label"] for b in alerts.values()} == {"Rack 4"}
        sent = {
            e.envelope_id
            for e in center.ledger.entries()
            if e.result in (LedgerResult.SENT, LedgerResult.SENT_BEFORE_WITHDRAWAL)
        }
        assert set(cloud.accepted) <= sent
        assert {e.envelope_id for e in center.ledger.entries(purpose=ALERTS)} >= set(alerts)
    finally:
        center.close()
