"""The sender against a real HTTPS cloud on loopback, a real outbox, ledger and consent gate.

Backoff and rate-limit waits run on a FakeClock: drain_once() reports how long it
would wait, the test advances the clock, and nothing sleeps for real.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.peers.cloud import Answer, Certificate, CloudServer, Received, sample_envelope
from upsight.agent.privacy.admin_policy import EffectivePolicy
from upsight.agent.privacy.consent import (
    ConsentStore,
    CurrentVersions,
    LocalUser,
    Notice,
    Surface,
)
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.gate import ConsentGate
from upsight.agent.privacy.inventory import load_inventory
from upsight.agent.privacy.ledger import Ledger, LedgerEntry, LedgerResult
from upsight.agent.privacy.outbox import DEFAULT_QUOTA, Outbox, Quota
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.sender import (
    GATE_FAILED,
    NOT_SIGNED_IN,
    THREAD_NAME,
    TOKEN_REFUSED,
    WITHDRAWN_WHILE_SENDING,
    Gate,
    GateDecision,
    Sender,
    SenderState,
    SenderStatus,
    Verdict,
)
from upsight.agent.privacy.transport import HttpsTransport

TOKEN = "device-token-1"
SEED = 7
ALERTS = Purpose.CLOUD_ALERTS
ENERGY = Purpose.ENERGY_HISTORY
USER = LocalUser(1000)
PANEL = Surface.SETTINGS_PANEL


def always(verdict: Verdict, reason: str = "") -> Gate:
    return lambda envelope: GateDecision(verdict, reason)


@dataclass
class Rig:
    """One sender wired to real parts; the clock is the only fake."""

    clock: FakeClock
    cloud: CloudServer
    outbox: Outbox
    ledger: Ledger
    transport: HttpsTransport
    statuses: list[SenderStatus] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    sender: Sender = field(init=False)

    def on_change(self, status: SenderStatus) -> None:
        with self.changed:
            self.statuses.append(status)
            self.changed.notify_all()

    def wait_status(self, condition: Callable[[SenderStatus], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: any(map(condition, self.statuses)), 10)

    def queue(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            assert self.outbox.put(envelope) == ()

    def results(self) -> list[tuple[str, LedgerResult, str]]:
        """Ledger rows, oldest first, as (envelope id, result, detail)."""
        return [(e.envelope_id, e.result, e.detail) for e in reversed(self.ledger.entries())]

    def entries(self) -> list[LedgerEntry]:
        return list(reversed(self.ledger.entries()))

    def queued(self) -> list[str]:
        return [q.envelope.envelope_id for q in self.outbox.pending()]


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(
        gate: Gate | None = None,
        *,
        certificate: Certificate = Certificate.TRUSTED,
        token: str | None = TOKEN,
        read_timeout_s: float = 30.0,
        quota: Quota = DEFAULT_QUOTA,
        respond: Callable[[Received], Answer] | None = None,
    ) -> Rig:
        clock = FakeClock()
        root = tmp_path / f"rig{len(made)}"
        cloud = CloudServer(root / "cloud", certificate=certificate, respond=respond).start()
        outbox = Outbox(root / "outbox", quota=quota, clock=clock.time)
        ledger = Ledger(root / "ledger.db", clock=clock.time)
        transport = HttpsTransport(
            cloud.url, token=lambda: token, ca_bundle=cloud.ca_pem, read_timeout_s=read_timeout_s
        )
        rig = Rig(clock, cloud, outbox, ledger, transport)
        rig.sender = Sender(
            outbox,
            ledger,
            transport,
            gate or always(Verdict.SEND),
            clock=clock,
            rng=random.Random(SEED),
            spacing_s=0.0,
            on_change=rig.on_change,
        )
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.sender.stop()
        rig.transport.close()
        rig.cloud.stop()
        rig.ledger.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def test_everything_due_is_sent_control_first_then_oldest(rig: Rig) -> None:
    old, new = sample_envelope(ALERTS), sample_envelope(ENERGY)
    receipt = sample_envelope(Purpose.CONTROL, data={"receipt.to": "denied"})
    rig.queue(old, new)
    rig.clock.advance(1.0)
    rig.queue(receipt)
    assert rig.sender.drain_once() is None
    assert [r.key for r in rig.cloud.posts()] == [
        receipt.envelope_id,
        old.envelope_id,
        new.envelope_id,
    ]
    assert rig.results() == [
        (e.envelope_id, LedgerResult.SENT, "HTTP 200") for e in (receipt, old, new)
    ]
    assert rig.entries()[1].payload == old.encode().decode()
    assert rig.queued() == []
    assert rig.sender.status() == SenderStatus(SenderState.IDLE, sent=3)


def test_an_empty_outbox_sends_nothing(rig: Rig) -> None:
    assert rig.sender.drain_once() is None
    assert rig.cloud.posts() == []
    assert rig.sender.status().state is SenderState.IDLE


@pytest.mark.parametrize("status", [400, 413, 501])
def test_a_rejection_is_recorded_and_not_retried(rig: Rig, status: int) -> None:
    envelope, other = sample_envelope(), sample_envelope()
    rig.queue(envelope, other)
    rig.cloud.script(Answer(status))
    assert rig.sender.drain_once() is None
    assert rig.results() == [
        (envelope.envelope_id, LedgerResult.REJECTED, f"HTTP {status}"),
        (other.envelope_id, LedgerResult.SENT, "HTTP 200"),
    ]
    rig.clock.advance(3600.0)
    assert rig.sender.drain_once() is None
    assert [r.key for r in rig.cloud.posts()] == [envelope.envelope_id, other.envelope_id]
    assert rig.sender.status().rejected == 1


def test_retry_after_seconds_is_honoured(rig: Rig) -> None:
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.cloud.script(Answer(429, {"Retry-After": "120"}))
    assert rig.sender.drain_once() == 120.0
    status = rig.sender.status()
    assert status.state is SenderState.WAITING
    assert status.next_attempt_at == rig.clock.time() + 120.0
    assert "HTTP 429" in status.reason
    assert rig.queued() == [envelope.envelope_id]
    assert rig.results() == []
    rig.clock.advance(119.0)
    assert rig.sender.drain_once() == pytest.approx(1.0)
    assert len(rig.cloud.posts()) == 1
    rig.clock.advance(1.0)
    assert rig.sender.drain_once() is None
    assert [r.key for r in rig.cloud.posts()] == [envelope.envelope_id] * 2
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_retry_after_date_is_honoured(rig: Rig) -> None:
    rig.queue(sample_envelope())
    when = formatdate(rig.clock.time() + 300, usegmt=True)
    rig.cloud.script(Answer(429, {"Retry-After": when}))
    assert rig.sender.drain_once() == 300.0
    rig.clock.advance(300.0)
    assert rig.sender.drain_once() is None
    assert rig.sender.status().sent == 1


def test_a_wait_stops_every_purpose_not_just_the_envelope(rig: Rig) -> None:
    rig.queue(sample_envelope(ALERTS), sample_envelope(ENERGY))
    rig.cloud.script(Answer(503, {"Retry-After": "60"}))
    assert rig.sender.drain_once() == 60.0
    assert len(rig.cloud.posts()) == 1
    rig.sender.wake()
    assert rig.sender.drain_once() == 60.0
    assert len(rig.cloud.posts()) == 1


def test_429_without_retry_after_backs_off_with_full_jitter(rig: Rig) -> None:
    rig.queue(sample_envelope())
    rig.cloud.script(Answer(429), Answer(429))
    twin = random.Random(SEED)
    first = rig.sender.drain_once()
    assert first == twin.uniform(0.0, 5.0)
    assert first is not None
    assert 0.0 <= first <= 5.0
    rig.clock.advance(first)
    second = rig.sender.drain_once()
    assert second == twin.uniform(0.0, 10.0)
    assert second is not None
    assert 0.0 <= second <= 10.0
    rig.clock.advance(second)
    assert rig.sender.drain_once() is None
    assert len(rig.cloud.posts()) == 3
    assert rig.sender.status().sent == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(rig: Rig, status: int) -> None:
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.cloud.script(Answer(status))
    delay = rig.sender.drain_once()
    assert delay is not None
    assert rig.queued() == [envelope.envelope_id]
    rig.clock.advance(delay)
    assert rig.sender.drain_once() is None
    assert [r.key for r in rig.cloud.posts()] == [envelope.envelope_id] * 2
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_a_slow_reply_is_retried_and_delivered_once(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(read_timeout_s=1.0)
    envelope = sample_envelope()
    rig.queue(envelope)
    # The cloud takes the first copy but its reply never comes in time.
    rig.cloud.script(Answer(delay_s=60.0))
    delay = rig.sender.drain_once()
    assert delay is not None
    status = rig.sender.status()
    assert (status.state, status.reason) == (
        SenderState.WAITING,
        "could not reach the cloud (timeout)",
    )
    assert rig.queued() == [envelope.envelope_id]
    rig.clock.advance(delay)
    assert rig.sender.drain_once() is None
    assert list(rig.cloud.accepted) == [envelope.envelope_id]
    assert rig.cloud.duplicates[envelope.envelope_id] == 1
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_a_reset_connection_is_retried(rig: Rig) -> None:
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.cloud.script(Answer(reset=True))
    delay = rig.sender.drain_once()
    assert delay is not None
    assert rig.sender.status().reason == "could not reach the cloud (connection)"
    rig.clock.advance(delay)
    assert rig.sender.drain_once() is None
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_an_untrusted_certificate_sends_nothing(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(certificate=Certificate.UNTRUSTED)
    envelope = sample_envelope()
    rig.queue(envelope)
    assert rig.sender.drain_once() is not None
    assert rig.sender.status().reason == "could not reach the cloud (tls)"
    assert rig.queued() == [envelope.envelope_id]
    assert rig.cloud.posts() == []
    assert rig.cloud.accepted == {}
    assert rig.results() == []


def test_a_refused_token_pauses_until_woken(rig: Rig) -> None:
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.cloud.script(Answer(401))
    assert rig.sender.drain_once() is None
    assert rig.sender.status() == SenderStatus(SenderState.PAUSED, TOKEN_REFUSED)
    rig.clock.advance(86400.0)
    assert rig.sender.drain_once() is None
    assert len(rig.cloud.posts()) == 1
    assert rig.queued() == [envelope.envelope_id]
    rig.sender.wake()
    assert rig.sender.drain_once() is None
    assert len(rig.cloud.posts()) == 2
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_without_a_token_sending_pauses(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(token=None)
    envelope = sample_envelope()
    rig.queue(envelope)
    assert rig.sender.drain_once() is None
    assert rig.sender.status() == SenderStatus(SenderState.PAUSED, NOT_SIGNED_IN)
    assert rig.cloud.posts() == []
    assert rig.queued() == [envelope.envelope_id]


def test_gate_drop_deletes_without_a_post(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(always(Verdict.DROP, "cloud_alerts is off"))
    envelope = sample_envelope()
    rig.queue(envelope)
    assert rig.sender.drain_once() is None
    assert rig.cloud.posts() == []
    assert rig.queued() == []
    assert rig.results() == [
        (envelope.envelope_id, LedgerResult.DROPPED_CONSENT, "cloud_alerts is off")
    ]
    assert rig.sender.status().dropped == 1


def test_gate_hold_keeps_the_envelope_until_woken(make_rig: Callable[..., Rig]) -> None:
    verdicts = [GateDecision(Verdict.HOLD, "cloud connection blocked by your organization")]
    rig = make_rig(lambda envelope: verdicts[-1])
    envelope = sample_envelope(Purpose.CONTROL, data={"deletion.purposes": ["all"]})
    rig.queue(envelope)
    assert rig.sender.drain_once() is None
    assert rig.sender.status() == SenderStatus(
        SenderState.PAUSED, "cloud connection blocked by your organization"
    )
    assert rig.queued() == [envelope.envelope_id]
    assert rig.cloud.posts() == []
    verdicts.append(GateDecision(Verdict.SEND))
    rig.sender.wake()
    assert rig.sender.drain_once() is None
    assert [r.path for r in rig.cloud.posts()] == ["/v1/privacy/deletion-requests"]


def test_a_failing_gate_holds_everything(make_rig: Callable[..., Rig]) -> None:
    def broken(envelope: Envelope) -> GateDecision:
        raise OSError("consent.json unreadable")

    rig = make_rig(broken)
    rig.queue(sample_envelope())
    assert rig.sender.drain_once() is None
    assert rig.sender.status() == SenderStatus(SenderState.PAUSED, GATE_FAILED)
    assert rig.cloud.posts() == []
    assert len(rig.queued()) == 1


@pytest.fixture
def store(tmp_path: Path) -> ConsentStore:
    notice = Notice("privacy-notice", "2026-09-01", "ab" * 32, "en-US")
    versions = CurrentVersions(notice, inventory_version=load_inventory().version)
    return ConsentStore(tmp_path / "consent", id_key=b"k" * 32, versions=versions)


def consent_gate(store: ConsentStore) -> Gate:
    return ConsentGate(store, EffectivePolicy, load_inventory(), lambda: None).decide


def built_now(store: ConsentStore, purpose: Purpose = ALERTS) -> Envelope:
    """An envelope carrying the purpose's current epoch, as the builder would make it."""
    return sample_envelope(
        purpose,
        epoch=store.consent(purpose).epoch,
        inventory_version=load_inventory().version,
    )


