"""The agent's uploader: turns what it sees into consented envelopes and runs the sender."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from upsight.agent.bus import Message
from upsight.agent.config import Config
from upsight.agent.durable import replace_file
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceState
from upsight.agent.privacy import snapshot as collect
from upsight.agent.privacy.builder import (
    ClientFacts,
    DeviceFacts,
    EnvelopeInvalid,
    EventFact,
    Snapshot,
)
from upsight.agent.privacy.center import PrivacyCenter, PurposeOff
from upsight.agent.privacy.consent import ConsentState, ConsentStoreError
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import SecureStorageUnavailable
from upsight.agent.privacy.sender import Sender, SenderStatus
from upsight.agent.privacy.transport import EndpointError, HttpsTransport
from upsight.drivers.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 900.0
"""Cloud alerts also report the current state this often, for the remote dashboard."""
ENERGY_BATCH_S: Final = 3600.0
"""Energy history goes out in hourly envelopes of four 15-minute buckets."""
DIAGNOSTICS_S: Final = 86400.0
"""Error counts go out once a day."""
ENERGY_BACKFILL_S: Final = 7 * 86400.0
"""After a long stop, energy history resumes at most this far back."""

ALERT_KINDS: Final = frozenset(
    {
        EventKind.ONBATT,
        EventKind.ONLINE,
        EventKind.LOWBATT,
        EventKind.FSD,
        EventKind.REPLBATT,
        EventKind.OVERLOAD,
        EventKind.NOCOMM,
        EventKind.COMMOK,
    }
)
"""Events that make cloud alerts send at once instead of at the next heartbeat."""

ERROR_KINDS: Final = frozenset({EventKind.COMMBAD, EventKind.NOCOMM})

ALERTS_KEPT_MAX: Final = 256
"""Alert events kept for the next pass while the outbox cannot be written (days of a
flickering line); beyond it the oldest are dropped, counted and logged."""

STATE_FILE: Final = "uploads.json"


@dataclass(frozen=True)
class Endpoint:
    """Where uploads go, and which setting chose it."""

    url: str
    source: str
    ca_bundle: Path | None


def endpoint_of(center: PrivacyCenter, config: Config) -> Endpoint | None:
    """The cloud endpoint: a locked policy wins, then the user's setting, then a policy default."""
    policy = center.policy()
    entry = policy.entry("Endpoint")
    ca_entry = policy.entry("CABundle")
    ca = Path(str(ca_entry.value)) if ca_entry else None
    if ca is None and config.cloud_ca_bundle:
        ca = Path(config.cloud_ca_bundle)
    if entry is not None and entry.locked:
        return Endpoint(str(entry.value), entry.source, ca)
    if config.cloud_endpoint:
        return Endpoint(config.cloud_endpoint, "config cloud.endpoint", ca)
    if entry is not None:
        return Endpoint(str(entry.value), entry.source, ca)
    return None


