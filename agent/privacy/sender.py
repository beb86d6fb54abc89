"""The sender: drains the outbox to the cloud, asking the consent gate before every attempt.

One worker thread ("upsight-uploader") sends control envelopes first, then the rest
oldest first, 100 ms apart, at most 15 a minute by default. A refusal is recorded in the ledger
and deleted; a 429/500/502/503/504 or a network failure stops all sending until the
``Retry-After`` time or a full-jitter backoff has passed (privacy-design.md §7.3, §8).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import Ledger, LedgerResult
from upsight.agent.privacy.outbox import Outbox, Queued
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.retry import Backoff, Outcome, RateLimiter, classify, parse_retry_after
from upsight.agent.privacy.transport import NotSignedIn, Reply, TransportFailure
from upsight.drivers.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

THREAD_NAME: Final = "upsight-uploader"
NOT_SIGNED_IN: Final = "not signed in"
TOKEN_REFUSED: Final = "the cloud refused the device token; sign in again"
WITHDRAWN_WHILE_SENDING: Final = "withdrawn while sending"
GATE_FAILED: Final = "consent could not be checked"
# An unexpected error (a full disk, a broken ledger) must not spin the thread.
_FAILURE_PAUSE_S: Final = 60.0
# Long enough for a connect that abort() cannot reach yet to hit its own timeout.
_STOP_WAIT_S: Final = 15.0


class Verdict(enum.StrEnum):
    """What the consent gate says about a queued envelope right now."""

    SEND = "send"
    DROP = "drop"
    """Its consent is gone (withdrawn, blocked, another epoch): delete it unsent."""
    HOLD = "hold"
    """Not now, but keep it (e.g. the organisation blocks the cloud connection)."""


@dataclass(frozen=True)
class GateDecision:
    """The gate's answer, with the reason shown to the user and written to the ledger."""

    verdict: Verdict
    reason: str = ""


Gate = Callable[[Envelope], GateDecision]
"""Asked right before every attempt, and again after a 2xx to detect a withdrawal mid-flight."""


class Transport(Protocol):
    """What the sender needs of :class:`~upsight.agent.privacy.transport.HttpsTransport`."""

    def post(self, envelope: Envelope) -> Reply: ...

    def abort(self) -> None: ...


class SenderState(enum.StrEnum):
    """What the sender is doing, for the GUI's "What we send" page."""

    IDLE = "idle"
    """Nothing is waiting to be sent."""
    SENDING = "sending"
    WAITING = "waiting"
    """Backing off or rate-limited; ``next_attempt_at`` says until when."""
    PAUSED = "paused"
    """Held until something changes (sign-in, policy, consent); ``reason`` says what."""


@dataclass(frozen=True)
class SenderStatus:
    """The sender's state and counts since it started.

    Attributes:
        state: What it is doing.
        reason: Why it is waiting or paused, or what it is sending; empty when idle.
        next_attempt_at: When it will try again, seconds since the epoch; None unless waiting.
        sent: Envelopes delivered.
        rejected: Envelopes the cloud refused for good.
        dropped: Envelopes deleted unsent (consent gone, quota, expired, corrupt).
    """

    state: SenderState = SenderState.IDLE
    reason: str = ""
    next_attempt_at: float | None = None
    sent: int = 0
    rejected: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class _Halt:
    """Stop this drain; the next is due in ``delay_s`` seconds, or on wake() when None."""

    delay_s: float | None


