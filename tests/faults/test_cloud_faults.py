"""Fault campaign: the cloud fails again and again (5xx, 429 storms, resets, silence, bad TLS).

A real sender, outbox, ledger and HTTPS transport talk to the loopback cloud, through a
TCP relay that records every byte the agent sends and whose upstream the test switches
(to a silent socket, to a server with a bad certificate, back to the real cloud). Only
the clock is fake: backoff and Retry-After waits pass in moments, so an hour-long outage
costs a few dozen real requests.

Scoring: an injection is recovered when every queued envelope reaches the cloud once the
fault ends. data_lost counts envelopes that never arrive; false_actions counts
duplicates the cloud accepted and anything received over a failed TLS channel or in clear.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.faults.campaign import Campaign
from tests.peers.cloud import Answer, Certificate, CloudServer, Received, sample_envelope
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import Ledger, LedgerResult
from upsight.agent.privacy.outbox import Outbox
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.retry import MAX_RETRY_AFTER_S
from upsight.agent.privacy.sender import GateDecision, Sender, SenderState, Verdict
from upsight.agent.privacy.transport import HttpsTransport, TransportFailure

TOKEN = "device-token-7d41c0"
SEED = 11
HOUR_S = 3600.0
BACKOFF_CAP_S = 1800.0
"""privacy-design.md §8.2: full-jitter backoff, base 5 s, doubling, capped at 30 minutes."""
QUEUED = 4
"""Envelopes waiting when each fault starts."""
TLS_RECORD = 0x16
"""The first byte of every TLS connection: a handshake record."""


class Relay:
    """A TCP relay on 127.0.0.1 that records what the client sends.

    Its upstream is a port on 127.0.0.1, or None to accept connections and never answer.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.upstream: int | None = None
        self.sent = bytearray()
        self.first_bytes: list[int] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="test-relay", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def switch(self, upstream: int | None) -> None:
        """Relay new connections to ``upstream`` and cut the open ones, as a server swap does."""
        self.upstream = upstream
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.switch(None)
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            upstream: socket.socket | None = None
            if self.upstream is not None:
                upstream = socket.create_connection(("127.0.0.1", self.upstream))
                with self._lock:
                    self._sockets.append(upstream)
                threading.Thread(target=self._pump, args=(upstream, client, False)).start()
            threading.Thread(target=self._pump, args=(client, upstream, True)).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None, record: bool) -> None:
        first = True
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if record:
                with self._lock:
                    if first:
                        self.first_bytes.append(data[0])
                    self.sent += data
                first = False
            if sink is not None:
                try:
                    sink.sendall(data)
                except OSError:
                    break
        if sink is not None:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