def test_an_envelope_from_before_a_withdraw_and_regrant_is_never_sent(
    make_rig: Callable[..., Rig], store: ConsentStore
) -> None:
    rig = make_rig(consent_gate(store))
    store.grant(ALERTS, actor=USER, surface=PANEL)
    stale = built_now(store)
    rig.queue(stale)
    store.withdraw(ALERTS, actor=USER, surface=PANEL)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    fresh = built_now(store)
    assert fresh.consent_epoch != stale.consent_epoch
    rig.queue(fresh)
    assert rig.sender.drain_once() is None
    [request] = rig.cloud.posts()
    assert request.key == fresh.envelope_id
    assert request.headers["x-consent-epoch"] == str(fresh.consent_epoch)
    [dropped, sent] = rig.entries()
    assert (dropped.envelope_id, dropped.result) == (
        stale.envelope_id,
        LedgerResult.DROPPED_CONSENT,
    )
    assert "epoch" in dropped.detail
    assert (sent.envelope_id, sent.result) == (fresh.envelope_id, LedgerResult.SENT)


def test_a_withdrawal_while_the_cloud_answers_is_recorded(
    make_rig: Callable[..., Rig], store: ConsentStore
) -> None:
    def withdraw_on_arrival(request: Received) -> Answer:
        store.withdraw(ALERTS, actor=USER, surface=PANEL)
        return Answer(200)

    rig = make_rig(consent_gate(store), respond=withdraw_on_arrival)
    store.grant(ALERTS, actor=USER, surface=PANEL)
    envelope = built_now(store)
    rig.queue(envelope)
    assert rig.sender.drain_once() is None
    assert rig.results() == [
        (envelope.envelope_id, LedgerResult.SENT_BEFORE_WITHDRAWAL, "HTTP 200")
    ]