class Uploads:
    """Queues envelopes for the purposes that are on, and drains the outbox to the cloud.

    Runs one scheduler thread that sleeps until the next envelope is due or an alert
    event arrives, and the sender's own thread. Collection for a purpose happens only
    while that purpose is on (privacy-design.md §7.1).
    """

    def __init__(
        self,
        center: PrivacyCenter,
        config: Config,
        states: Callable[[], Sequence[DeviceState]],
        history: HistoryStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.center = center
        self._config = config
        self._states = states
        self._history = history
        self._clock = clock
        self._state_file = center.directory / STATE_FILE
        self._marks = _load_marks(self._state_file)
        self._alerts: list[EventFact] = []
        # Alert events a failed pass could not queue, and the epoch of the grant they were
        # taken under: they go out at a later pass only under that same grant.
        self._held: list[EventFact] = []
        self._held_epoch: int | None = None
        self._alerts_dropped = 0
        self._errors: dict[str, int] = {}
        self._errors_epoch: int | None = None
        self._lock = threading.Lock()
        self._pass = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sender: Sender | None = None
        self.endpoint: Endpoint | None = None
        self.problem: str | None = None
        # Why the passes have been failing since the last one that worked, and the kind
        # of failure: one log line per episode of a kind, not one per pass.
        self._trouble: str | None = None
        self._trouble_kind: str | None = None

    # --- Lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler and, when an endpoint is set, the sender."""
        self.center.add_listener(self._switched_off)
        self._start_sender()
        self._thread = threading.Thread(target=self._run, name="upsight-privacy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads; what is queued stays queued for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self.sender is not None:
            self.sender.stop()

    def status(self) -> dict[str, Any]:
        """Where uploads stand, for ``upsight privacy show`` and the GUI."""
        sender: SenderStatus | None = self.sender.status() if self.sender else None
        return {
            "endpoint": self.endpoint.url if self.endpoint else None,
            "endpoint_source": self.endpoint.source if self.endpoint else None,
            "problem": self.problem or self._trouble,
            "sender": vars(sender) if sender else None,
            "queued": {str(p): n for p, (n, _) in self.center.outbox.counts().items()},
        }

    def changed(self) -> None:
        """Consent or policy changed elsewhere (the CLI): purge what is now off, then resend."""
        self.center.policy_sync()
        self._wake.set()
        if self.sender is not None:
            self.sender.wake()

    def on_message(self, message: Message) -> None:
        """Bus subscriber: alert events trigger an envelope now; errors are counted."""
        if not isinstance(message, Event):
            return
        with self._lock:
            if message.kind in ALERT_KINDS:
                self._alerts.append(EventFact(kind=message.kind.value, at=message.at))
                self._wake.set()
            if message.kind not in ERROR_KINDS:
                return
            grant = self.center.gate.grant_for(Purpose.DIAGNOSTICS)
            if grant is not None:
                if grant.epoch != self._errors_epoch:
                    # Counts made under an earlier grant never go out under this one.
                    self._errors, self._errors_epoch = {}, grant.epoch
                code = message.kind.value.lower()
                self._errors[code] = self._errors.get(code, 0) + 1

    # --- Scheduling ------------------------------------------------------------------

    def _start_sender(self) -> None:
        self.endpoint = endpoint_of(self.center, self._config)
        if self.endpoint is None:
            self.problem = "no cloud endpoint is set; envelopes stay queued"
            return
        try:
            transport = HttpsTransport(
                self.endpoint.url, token=self._token, ca_bundle=self.endpoint.ca_bundle
            )
        except EndpointError as exc:
            self.problem = f"{self.endpoint.source}: {exc}"
            return
        self.sender = Sender(
            self.center.outbox,
            self.center.ledger,
            transport,
            self.center.gate.decide,
            clock=self._clock,
            max_requests_per_minute=int(self._config.cloud_max_requests_per_minute),
        )
        self.sender.start()

    def _token(self) -> str | None:
        try:
            token = self.center.secrets.token()
        except SecureStorageUnavailable:
            token = None
        if token:
            return token
        enrolment = self.center.policy().entry("EnrollmentToken")
        return str(enrolment.value) if enrolment else None

    def _switched_off(self, purposes: Collection[Purpose]) -> None:
        if self.sender is not None:
            for purpose in purposes:
                self.sender.cancel(purpose)

    def _allowed(self, purpose: Purpose) -> bool:
        return self.center.gate.grant_for(purpose) is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_due()
            except Exception:
                # Whatever goes wrong here, monitoring and local alerts must carry on.
                log.exception("building uploads failed; retrying at the next schedule")
            self._wake.wait(self._sleep_s())

    def _sleep_s(self) -> float:
        now = self._clock.time()
        # A heartbeat never sent is due at once, but only matters while alerts are allowed;
        # counting it otherwise would wake the loop every second. A grant wakes it anyway.
        try:
            alerts_on = self._allowed(Purpose.CLOUD_ALERTS)
        except ConsentStoreError:
            alerts_on = False
        heartbeat = self._marks.get("heartbeat", 0.0) if alerts_on else now
        due: float = min(
            float(heartbeat) + HEARTBEAT_S,
            float(self._marks.get("energy_until", now)) + ENERGY_BATCH_S + collect.BUCKET_S,
            float(self._marks.get("diagnostics", now)) + DIAGNOSTICS_S,
        )
        return min(max(due - now, 1.0), HEARTBEAT_S)

    def run_due(self) -> None:
        """Queue every envelope that is due now (called by the scheduler thread and tests).

        A disk that refuses the outbox's files or a consent store that cannot be read
        fails the pass without raising: the first failure of a kind is logged in one line
        (and shown as the status's problem), repeats are not, and the first pass that
        works again logs that uploads resumed. Nothing due is marked done until queued,
        and the alert events and error counts a failed pass took are kept for the next
        (alert events up to :data:`ALERTS_KEPT_MAX`, and only while consent stays granted).
        """
        # One pass at a time: two would both find the same envelope due and queue it twice.
        with self._pass:
            try:
                self._run_pass()
            except ConsentStoreError as exc:
                self._failed("consent", f"Uploads paused: {exc}")
            except OSError as exc:
                self._failed(f"errno {exc.errno}", _write_failure(exc, self.center.outbox.root))
            else:
                self._resumed()

    def _failed(self, kind: str, problem: str) -> None:
        if kind == self._trouble_kind:
            log.debug("Upload pass failed again: %s", problem)
            return
        self._trouble, self._trouble_kind = problem, kind
        log.error("%s", problem)

    def _resumed(self) -> None:
        if self._trouble is not None:
            log.warning("Uploads resumed after: %s", self._trouble)
            self._trouble = self._trouble_kind = None

    def _run_pass(self) -> None:
        now = self._clock.time()
        marks = dict(self._marks)
        state = next(iter(self._states()), None)
        device = collect.device_facts(state, self._config.device_label or None) if state else None
        install_id = self.center.store.install_id
        client = collect.client_facts(install_id, with_hostname=self._hostname_on())
        self._cloud_alerts(client, device, now)
        self._registration(client, device)
        if state is not None:
            self._energy(client, state.device, now)
        self._diagnostics(client, now)
        if self._marks != marks:
            _save_marks(self._state_file, self._marks)
        if self.sender is not None:
            self.sender.wake()

    def preview(self, purpose: Purpose) -> tuple[Envelope, bool]:
        """The next envelope of ``purpose`` from what the agent sees now (the same builder)."""
        now = self._clock.time()
        state = next(iter(self._states()), None)
        device = collect.device_facts(state, self._config.device_label or None) if state else None
        client = collect.client_facts(
            self.center.store.install_id, with_hostname=self._hostname_on()
        )
        aggregates = None
        if purpose is Purpose.ENERGY_HISTORY and state is not None:
            end = collect.bucket_floor(now)
            aggregates = collect.series(self._history, state.device, end - ENERGY_BATCH_S, end)
        errors = self._take_errors(keep=True)
        snap = collect.snapshot(
            client,
            None if purpose is Purpose.ENERGY_HISTORY else device,
            aggregates=aggregates,
            error_codes=errors,
        )
        return self.center.preview(purpose, snap)

    def _hostname_on(self) -> bool:
        grant = self.center.gate.grant_for(Purpose.CLOUD_ALERTS)
        return grant is not None and "use_hostname_as_label" in grant.subtoggles

    def _cloud_alerts(self, client: ClientFacts, device: DeviceFacts | None, now: float) -> None:
        grant = self.center.gate.grant_for(Purpose.CLOUD_ALERTS)
        with self._lock:
            fresh, self._alerts = self._alerts, []
            held, self._held = self._held, []
        if held and (grant is None or grant.epoch != self._held_epoch):
            # Consent was withdrawn since they were taken: they were collected for a grant
            # that has ended, and never go out.
            log.info(
                "%d cloud alert events kept for a later pass dropped: consent ended", len(held)
            )
            held = []
        alerts = held + fresh
        if not alerts and now - self._marks.get("heartbeat", 0.0) < HEARTBEAT_S:
            return
        try:
            queued = self._queue(
                Purpose.CLOUD_ALERTS, collect.snapshot(client, device, events=alerts)
            )
        except (OSError, ConsentStoreError):
            if grant is not None:
                self._hold(alerts, grant.epoch)
            raise
        if queued:
            self._marks["heartbeat"] = now
            if self._alerts_dropped:
                log.warning(
                    "%d cloud alert events were dropped while uploads could not be queued",
                    self._alerts_dropped,
                )
                self._alerts_dropped = 0

    def _hold(self, alerts: list[EventFact], epoch: int) -> None:
        """Keep the newest ``alerts`` a failed pass took, for the next pass."""
        excess = len(alerts) - ALERTS_KEPT_MAX
        if excess > 0:
            if not self._alerts_dropped:
                log.warning(
                    "More than %d cloud alert events wait for the outbox; dropping the oldest",
                    ALERTS_KEPT_MAX,
                )
            self._alerts_dropped += excess
            alerts = alerts[excess:]
        with self._lock:
            self._held, self._held_epoch = alerts, epoch

    def _registration(self, client: ClientFacts, device: DeviceFacts | None) -> None:
        grant = self.center.gate.grant_for(Purpose.DEVICE_REGISTRATION)
        if device is None or grant is None:
            return
        # A new grant (a withdrawal asked the cloud to delete the last registration) or a
        # switched sub-toggle (the serial in clear) changes what the cloud should hold.
        identity = json.dumps(
            [
                *(device.values.get(v) for v in ("device.model", "device.serial", "ups.firmware")),
                grant.epoch,
                sorted(grant.subtoggles),
            ]
        )
        if self._marks.get("registered") == identity:
            return
        if self._queue(Purpose.DEVICE_REGISTRATION, collect.snapshot(client, device)):
            self._marks["registered"] = identity

    def _energy(self, client: ClientFacts, device: str, now: float) -> None:
        end = collect.bucket_floor(now)
        start = self._marks.get("energy_until", end - ENERGY_BATCH_S)
        start = max(start, end - ENERGY_BACKFILL_S)
        if not self._allowed(Purpose.ENERGY_HISTORY):
            # History from before a grant never goes out: it was recorded for local use.
            self._marks["energy_until"] = end
            return
        granted_at = self._granted_at(Purpose.ENERGY_HISTORY)
        if granted_at is not None:
            # Nor does the bucket the grant fell in, which holds readings from before it.
            start = max(start, collect.bucket_ceil(granted_at))
        while end - start >= ENERGY_BATCH_S:
            stop = start + ENERGY_BATCH_S
            aggregates = collect.series(self._history, device, start, stop)
            self._queue(
                Purpose.ENERGY_HISTORY, collect.snapshot(client, None, aggregates=aggregates)
            )
            start = stop
        self._marks["energy_until"] = start

    def _granted_at(self, purpose: Purpose) -> float | None:
        """When the recorded grant was made; None for an admin policy's, which has no time."""
        record = self.center.store.consent(purpose).record
        if record.stored is not ConsentState.GRANTED or record.decided_at is None:
            return None
        # decided_at is cut to whole seconds; the grant itself came up to a second later.
        return datetime.fromisoformat(record.decided_at).timestamp() + 1.0

    def _take_errors(self, *, keep: bool) -> dict[str, int]:
        """The error counts made under the diagnostics grant in force; empty without one."""
        grant = self.center.gate.grant_for(Purpose.DIAGNOSTICS)
        with self._lock:
            current = grant is not None and grant.epoch == self._errors_epoch
            errors = dict(self._errors) if current else {}
            if not keep:
                self._errors = {}
            return errors

    def _diagnostics(self, client: ClientFacts, now: float) -> None:
        if now - self._marks.get("diagnostics", now - DIAGNOSTICS_S) < DIAGNOSTICS_S:
            return
        epoch = self._errors_epoch
        errors = self._take_errors(keep=False)
        if errors:
            try:
                self._queue(Purpose.DIAGNOSTICS, collect.snapshot(client, None, error_codes=errors))
            except (OSError, ConsentStoreError):
                self._give_back(errors, epoch)
                raise
        self._marks["diagnostics"] = now

    def _give_back(self, errors: dict[str, int], epoch: int | None) -> None:
        """Return counts a failed pass took, unless a new grant has started meanwhile."""
        with self._lock:
            if epoch != self._errors_epoch:
                return
            for code, count in errors.items():
                self._errors[code] = self._errors.get(code, 0) + count

    def _queue(self, purpose: Purpose, snap: Snapshot) -> bool:
        try:
            return self.center.enqueue(purpose, snap) is not None
        except PurposeOff:
            return False
        except (EnvelopeInvalid, SecureStorageUnavailable) as exc:
            self.problem = str(exc)
            log.error("%s envelope not queued: %s", purpose, exc)
            return False


def _write_failure(exc: OSError, outbox: Path) -> str:
    """One line for a failed outbox write: the directory written and the OS's reason."""
    # The file itself is a hidden temporary name; its directory says which queue it was.
    where = Path(exc.filename).parent if exc.filename else outbox
    reason = exc.strerror or str(exc)
    return f"Cannot queue uploads in {where} ({reason}); retrying at each pass"


def _load_marks(path: Path) -> dict[str, Any]:
    try:
        marks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marks if isinstance(marks, dict) else {}


def _save_marks(path: Path, marks: dict[str, Any]) -> None:
    replace_file(path, json.dumps(marks).encode("utf-8"))