@dataclass
class Rig:
    """A sender on a fake clock, posting through a relay to the loopback cloud."""

    clock: FakeClock
    cloud: CloudServer
    relay: Relay
    outbox: Outbox
    ledger: Ledger
    transport: HttpsTransport
    sender: Sender
    failing: Answer | None = None
    queued_ids: list[str] = field(default_factory=list)
    scored: Counter[str] = field(default_factory=Counter)

    def answer(self, request: Received) -> Answer:
        return self.failing or Answer()

    def queue(self, count: int = QUEUED) -> list[Envelope]:
        envelopes = [
            sample_envelope(Purpose.ENERGY_HISTORY if i % 2 else Purpose.CLOUD_ALERTS)
            for i in range(count)
        ]
        for envelope in envelopes:
            assert self.outbox.put(envelope) == ()
        self.queued_ids += [e.envelope_id for e in envelopes]
        return envelopes

    def pending(self) -> set[str]:
        return {q.envelope.envelope_id for q in self.outbox.pending()}

    def drain_until(self, until: float, on_delay: Callable[[float], None]) -> None:
        """Let the sender try and wait, on the fake clock, until ``until``."""
        while self.clock.time() < until:
            delay = self.sender.drain_once()
            assert delay is not None, f"the sender gave up: {self.sender.status()}"
            on_delay(delay)
            self.clock.advance(delay)

    def recover(self) -> None:
        """The fault is over: wait out the last delay and drain everything."""
        self.failing = None
        for _ in range(20):
            delay = self.sender.drain_once()
            if delay is None:
                return
            self.clock.advance(delay)
        raise AssertionError(f"the sender never drained: {self.sender.status()}")

    def score(self, envelopes: list[Envelope]) -> tuple[int, int]:
        """Envelopes never delivered, and envelopes the cloud accepted more than once."""
        lost = sum(e.envelope_id not in self.cloud.accepted for e in envelopes)
        doubled = sum(self.cloud.duplicates[e.envelope_id] for e in envelopes)
        return lost, doubled

    def settle(self, envelopes: list[Envelope]) -> None:
        """Score one injection once the cloud is back: recovered, lost and doubled."""
        lost, doubled = self.score(envelopes)
        self.scored["recovered"] += self.sent_once(envelopes)
        self.scored["data_lost"] += lost
        self.scored["false_actions"] += doubled

    def settled(self) -> dict[str, int]:
        """The scores of every injection settled so far, as the campaign counts them."""
        return dict(self.scored)

    def sent_once(self, envelopes: list[Envelope]) -> bool:
        """Every envelope delivered, gone from the queue and in the ledger as sent once."""
        sent = [
            e.envelope_id
            for e in self.ledger.entries()
            if e.result is LedgerResult.SENT and e.detail == "HTTP 200"
        ]
        ids = [e.envelope_id for e in envelopes]
        return (
            all(sent.count(i) == 1 for i in ids)
            and not self.pending() & set(ids)
            and all(self.cloud.accepted.get(i) is not None for i in ids)
        )


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(*, timeout_s: float = 10.0, trust: Sequence[Path] = ()) -> Rig:
        """A rig whose transport trusts the cloud's CA and the CAs in ``trust``."""
        root = tmp_path / f"rig{len(made)}"
        clock = FakeClock()
        relay = Relay()
        holder: list[Rig] = []

        def respond(request: Received) -> Answer:
            return holder[0].answer(request)

        cloud = CloudServer(root / "cloud", respond=respond).start()
        bundle = root / "trusted.pem"
        bundle.write_bytes(b"".join(p.read_bytes() for p in (cloud.ca_pem, *trust)))
        relay.upstream = cloud.port
        outbox = Outbox(root / "outbox", clock=clock.time)
        ledger = Ledger(root / "ledger.db", clock=clock.time)
        transport = HttpsTransport(
            relay.url,
            token=lambda: TOKEN,
            ca_bundle=bundle,
            connect_timeout_s=timeout_s,
            read_timeout_s=timeout_s,
        )
        sender = Sender(
            outbox,
            ledger,
            transport,
            lambda envelope: GateDecision(Verdict.SEND),
            clock=clock,
            rng=random.Random(SEED),
            spacing_s=0.0,
            max_requests_per_minute=600,
        )
        rig = Rig(clock, cloud, relay, outbox, ledger, transport, sender)
        holder.append(rig)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.sender.stop()
        rig.transport.close()
        rig.relay.stop()
        rig.cloud.stop()
        rig.ledger.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def test_an_hour_of_gateway_errors_backs_off_within_the_cap_and_delivers_after(
    rig: Rig, campaign: Campaign, scale: int
) -> None:
    """500/502/503/504 for an hour: attempts thin out, nothing is dropped, all arrive after."""
    injections = 4 * scale
    attempts_per_hour: list[int] = []
    delays: list[float] = []
    for i in range(injections):
        envelopes = rig.queue()
        rig.failing = Answer((500, 502, 503, 504)[i % 4])
        before = len(rig.cloud.posts())
        rig.drain_until(rig.clock.time() + HOUR_S, delays.append)
        attempts_per_hour.append(len(rig.cloud.posts()) - before)
        assert rig.pending() == {e.envelope_id for e in envelopes}, "the queue is intact"
        assert rig.ledger.entries() == [] or all(
            e.envelope_id not in rig.pending() for e in rig.ledger.entries()
        ), "nothing recorded for an envelope still queued"
        status = rig.sender.status()
        assert status.state is SenderState.WAITING
        assert status.reason == f"the cloud asked to wait (HTTP {rig.failing.status})"
        rig.recover()
        rig.settle(envelopes)
    print(f"attempts per failing hour: {attempts_per_hour}; longest wait {max(delays):.0f} s")
    campaign.check(
        "cloud: HTTP 500/502/503/504 for an hour", injections=injections, **rig.settled()
    )
    assert max(delays) <= BACKOFF_CAP_S
    # Without backoff the rate limit alone would allow 600 a minute; with it, a handful.
    assert all(4 <= n <= 40 for n in attempts_per_hour), attempts_per_hour