class Sender:
    """Sends what the outbox holds, one request at a time, while consent lasts."""

    def __init__(
        self,
        outbox: Outbox,
        ledger: Ledger,
        transport: Transport,
        gate: Gate,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        spacing_s: float = 0.1,
        max_requests_per_minute: int = 15,
        on_change: Callable[[SenderStatus], None] | None = None,
    ) -> None:
        """Wire the sender; nothing is sent before :meth:`start` or :meth:`drain_once`.

        Args:
            outbox: Where envelopes wait.
            ledger: Where every result is recorded.
            transport: Posts one envelope.
            gate: The consent gate.
            clock: Wall time for Retry-After dates and status, monotonic time for waits.
            rng: Jitter source for the backoff; seed one in tests.
            spacing_s: Pause between two sends while draining a backlog.
            max_requests_per_minute: The client-side rate limit (privacy-design.md §8.2).
            on_change: Called with the new status whenever it changes, from the
                sender's thread or the caller's.
        """
        self._outbox = outbox
        self._ledger = ledger
        self._transport = transport
        self._gate = gate
        self._clock = clock
        self._spacing_s = spacing_s
        self._on_change = on_change
        self._backoff = Backoff(rng=rng)
        self._rate = RateLimiter(max_requests=max_requests_per_minute, clock=clock.monotonic)
        self._rate_reason = f"sending at most {max_requests_per_minute} envelopes a minute"
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = SenderStatus()
        self._retry_at: float | None = None
        self._paused: str | None = None
        self._current: Purpose | None = None
        self._cancelled = False

    # --- Control, from any thread ------------------------------------------------------

    def start(self) -> None:
        """Start the uploader thread, unless it is running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, cutting short a request in flight; the envelope stays queued."""
        self._stopping.set()
        self._wakeup.set()
        with self._lock:
            if self._current is not None:
                self._transport.abort()
        if self._thread is not None:
            self._thread.join(_STOP_WAIT_S)
            if self._thread.is_alive():
                log.warning("the uploader thread did not stop within %.0f s", _STOP_WAIT_S)
            self._thread = None

    def wake(self) -> None:
        """Something was queued, or consent, policy or the token changed: look again now.

        Lifts a pause (not signed in, token refused, held by the gate); a server-requested
        wait still runs its course.
        """
        with self._lock:
            self._paused = None
        self._wakeup.set()

    def cancel(self, purpose: Purpose) -> None:
        """The purpose was withdrawn: abort the request in flight if it carries that purpose.

        The aborted envelope is deleted and recorded as dropped ("withdrawn while
        sending"); if the cloud had already answered 2xx it is recorded as sent before
        withdrawal instead.
        """
        with self._lock:
            # Under the lock, so the abort cannot reach the next envelope's request.
            if self._current is purpose:
                self._cancelled = True
                self._transport.abort()

    def status(self) -> SenderStatus:
        """The current state and counts."""
        with self._lock:
            return self._status

    # --- The uploader thread -----------------------------------------------------------

    def run(self) -> None:
        """Drain, then sleep until woken or the next attempt is due; until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                delay_s = self.drain_once()
            except Exception:
                log.exception("uploading failed; trying again in %.0f s", _FAILURE_PAUSE_S)
                delay_s = _FAILURE_PAUSE_S
            self._wakeup.wait(delay_s)

    def drain_once(self) -> float | None:
        """Send everything that may go now, honouring the gate, backoff and rate limit.

        Returns:
            Seconds until the next attempt is due, or None when nothing is due until
            :meth:`wake` (the outbox is empty, or sending is paused).
        """
        self._wakeup.clear()
        with self._lock:
            paused = self._paused
        if paused is not None:
            self._show(SenderState.PAUSED, paused)
            return None
        wait_s = self._backoff_left()
        if wait_s > 0:
            return wait_s
        pending = self._outbox.pending()
        self._record_outbox_drops()
        held: str | None = None
        posted = False
        for queued in pending:
            if posted and self._spacing_s > 0 and self._stopping.wait(self._spacing_s):
                return None
            if self._stopping.is_set():
                return None
            decision = self._ask(queued.envelope)
            if decision.verdict is Verdict.DROP:
                self._drop(queued, decision.reason or "consent withdrawn")
                continue
            if decision.verdict is Verdict.HOLD:
                held = held or decision.reason
                continue
            wait_s = self._rate.delay()
            if wait_s > 0:
                return self._wait(wait_s, self._rate_reason).delay_s
            posted = True
            halt = self._attempt(queued)
            if halt is not None:
                return halt.delay_s
        if held is not None:
            self._show(SenderState.PAUSED, held)
        else:
            self._show(SenderState.IDLE)
        return None

    def _attempt(self, queued: Queued) -> _Halt | None:
        envelope = queued.envelope
        with self._lock:
            self._current = envelope.purpose
            self._cancelled = False
        self._show(SenderState.SENDING, str(envelope.purpose))
        self._rate.record()
        try:
            reply = self._transport.post(envelope)
        except NotSignedIn:
            self._finish()
            return self._pause(NOT_SIGNED_IN)
        except TransportFailure as failure:
            if self._finish():
                self._withdrawn(queued)
                return None
            if self._stopping.is_set():
                return _Halt(None)
            log.info("upload of %s failed: %s", envelope.envelope_id, failure)
            return self._wait(None, f"could not reach the cloud ({failure.kind})")
        cancelled = self._finish()
        outcome = classify(reply.status)
        if outcome is Outcome.SENT:
            # The bytes have left; if consent went meanwhile the ledger says so.
            after = self._ask(envelope)
            withdrawn = cancelled or after.verdict is Verdict.DROP
            result = LedgerResult.SENT_BEFORE_WITHDRAWAL if withdrawn else LedgerResult.SENT
            self._ledger.record(envelope, result, f"HTTP {reply.status}")
            self._outbox.remove(queued)
            self._backoff.reset()
            self._count(sent=1)
            return None
        if cancelled:
            self._withdrawn(queued)
            return None
        if outcome is Outcome.REJECTED:
            log.warning(
                "the cloud rejected %s envelope %s: HTTP %d",
                envelope.purpose,
                envelope.envelope_id,
                reply.status,
            )
            self._ledger.record(envelope, LedgerResult.REJECTED, f"HTTP {reply.status}")
            self._outbox.remove(queued)
            self._backoff.reset()
            self._count(rejected=1)
            return None
        if outcome is Outcome.AUTH:
            return self._pause(TOKEN_REFUSED)
        delay_s = parse_retry_after(reply.retry_after, self._clock.time())
        return self._wait(delay_s, f"the cloud asked to wait (HTTP {reply.status})")

    # --- Helpers -----------------------------------------------------------------------

    def _ask(self, envelope: Envelope) -> GateDecision:
        try:
            return self._gate(envelope)
        except Exception:
            # Fail closed: an envelope whose consent cannot be checked is not sent.
            log.exception("the consent gate failed for envelope %s", envelope.envelope_id)
            return GateDecision(Verdict.HOLD, GATE_FAILED)

    def _finish(self) -> bool:
        """The request is over; whether it was cancelled by a withdrawal."""
        with self._lock:
            cancelled = self._cancelled
            self._current = None
            self._cancelled = False
            return cancelled

    def _backoff_left(self) -> float:
        with self._lock:
            retry_at = self._retry_at
        if retry_at is None:
            return 0.0
        left = retry_at - self._clock.monotonic()
        if left > 0:
            return left
        with self._lock:
            self._retry_at = None
        return 0.0

    def _wait(self, delay_s: float | None, reason: str) -> _Halt:
        """Stop sending for ``delay_s`` seconds, or for the next backoff delay when None."""
        if delay_s is None:
            delay_s = self._backoff.next_delay()
        with self._lock:
            self._retry_at = self._clock.monotonic() + delay_s
        self._show(SenderState.WAITING, reason, self._clock.time() + delay_s)
        log.info("uploads wait %.1f s: %s", delay_s, reason)
        return _Halt(delay_s)

    def _pause(self, reason: str) -> _Halt:
        with self._lock:
            self._paused = reason
        self._show(SenderState.PAUSED, reason)
        log.warning("uploads paused: %s", reason)
        return _Halt(None)

    def _drop(self, queued: Queued, reason: str) -> None:
        self._ledger.record(queued.envelope, LedgerResult.DROPPED_CONSENT, reason)
        self._outbox.remove(queued)
        self._count(dropped=1)

    def _withdrawn(self, queued: Queued) -> None:
        self._drop(queued, WITHDRAWN_WHILE_SENDING)

    def _record_outbox_drops(self) -> None:
        dropped = self._outbox.take_dropped()
        for item in dropped:
            self._ledger.record_dropped(item)
        if dropped:
            self._count(dropped=len(dropped))

    def _count(self, *, sent: int = 0, rejected: int = 0, dropped: int = 0) -> None:
        self._update(
            lambda s: replace(
                s, sent=s.sent + sent, rejected=s.rejected + rejected, dropped=s.dropped + dropped
            )
        )

    def _show(
        self, state: SenderState, reason: str = "", next_attempt_at: float | None = None
    ) -> None:
        self._update(
            lambda s: replace(s, state=state, reason=reason, next_attempt_at=next_attempt_at)
        )

    def _update(self, change: Callable[[SenderStatus], SenderStatus]) -> None:
        with self._lock:
            new = change(self._status)
            changed = new != self._status
            self._status = new
        if changed and self._on_change is not None:
            try:
                self._on_change(new)
            except Exception:
                log.exception("a sender status listener failed")