def drain_in_background(sender: Sender) -> tuple[threading.Thread, list[float | None]]:
    returned: list[float | None] = []
    worker = threading.Thread(target=lambda: returned.append(sender.drain_once()))
    worker.start()
    return worker, returned


def test_cancel_aborts_the_request_in_flight_without_retry(rig: Rig) -> None:
    envelope = sample_envelope(ALERTS)
    rig.queue(envelope)
    rig.cloud.script(Answer(delay_s=60.0))
    worker, returned = drain_in_background(rig.sender)
    rig.cloud.wait_for(1)
    rig.sender.cancel(ALERTS)
    worker.join(10)
    assert not worker.is_alive()
    assert returned == [None]
    assert rig.results() == [
        (envelope.envelope_id, LedgerResult.DROPPED_CONSENT, WITHDRAWN_WHILE_SENDING)
    ]
    assert rig.queued() == []
    rig.clock.advance(3600.0)
    assert rig.sender.drain_once() is None
    assert len(rig.cloud.posts()) == 1


def test_cancel_of_another_purpose_leaves_the_request_alone(rig: Rig) -> None:
    envelope = sample_envelope(ALERTS)
    rig.queue(envelope)
    rig.cloud.script(Answer(delay_s=0.3))
    worker, _ = drain_in_background(rig.sender)
    rig.cloud.wait_for(1)
    rig.sender.cancel(ENERGY)
    worker.join(10)
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_at_most_15_posts_a_minute(rig: Rig) -> None:
    envelopes = [sample_envelope() for _ in range(20)]
    rig.queue(*envelopes)
    assert rig.sender.drain_once() == pytest.approx(60.0)
    assert len(rig.cloud.posts()) == 15
    assert rig.sender.status().state is SenderState.WAITING
    rig.clock.advance(59.0)
    rig.sender.wake()
    assert rig.sender.drain_once() == pytest.approx(1.0)
    assert len(rig.cloud.posts()) == 15
    rig.clock.advance(1.0)
    assert rig.sender.drain_once() is None
    assert [r.key for r in rig.cloud.posts()] == [e.envelope_id for e in envelopes]