RETRY_AFTERS: tuple[tuple[Callable[[float], str], float], ...] = (
    (lambda now: "30", 30.0),
    (lambda now: formatdate(now + 90, usegmt=True), 90.0),
    (lambda now: "9999999", MAX_RETRY_AFTER_S),
)
"""Retry-After as seconds, as an HTTP date, and absurdly long (capped at a day)."""


def test_a_429_storm_with_retry_after_waits_exactly_as_asked(
    rig: Rig, campaign: Campaign, scale: int
) -> None:
    injections = 3 * scale
    storm = 5
    early = 0
    for i in range(injections):
        envelopes = rig.queue()
        header, expected = RETRY_AFTERS[i % len(RETRY_AFTERS)]
        for _ in range(storm):
            rig.failing = Answer(429, {"Retry-After": header(rig.clock.time())})
            posts = len(rig.cloud.posts())
            delay = rig.sender.drain_once()
            assert delay == pytest.approx(expected, abs=1.0)
            assert delay is not None
            rig.clock.advance(delay - 1.0)
            # A second early, nothing may go out.
            assert rig.sender.drain_once() == pytest.approx(1.0, abs=1.0)
            early += len(rig.cloud.posts()) - posts - 1
            rig.clock.advance(1.0)
        assert rig.pending() >= {e.envelope_id for e in envelopes}
        rig.recover()
        rig.settle(envelopes)
    settled = rig.settled()
    campaign.check(
        "cloud: 429 storm with Retry-After",
        injections=injections,
        recovered=settled["recovered"],
        data_lost=settled["data_lost"],
        # A request that went out before Retry-After had passed is a false action too.
        false_actions=settled["false_actions"] + early,
    )
    assert rig.sender.status().state is SenderState.IDLE


def test_a_429_storm_without_retry_after_backs_off_with_jitter(
    rig: Rig, campaign: Campaign, scale: int
) -> None:
    injections = 3 * scale
    storm = 12
    delays: list[float] = []
    for _ in range(injections):
        envelopes = rig.queue()
        rig.failing = Answer(429)
        for _ in range(storm):
            delay = rig.sender.drain_once()
            assert delay is not None
            delays.append(delay)
            rig.clock.advance(delay)
        assert rig.sender.status().reason == "the cloud asked to wait (HTTP 429)"
        assert rig.pending() == {e.envelope_id for e in envelopes}
        rig.recover()
        rig.settle(envelopes)
    campaign.check("cloud: 429 storm without Retry-After", injections=injections, **rig.settled())
    assert max(delays) <= BACKOFF_CAP_S
    # Full jitter: the waits differ (a fixed schedule would synchronise every client).
    assert len(set(delays)) == len(delays)
    # The backoff restarts after each delivery: the first wait of each storm is short.
    assert all(delays[k * storm] <= 5.0 for k in range(injections))


def test_connections_reset_mid_request_are_retried_and_delivered_once(
    rig: Rig, campaign: Campaign, scale: int
) -> None:
    injections = 10 * scale
    for _ in range(injections):
        envelopes = rig.queue(1)
        rig.failing = Answer(reset=True)
        delay = rig.sender.drain_once()
        assert delay is not None
        assert rig.sender.status().reason == "could not reach the cloud (connection)"
        assert rig.pending() == {envelopes[0].envelope_id}
        rig.clock.advance(delay)
        rig.recover()
        rig.settle(envelopes)
    campaign.check("cloud: connection reset mid-request", injections=injections, **rig.settled())


