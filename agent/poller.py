"""One thread per device: connect, read at the configured interval, reconnect with backoff.

Every failure is contained here: the poller logs it precisely, records it in
the device state and tries again, so monitoring never stops for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from upsight.agent.bus import Message
from upsight.agent.events import Event
from upsight.agent.monitor import DeviceMonitor, DeviceState
from upsight.drivers import Driver, open_device
from upsight.drivers.base import ChangeNotifier
from upsight.drivers.clock import Clock
from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    DriverUnavailable,
    TransportTimeout,
    UpsError,
)

log = logging.getLogger(__name__)

Opener = Callable[[str, Clock], Driver]
T = TypeVar("T")

# Reconnect delays: quick first retries so an unplugged cable that comes back is
# picked up within a few seconds, capped so a missing device costs little.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 4.0
# Between polls a driver that reports changes (HID interrupts) is listened to in
# slices this long. A report ends a slice at once, so the slice only bounds how
# long stop() may wait; longer slices mean fewer idle wake-ups.
WAKE_SLICE_S = 0.5


class Poller:
    """Polls one device on its own thread and publishes states and events."""

    def __init__(
        self,
        monitor: DeviceMonitor,
        spec: str,
        publish: Callable[[Message], None],
        clock: Clock,
        opener: Opener = open_device,
    ) -> None:
        self.monitor = monitor
        self._spec = spec
        self._publish = publish
        self._clock = clock
        self._opener = opener
        self._lock = threading.Lock()
        # Drivers are used by one thread at a time: polls and commands take turns.
        self._driver_lock = threading.Lock()
        self._callers = 0
        self._callers_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._driver: Driver | None = None
        self._backoff_s = BACKOFF_FIRST_S
        self._last_error: str | None = None

    @property
    def name(self) -> str:
        return self.monitor.state.device

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"upsight-poll-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._close_driver()

    def tick(self) -> None:
        """Let time pass for the state machine (staleness, debounce); called by the watchdog."""
        with self._lock:
            self._emit(self.monitor.on_tick(), changed=False)

    def force_shutdown(self) -> None:
        """Latch FSD on the device (see DeviceMonitor.force_shutdown)."""
        with self._lock:
            self._emit(self.monitor.force_shutdown(), changed=True)

    def next_deadline(self) -> float | None:
        """When this device next needs a tick (see DeviceMonitor.next_deadline)."""
        with self._lock:
            return self.monitor.next_deadline()

    def state(self) -> DeviceState:
        """The current snapshot, with staleness applied as of now."""
        self.tick()
        with self._lock:
            return self.monitor.state

    def call(self, work: Callable[[Driver], T], timeout_s: float) -> T:
        """Run ``work`` on the connected driver between two polls and return its result.

        Raises:
            Disconnected: the device is not connected right now.
            TransportTimeout: the driver stayed busy for ``timeout_s``.
            UpsError: whatever ``work`` raised.
        """
        with self._callers_lock:
            self._callers += 1
        try:
            if not self._driver_lock.acquire(timeout=timeout_s):
                raise TransportTimeout(f"{self.name}: the device stayed busy for {timeout_s:g} s")
        finally:
            with self._callers_lock:
                self._callers -= 1
        try:
            driver = self._driver
            if driver is None:
                raise Disconnected(f"{self.name} is not connected")
            return work(driver)
        finally:
            self._driver_lock.release()

    def _let_callers_in(self) -> None:
        # Lock hand-over is not fair: without this pause the poll thread, which
        # re-takes the driver at once, could keep a waiting command out for long.
        while self._callers and not self._stop.is_set():
            self._stop.wait(0.005)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock.monotonic()
            ok = self._poll_once()
            interval = self.monitor.settings.interval_s
            if ok:
                self._backoff_s = BACKOFF_FIRST_S
                wait = interval - (self._clock.monotonic() - started)
            else:
                wait = self._backoff_s
                self._backoff_s = min(self._backoff_s * 2, BACKOFF_MAX_S)
            self._pause(max(wait, 0.0))

    def _pause(self, wait_s: float) -> None:
        """Wait until the next poll, ending early when the driver reports a change."""
        driver = self._driver
        if not isinstance(driver, ChangeNotifier):
            self._stop.wait(wait_s)
            return
        deadline = self._clock.monotonic() + wait_s
        while not self._stop.is_set():
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return
            self._let_callers_in()
            try:
                with self._driver_lock:
                    changed = driver.wait_for_change(min(remaining, WAKE_SLICE_S))
                if changed:
                    return
            except Exception:
                # The next read reports what is wrong; until then, wait as usual.
                log.exception("%s: waiting for the device failed", self.name)
                self._stop.wait(max(deadline - self._clock.monotonic(), 0.0))
                return

    def _poll_once(self) -> bool:
        self._let_callers_in()
        with self._driver_lock:
            return self._poll_locked()

    def _poll_locked(self) -> bool:
        try:
            if self._driver is None:
                self._connect()
            assert self._driver is not None
            reading = self._driver.read()
        except (DeviceSpecError, DriverUnavailable) as exc:
            # Retrying cannot fix a bad spec; keep saying so, at the slowest pace.
            self._backoff_s = BACKOFF_MAX_S
            self._fail(str(exc))
            return False
        except UpsError as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return False
        except Exception as exc:
            log.exception("%s: driver failed unexpectedly", self.name)
            self._fail(f"driver failure: {type(exc).__name__}: {exc}")
            return False
        with self._lock:
            self._emit(self.monitor.on_reading(reading), changed=True)
        if self._last_error is not None:
            log.info("%s: reading again after: %s", self.name, self._last_error)
            self._last_error = None
        return True

    def _connect(self) -> None:
        driver = self._opener(self._spec, self._clock)
        self._driver = driver
        info = driver.info()
        with self._lock:
            self.monitor.on_connected(info, driver.commands())
        log.info("%s: connected to %s (%s)", self.name, self._spec, info.label())

    def _fail(self, message: str) -> None:
        self._close_driver()
        if message != self._last_error:
            log.warning("%s: %s", self.name, message)
            self._last_error = message
        with self._lock:
            self._emit(self.monitor.on_error(message), changed=True)

    def _close_driver(self) -> None:
        driver, self._driver = self._driver, None
        if driver is None:
            return
        try:
            driver.close()
        except Exception:
            log.exception("%s: closing the driver failed", self.name)

    def _emit(self, events: Sequence[Event], changed: bool) -> None:
        # Called with the lock held so that states and events leave in order.
        if changed or events:
            self._publish(self.monitor.state)
        for event in events:
            self._publish(event)
