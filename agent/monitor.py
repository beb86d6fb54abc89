"""Per-device state machine: link health, staleness, debounce, and the events they imply.

Pure: every input carries the time, so tests drive it with a fake clock. The
poller feeds it readings and errors; a watchdog feeds it ticks so that a
driver that hangs still turns the device STALE.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from upsight.agent.events import Event, EventKind, diff, make_event
from upsight.drivers.clock import Clock
from upsight.drivers.model import Reading, Status, UpsFlag, UpsInfo


class Link(enum.Enum):
    """How current the device's data is."""

    CONNECTING = "connecting"  # no reading yet since start
    OK = "ok"  # a reading arrived within the stale window
    STALE = "stale"  # no fresh reading within the stale window


@dataclass(frozen=True)
class DeviceState:
    """A snapshot of one device for displays and the local API.

    ``reading`` is the current reading and is None whenever the link is not OK:
    old values are never presented as current. ``last_reading`` keeps the last
    good one for "last seen N s ago" displays.
    """

    device: str
    spec: str
    link: Link
    reading: Reading | None = None
    last_reading: Reading | None = None
    info: UpsInfo | None = None
    error: str | None = None
    commands: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MonitorSettings:
    """Timing knobs, all in seconds."""

    interval_s: float = 1.0
    stale_intervals: int = 3
    onbatt_debounce_s: float = 0.0
    nocomm_after_s: float = 300.0

    @property
    def stale_after_s(self) -> float:
        return self.interval_s * self.stale_intervals


class DeviceMonitor:
    """Turns readings, errors and ticks of one device into state and events.

    Not thread-safe on its own; the poller serialises calls with a lock.
    """

    def __init__(self, device: str, spec: str, settings: MonitorSettings, clock: Clock) -> None:
        self._device = device
        self._clock = clock
        self.settings = settings
        self._state = DeviceState(device, spec, Link.CONNECTING)
        self._last_good_mono: float | None = None
        self._started_mono = clock.monotonic()
        self._bad_since_mono: float | None = self._started_mono
        self._nocomm_sent = False
        self._commbad_sent = False
        # Status as far as events have announced it (lags the device during debounce).
        self._announced: Status | None = None
        self._ob_since_mono: float | None = None
        self._forced_shutdown = False

    @property
    def state(self) -> DeviceState:
        return self._state

    def on_connected(self, info: UpsInfo, commands: frozenset[str]) -> None:
        """Record the identity of a (re)connected device."""
        self._state = replace(self._state, info=info, commands=commands, error=None)

    @property
    def forced_shutdown(self) -> bool:
        return self._forced_shutdown

    def force_shutdown(self) -> list[Event]:
        """Latch FSD: this and every later reading carries it until the agent restarts.

        This is what upsd does when a primary asks, and what NUT secondaries watch
        for; the current reading, if any, is re-announced with the flag at once.
        """
        if self._forced_shutdown:
            return []
        self._forced_shutdown = True
        current = self._state.reading
        if current is None:
            return []
        reading = _with_fsd(current)
        self._state = replace(self._state, reading=reading, last_reading=reading)
        return self._debounced(reading, self._clock.monotonic())

    def on_reading(self, reading: Reading) -> list[Event]:
        """Accept a fresh reading; returns the events it implies."""
        if self._forced_shutdown:
            reading = _with_fsd(reading)
        now = self._clock.monotonic()
        events: list[Event] = []
        if self._commbad_sent:
            events.append(self._event(EventKind.COMMOK, reading))
        self._commbad_sent = False
        self._nocomm_sent = False
        self._bad_since_mono = None
        self._last_good_mono = now
        old = self._state
        # Built directly rather than with dataclasses.replace: this runs on every poll.
        self._state = DeviceState(
            old.device, old.spec, Link.OK, reading, reading, old.info, None, old.commands
        )
        events.extend(self._status_events(reading, now))
        return events

    def on_error(self, message: str) -> list[Event]:
        """Record a failed connect or read. The link turns STALE only by time (see on_tick)."""
        self._state = replace(self._state, error=message)
        if self._bad_since_mono is None:
            self._bad_since_mono = self._clock.monotonic()
        return self.on_tick()

    def next_deadline(self) -> float | None:
        """The monotonic time of the next change that ``on_tick`` may find, if any.

        That is when data turns stale, when a held-back ONBATT becomes due, or
        when a communication loss turns into NOCOMM.
        """
        deadlines: list[float] = []
        if self._state.link is Link.OK and self._last_good_mono is not None:
            deadlines.append(self._last_good_mono + self.settings.stale_after_s)
        if self._ob_since_mono is not None and not (
            self._announced is not None and self._announced.on_battery
        ):
            deadlines.append(self._ob_since_mono + self.settings.onbatt_debounce_s)
        if (
            self._state.link is not Link.OK
            and self._bad_since_mono is not None
            and not self._nocomm_sent
        ):
            deadlines.append(self._bad_since_mono + self.settings.nocomm_after_s)
        return min(deadlines) if deadlines else None

    def on_tick(self) -> list[Event]:
        """Advance time: detect staleness, expire the on-battery debounce, warn of NOCOMM."""
        now = self._clock.monotonic()
        events: list[Event] = []
        fresh = (
            self._last_good_mono is not None
            and now - self._last_good_mono <= self.settings.stale_after_s
        )
        if self._state.link is Link.OK and not fresh:
            self._state = replace(self._state, link=Link.STALE, reading=None)
            if self._bad_since_mono is None:
                self._bad_since_mono = self._last_good_mono
            self._commbad_sent = True
            events.append(self._event(EventKind.COMMBAD, self._state.last_reading))
        if fresh and self._state.reading is not None:
            events.extend(self._debounced(self._state.reading, now))
        bad_since = self._bad_since_mono
        if (
            self._state.link is not Link.OK
            and bad_since is not None
            and not self._nocomm_sent
            and now - bad_since >= self.settings.nocomm_after_s
        ):
            self._nocomm_sent = True
            events.append(self._event(EventKind.NOCOMM, None))
        return events

    def _status_events(self, reading: Reading, now: float) -> list[Event]:
        status = reading.status
        if status.on_battery:
            if self._ob_since_mono is None:
                self._ob_since_mono = now
        else:
            self._ob_since_mono = None
        return self._debounced(reading, now)

    def _debounced(self, reading: Reading, now: float) -> list[Event]:
        """Announce the reading's status, holding back ONBATT until the debounce expires.

        A low battery or FSD is never held back: they announce ONBATT with them.
        """
        status = reading.status
        announce = status
        holding = (
            status.on_battery
            and not (self._announced is not None and self._announced.on_battery)
            and self._ob_since_mono is not None
            and now - self._ob_since_mono < self.settings.onbatt_debounce_s
            and UpsFlag.LB not in status
            and UpsFlag.FSD not in status
        )
        if holding:
            # Report everything except the mains transition until the blip outlasts the debounce.
            before = self._announced if self._announced is not None else Status.of(UpsFlag.OL)
            mains = UpsFlag.OL | UpsFlag.OB | UpsFlag.DISCHRG | UpsFlag.CHRG
            kept = (status.flags & ~mains) | (before.flags & mains)
            announce = Status(kept, status.unknown)
        kinds = diff(self._announced, announce)
        self._announced = announce
        return [self._event(kind, reading) for kind in kinds]

    def _event(self, kind: EventKind, reading: Reading | None) -> Event:
        return make_event(self._clock.time(), self._device, kind, reading)


def _with_fsd(reading: Reading) -> Reading:
    status = reading.status
    return replace(reading, status=Status(status.flags | UpsFlag.FSD, status.unknown))