def test_a_server_that_accepts_and_never_answers_times_out_and_keeps_the_queue(
    make_rig: Callable[..., Rig], campaign: Campaign, scale: int
) -> None:
    rig = make_rig(timeout_s=0.3)
    live = rig.relay.upstream
    injections = 4 * scale
    for _ in range(injections):
        envelopes = rig.queue(2)
        rig.relay.switch(None)
        posts = len(rig.cloud.posts())
        delay = rig.sender.drain_once()
        assert delay is not None
        assert rig.sender.status().reason == "could not reach the cloud (timeout)"
        assert len(rig.cloud.posts()) == posts, "the silent server passed nothing on"
        assert rig.pending() >= {e.envelope_id for e in envelopes}
        rig.clock.advance(delay)
        rig.relay.switch(live)
        rig.recover()
        rig.settle(envelopes)
    campaign.check(
        "cloud: accepts the connection, never answers", injections=injections, **rig.settled()
    )


BAD_CERTIFICATES: tuple[tuple[Certificate, str], ...] = (
    (Certificate.UNTRUSTED, "unable to get local issuer certificate"),
    (Certificate.WRONG_NAME, "IP address mismatch, certificate is not valid for '127.0.0.1'"),
    (Certificate.EXPIRED, "certificate has expired"),
)


def test_a_bad_certificate_sends_nothing_in_clear_and_keeps_the_queue(
    make_rig: Callable[..., Rig], tmp_path: Path, campaign: Campaign, scale: int
) -> None:
    """Untrusted, wrong-name and expired certificates: a precise error, no downgrade.

    The wrong-name and expired ones come from a CA the agent trusts, so only the name
    or the dates can make it refuse them.
    """
    injections = 3 * scale
    impostors = [
        CloudServer(tmp_path / f"impostor{i}", certificate=BAD_CERTIFICATES[i % 3][0])
        for i in range(injections)
    ]
    rig = make_rig(trust=[impostor.ca_pem for impostor in impostors])
    live = rig.relay.upstream
    leaked = 0
    for i, impostor in enumerate(impostors):
        reason = BAD_CERTIFICATES[i % 3][1]
        envelopes = rig.queue(2)
        with impostor:
            rig.relay.switch(impostor.port)
            connections = len(rig.relay.first_bytes)
            with pytest.raises(TransportFailure) as caught:
                rig.transport.post(envelopes[0])
            assert caught.value.kind == "tls"
            assert str(caught.value) == (
                f"tls: certificate verify failed for 127.0.0.1:{rig.relay.port} ({reason})"
            )
            delay = rig.sender.drain_once()
            assert delay is not None
            assert rig.sender.status().reason == "could not reach the cloud (tls)"
            impostor.wait_until(lambda c: c.handshake_failures >= 2, "the refused handshakes")
            leaked += len(impostor.posts())
        # Every connection opened a TLS handshake; nothing went out as plain HTTP.
        assert rig.relay.first_bytes[connections:] == [TLS_RECORD, TLS_RECORD]
        assert rig.pending() >= {e.envelope_id for e in envelopes}
        rig.clock.advance(delay)
        rig.relay.switch(live)
        rig.recover()
        rig.settle(envelopes)
    wire = bytes(rig.relay.sent)
    in_clear = [s for s in (b"POST", TOKEN.encode(), *(i.encode() for i in rig.queued_ids))]
    leaked += sum(s in wire for s in in_clear)
    settled = rig.settled()
    campaign.check(
        "cloud: TLS certificate refused",
        injections=injections,
        recovered=settled["recovered"],
        data_lost=settled["data_lost"],
        # Data that reached a server whose certificate was refused, or went in clear.
        false_actions=settled["false_actions"] + leaked,
    )