def test_outbox_drops_reach_the_ledger(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(quota=Quota(max_age_s=3600.0))
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.clock.advance(3601.0)
    assert rig.sender.drain_once() is None
    assert rig.cloud.posts() == []
    [entry] = rig.entries()
    assert (entry.envelope_id, entry.result) == (envelope.envelope_id, LedgerResult.DROPPED_EXPIRED)
    assert rig.sender.status().dropped == 1


def test_status_changes_are_reported(rig: Rig) -> None:
    rig.queue(sample_envelope())
    rig.sender.drain_once()
    assert [s.state for s in rig.statuses] == [
        SenderState.SENDING,
        SenderState.SENDING,
        SenderState.IDLE,
    ]
    assert rig.statuses[1].sent == 1


def test_the_thread_sends_when_woken_and_stops(rig: Rig) -> None:
    rig.sender.start()
    assert THREAD_NAME in {t.name for t in threading.enumerate()}
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.sender.wake()
    rig.wait_status(lambda status: status.sent == 1)
    rig.sender.stop()
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}
    assert rig.results() == [(envelope.envelope_id, LedgerResult.SENT, "HTTP 200")]


def test_stop_cuts_a_request_short_and_keeps_the_envelope(rig: Rig) -> None:
    envelope = sample_envelope()
    rig.queue(envelope)
    rig.cloud.script(Answer(delay_s=60.0))
    rig.sender.start()
    rig.sender.wake()
    rig.cloud.wait_for(1)
    rig.sender.stop()
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}
    assert rig.queued() == [envelope.envelope_id]
    assert rig.results() == []
