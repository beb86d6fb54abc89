"""The shutdown policy engine: device states and time in; warnings and the moment to act out.

Pure: every input carries the time (wall and monotonic), nothing sleeps and
nothing runs here. The guard feeds it the agent's device states and ticks,
publishes the events it returns and runs the action it decides on.

Stages::

    WATCHING --trigger--> COUNTDOWN --deadline--> ACTED (or FAILED)
       ^                  |   |  ^                   |
       |     mains back --+   |  +-- postpone        | power restored, or resume
       |                      v                      | from sleep
       +--- no trigger --- CANCELLED (by the user) <-+

A critical trigger (FSD, or a low battery on battery) acts at once, from
WATCHING, COUNTDOWN or CANCELLED alike.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Final

from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.protection.actions import ActionKind
from upsight.agent.protection.settings import ProtectionSettings, duration_text
from upsight.drivers.clock import Clock
from upsight.drivers.errors import UpsError
from upsight.drivers.model import Reading, Status, UpsFlag

# Wall and monotonic time disagreeing by more than this means the machine slept
# (monotonic time stops in suspend on Linux) or the wall clock was reset.
CLOCK_JUMP_S: Final = 5.0
# The guard ticks the engine every few seconds and polls feed it states, so a
# silence this long means the process was suspended, even where the monotonic
# clock counts the sleep (Windows, macOS) and the offset above stays put.
SUSPEND_GAP_S: Final = 120.0
# NUT drivers report this runtime when they cannot estimate one (protocols.md §9).
RUNTIME_UNKNOWN_S: Final = 65535.0


class ProtectionRefused(UpsError):
    """A postpone or cancel request that the policy or the current stage does not allow."""


@dataclass(frozen=True)
class Instant:
    """One moment, on both clocks."""

    wall: float
    mono: float

    @classmethod
    def of(cls, clock: Clock) -> Instant:
        return cls(clock.time(), clock.monotonic())


class Reason(enum.Enum):
    """Why protection triggered; the first two are critical and act at once."""

    FSD = "fsd"
    LOW_BATTERY = "low-battery"
    RUNTIME = "runtime"
    CHARGE = "charge"
    ON_BATTERY = "on-battery"

    @property
    def critical(self) -> bool:
        return self in {Reason.FSD, Reason.LOW_BATTERY}


class Basis(enum.Enum):
    """What the engine judges a device's battery by, from what the UPS reports."""

    RUNTIME = "runtime"
    CHARGE = "charge"
    LOW_BATTERY = "low-battery flag"


class Stage(enum.Enum):
    WATCHING = "watching"
    COUNTDOWN = "countdown"
    CANCELLED = "cancelled"
    ACTED = "acted"
    FAILED = "failed"


@dataclass(frozen=True)
class Trigger:
    """A device meeting a condition to act, and how to say so."""

    device: str
    reason: Reason
    text: str


@dataclass(frozen=True)
class DeviceView:
    """How the engine sees one device now, for status displays.

    Attributes:
        device: the agent's short name (``ups``).
        watched: whether it powers this computer (``protection.devices``).
        fresh: whether its data is current enough to judge.
        basis: what its battery is judged by, when fresh.
        note: one line: what the engine sees or why it cannot judge.
        trigger: the condition it meets, if any.
    """

    device: str
    watched: bool
    fresh: bool
    basis: Basis | None
    note: str
    trigger: Trigger | None = None


@dataclass(frozen=True)
class Decision:
    """Act now.

    Attributes:
        action: what to do (NONE in monitor-only mode: nothing runs).
        trigger: why.
        devices: the UPSes that power this computer, for FSD and UPS power-off.
        simulated: those of them that are simulated; nothing real may happen for them.
        at: wall time of the decision.
    """

    action: ActionKind
    trigger: Trigger
    devices: tuple[str, ...]
    simulated: tuple[str, ...]
    at: float


@dataclass(frozen=True)
class Step:
    """What one input produced: events to publish, maybe an action, and when to wake next."""

    events: tuple[Event, ...] = ()
    act: Decision | None = None
    next_deadline: float | None = None


@dataclass(frozen=True)
class ProtectionStatus:
    """A snapshot for ``upsight protect status`` and the desktop app."""

    stage: Stage
    action: ActionKind
    rules: tuple[str, ...]
    devices: tuple[DeviceView, ...]
    trigger: Trigger | None = None
    deadline: float | None = None
    seconds_left: float | None = None
    postpones_left: int = 0
    allow_postpone: bool = True
    held: bool = False
    acted_at: float | None = None
    outcome: str = ""


@dataclass
class _Device:
    state: DeviceState
    last_at: float | None = None
    received_mono: float = 0.0
    confirmed: bool = True
    ob_since_mono: float | None = None


@dataclass
class _Countdown:
    trigger: Trigger
    deadline_mono: float
    devices: set[str] = field(default_factory=set)
    postpones: int = 0
    held: bool = False


_LEAD: Final = {
    ActionKind.SHUTDOWN: "This computer shuts down",
    ActionKind.HIBERNATE: "This computer hibernates",
    ActionKind.COMMAND: "The protection command runs",
    ActionKind.NOTIFY: "Shut this computer down",
}
_CALLED_OFF: Final = {
    ActionKind.SHUTDOWN: "the shutdown is called off",
    ActionKind.HIBERNATE: "hibernation is called off",
    ActionKind.COMMAND: "the protection command is called off",
    ActionKind.NOTIFY: "no need to shut down",
    ActionKind.NONE: "the warning is over",
}


def _valid_runtime(reading: Reading) -> float | None:
    runtime = reading.number("battery.runtime")
    # 0 and the 65535 cap mean "no estimate", never "no time left" (protocols.md §9).
    if runtime is None or runtime <= 0 or runtime >= RUNTIME_UNKNOWN_S:
        return None
    return runtime


def _valid_charge(reading: Reading) -> float | None:
    charge = reading.number("battery.charge")
    if charge is None or not 0 <= charge <= 100:
        return None
    return charge


class Engine:
    """The protection state machine for one computer powered by one or more UPSes.

    Not thread-safe; the guard serialises calls.
    """

    def __init__(self, settings: ProtectionSettings, now: Instant) -> None:
        self._settings = settings
        self._devices: dict[str, _Device] = {}
        self._offset = now.wall - now.mono
        self._last_mono = now.mono
        self._stage = Stage.WATCHING
        self._countdown: _Countdown | None = None
        self._cancelled: Trigger | None = None
        self._acted: Decision | None = None
        self._resumed = False
        self._outcome = ""
        self._own_fsd: set[str] = set()

    @property
    def settings(self) -> ProtectionSettings:
        return self._settings

    @property
    def stage(self) -> Stage:
        return self._stage

    def update(self, settings: ProtectionSettings) -> None:
        """Use new settings from now on; a running countdown keeps its deadline."""
        self._settings = settings

    def latched_fsd(self, devices: Iterable[str]) -> None:
        """Note that this computer latched FSD on ``devices``: it is not a new trigger."""
        self._own_fsd.update(devices)

    def observe(self, state: DeviceState, now: Instant) -> Step:
        """Take a device's new state into account and judge."""
        self._check_clock(now)
        record = self._devices.get(state.device)
        if record is None:
            record = self._devices[state.device] = _Device(state)
        record.state = state
        reading = state.reading
        if state.link is Link.OK and reading is not None and reading.at != record.last_at:
            record.last_at = reading.at
            record.received_mono = now.mono
            record.confirmed = True
            if reading.status.on_battery:
                if record.ob_since_mono is None:
                    record.ob_since_mono = now.mono
            else:
                record.ob_since_mono = None
        return self._evaluate(now)

    def tick(self, now: Instant) -> Step:
        """Let time pass: deadlines, time on battery, data going stale."""
        self._check_clock(now)
        return self._evaluate(now)

    def postpone(self, now: Instant, seconds: float | None = None) -> Step:
        """Push the scheduled action back by ``seconds`` (default ``postpone_s``).

        Raises:
            ProtectionRefused: not allowed by settings, nothing scheduled, too late,
                too many postponements, or more than ``postpone_s`` asked for.
        """
        countdown = self._require_countdown("postpone")
        settings = self._settings
        if countdown.postpones >= settings.max_postpones:
            raise ProtectionRefused(
                f"already postponed {countdown.postpones} time(s); protection.max_postpones "
                f"allows {settings.max_postpones}"
            )
        added = settings.postpone_s if seconds is None else seconds
        if not 0 < added <= settings.postpone_s:
            raise ProtectionRefused(
                f"postpone by more than 0 s and at most {duration_text(settings.postpone_s)} "
                "(protection.postpone_s)"
            )
        countdown.deadline_mono += added
        countdown.postpones += 1
        left = settings.max_postpones - countdown.postpones
        message = (
            f"Postponed by {duration_text(added)}: {self._lead()} in "
            f"{duration_text(countdown.deadline_mono - now.mono)} ({left} postponement(s) left)"
        )
        event = self._event(now, EventKind.SHUTDOWN_POSTPONED, countdown.trigger, message)
        return self._with(now, [event])

    def cancel(self, now: Instant) -> Step:
        """Call off the scheduled action until the next trigger.

        Raises:
            ProtectionRefused: not allowed by settings, nothing scheduled, or too late.
        """
        countdown = self._require_countdown("cancel")
        self._countdown = None
        self._cancelled = countdown.trigger
        self._stage = Stage.CANCELLED
        message = (
            f"Cancelled by the user: {_CALLED_OFF[self._settings.action]}; protection acts "
            "again at the next trigger"
        )
        event = self._event(now, EventKind.SHUTDOWN_CANCELLED, countdown.trigger, message)
        return self._with(now, [event])

    def failed(self, detail: str) -> None:
        """Record that the action the engine decided on could not be carried out."""
        self._stage = Stage.FAILED
        self._outcome = detail

    def succeeded(self, detail: str) -> None:
        """Record how the action the engine decided on went."""
        self._outcome = detail

    def next_deadline(self, now: Instant) -> float | None:
        """The monotonic time at which a tick may change something, if any."""
        deadlines: list[float] = []
        countdown = self._countdown
        if self._stage is Stage.COUNTDOWN and countdown is not None and not countdown.held:
            deadlines.append(countdown.deadline_mono)
        limit = self._settings.on_battery_s
        if limit and self._stage in {Stage.WATCHING, Stage.COUNTDOWN}:
            for record in self._devices.values():
                since = record.ob_since_mono
                if since is not None and since + limit > now.mono:
                    deadlines.append(since + limit)
        return min(deadlines) if deadlines else None

    def status(self, now: Instant) -> ProtectionStatus:
        """Where protection stands and why, device by device."""
        settings = self._settings
        countdown = self._countdown
        deadline = seconds_left = None
        trigger = self._cancelled
        postpones_left = 0
        if countdown is not None:
            trigger = countdown.trigger
            seconds_left = max(countdown.deadline_mono - now.mono, 0.0)
            deadline = now.wall + seconds_left
            postpones_left = max(settings.max_postpones - countdown.postpones, 0)
        if self._acted is not None and self._stage in {Stage.ACTED, Stage.FAILED}:
            trigger = self._acted.trigger
        return ProtectionStatus(
            stage=self._stage,
            action=settings.action,
            rules=tuple(settings.rules()),
            devices=tuple(self._view(record, now) for record in self._devices.values()),
            trigger=trigger,
            deadline=deadline,
            seconds_left=seconds_left,
            postpones_left=postpones_left if settings.allow_postpone else 0,
            allow_postpone=settings.allow_postpone,
            held=countdown is not None and countdown.held,
            acted_at=self._acted.at if self._acted is not None else None,
            outcome=self._outcome,
        )

    def _check_clock(self, now: Instant) -> None:
        offset = now.wall - now.mono
        suspended = now.mono - self._last_mono > SUSPEND_GAP_S
        self._last_mono = now.mono
        if suspended or abs(offset - self._offset) > CLOCK_JUMP_S:
            # Data read before the jump may describe an outage long over (or not yet
            # noticed): judge nothing until each device has been read again.
            for record in self._devices.values():
                record.confirmed = False
            if self._countdown is not None:
                self._countdown.held = True
            if self._stage in {Stage.ACTED, Stage.FAILED}:
                self._resumed = True
        self._offset = offset

    def _watched(self, record: _Device) -> bool:
        chosen = self._settings.devices
        if chosen:
            return record.state.device in chosen
        info = record.state.info
        # A simulated UPS powers nothing: it counts only when named in protection.devices.
        return info is not None and not info.simulated

    def _fresh_reading(self, record: _Device, now: Instant) -> Reading | None:
        state = record.state
        reading = state.reading
        if state.link is not Link.OK or reading is None or not record.confirmed:
            return None
        window = self._settings.stale_after_s
        if now.mono - record.received_mono > window:
            return None
        if now.wall - reading.at > window + CLOCK_JUMP_S or reading.at - now.wall > CLOCK_JUMP_S:
            return None
        return reading

    def _status_of(self, record: _Device, reading: Reading) -> Status:
        status = reading.status
        if record.state.device in self._own_fsd and UpsFlag.FSD in status:
            return Status(status.flags & ~UpsFlag.FSD, status.unknown)
        return status

    def _basis(self, reading: Reading) -> Basis:
        settings = self._settings
        if settings.runtime_below_s and _valid_runtime(reading) is not None:
            return Basis.RUNTIME
        if settings.charge_below_pct and _valid_charge(reading) is not None:
            return Basis.CHARGE
        return Basis.LOW_BATTERY

    def _trigger(
        self, record: _Device, reading: Reading, status: Status, now: Instant
    ) -> Trigger | None:
        device = record.state.device
        settings = self._settings
        basis = self._basis(reading)
        if UpsFlag.FSD in status:
            return Trigger(device, Reason.FSD, "the UPS is in forced shutdown (FSD)")
        if not status.on_battery:
            return None
        if UpsFlag.LB in status and (settings.on_low_battery or basis is Basis.LOW_BATTERY):
            return Trigger(device, Reason.LOW_BATTERY, "the UPS reports a low battery")
        runtime = _valid_runtime(reading)
        if basis is Basis.RUNTIME and runtime is not None and runtime < settings.runtime_below_s:
            text = (
                f"about {duration_text(runtime)} of battery left, below "
                f"{duration_text(settings.runtime_below_s)}"
            )
            return Trigger(device, Reason.RUNTIME, text)
        charge = _valid_charge(reading)
        if basis is Basis.CHARGE and charge is not None and charge < settings.charge_below_pct:
            text = f"battery at {charge:.0f} %, below {settings.charge_below_pct:g} %"
            return Trigger(device, Reason.CHARGE, text)
        since = record.ob_since_mono
        limit = settings.on_battery_s
        if limit and since is not None and now.mono - since >= limit:
            text = f"on battery for {duration_text(settings.on_battery_s)}"
            return Trigger(device, Reason.ON_BATTERY, text)
        return None

    def _view(self, record: _Device, now: Instant) -> DeviceView:
        device = record.state.device
        watched = self._watched(record)
        reading = self._fresh_reading(record, now)
        if reading is None:
            if not record.confirmed:
                why = "waiting for a new reading after the clock jumped (sleep or resume)"
            elif record.state.link is Link.CONNECTING:
                why = "no reading yet"
            else:
                why = "its data is stale"
            return DeviceView(device, watched, False, None, f"not judged: {why}")
        status = self._status_of(record, reading)
        basis = self._basis(reading)
        trigger = self._trigger(record, reading, status, now) if watched else None
        return DeviceView(device, watched, True, basis, self._note(reading, basis), trigger)

    def _note(self, reading: Reading, basis: Basis) -> str:
        settings = self._settings
        if basis is Basis.RUNTIME:
            runtime = _valid_runtime(reading) or 0.0
            return (
                f"judged by runtime: about {duration_text(runtime)} left "
                f"(acts below {duration_text(settings.runtime_below_s)})"
            )
        if basis is Basis.CHARGE:
            charge = _valid_charge(reading) or 0.0
            return (
                f"judged by charge, as the UPS reports no runtime: {charge:.0f} % "
                f"(acts below {settings.charge_below_pct:g} %)"
            )
        note = (
            "only the UPS's low-battery flag can trigger: it reports neither runtime nor "
            "charge, so protection cannot act before the UPS says its battery is low"
        )
        if not settings.on_battery_s:
            note += " (set protection.on_battery_s to act after a time on battery)"
        return note

    def _restored(self, record: _Device, now: Instant) -> bool:
        reading = self._fresh_reading(record, now)
        if reading is None:
            return False
        status = self._status_of(record, reading)
        blocked = UpsFlag.LB | UpsFlag.FSD | UpsFlag.OFF | UpsFlag.OB
        return UpsFlag.OL in status and not status.flags & blocked

    def _evaluate(self, now: Instant) -> Step:
        views = [self._view(r, now) for r in self._devices.values()]
        triggers = [v.trigger for v in views if v.trigger is not None]
        critical = next((t for t in triggers if t.reason.critical), None)
        stage = self._stage
        if stage in {Stage.ACTED, Stage.FAILED}:
            return self._after_acting(now, views)
        if critical is not None:
            return self._act_now(now, critical, announce=True)
        if stage is Stage.CANCELLED:
            if not triggers:
                self._stage = Stage.WATCHING
                self._cancelled = None
            return self._with(now, [])
        if stage is Stage.WATCHING:
            if not triggers:
                return self._with(now, [])
            return self._start(now, triggers)
        return self._count_down(now, triggers, views)

    def _start(self, now: Instant, triggers: list[Trigger]) -> Step:
        trigger = triggers[0]
        settings = self._settings
        if settings.delay_s <= 0:
            return self._act_now(now, trigger, announce=True)
        self._stage = Stage.COUNTDOWN
        self._countdown = _Countdown(
            trigger, now.mono + settings.delay_s, {t.device for t in triggers}
        )
        if settings.action is ActionKind.NONE:
            message = f"Monitor only, no action is taken: {trigger.text} ({trigger.device})"
        else:
            message = (
                f"{self._lead()} in {duration_text(settings.delay_s)}: {trigger.text} "
                f"({trigger.device})"
            )
        return self._with(now, [self._event(now, EventKind.SHUTDOWN_SCHEDULED, trigger, message)])

    def _count_down(self, now: Instant, triggers: list[Trigger], views: list[DeviceView]) -> Step:
        countdown = self._countdown
        assert countdown is not None
        if countdown.held:
            if not self._any_fresh(countdown, views):
                return self._with(now, [])
            countdown.held = False
        countdown.devices.update(t.device for t in triggers)
        records = [self._devices[d] for d in countdown.devices if d in self._devices]
        if not triggers and all(self._restored(r, now) for r in records):
            self._stage = Stage.WATCHING
            self._countdown = None
            message = f"Power restored: {_CALLED_OFF[self._settings.action]}"
            event = self._event(now, EventKind.SHUTDOWN_CANCELLED, countdown.trigger, message)
            return self._with(now, [event])
        if now.mono >= countdown.deadline_mono:
            return self._act_now(now, countdown.trigger, announce=False)
        return self._with(now, [])

    def _after_acting(self, now: Instant, views: list[DeviceView]) -> Step:
        watched = [self._devices[v.device] for v in views if v.watched]
        fresh = any(v.fresh for v in views if v.watched)
        if (self._resumed and fresh) or (watched and all(self._restored(r, now) for r in watched)):
            # Back from hibernation, or the outage is over: protect again from scratch.
            self._stage = Stage.WATCHING
            self._acted = None
            self._resumed = False
            self._outcome = ""
            return self._evaluate(now)
        return self._with(now, [])

    def _act_now(self, now: Instant, trigger: Trigger, announce: bool) -> Step:
        settings = self._settings
        events: list[Event] = []
        if announce and self._stage is not Stage.COUNTDOWN:
            if settings.action is ActionKind.NONE:
                message = f"Monitor only, no action is taken: {trigger.text} ({trigger.device})"
            else:
                message = f"{self._lead()} now: {trigger.text} ({trigger.device})"
            events.append(self._event(now, EventKind.SHUTDOWN_SCHEDULED, trigger, message))
        watched = tuple(d for d, r in self._devices.items() if self._watched(r))
        infos = {d: self._devices[d].state.info for d in watched}
        simulated = tuple(d for d, info in infos.items() if info is not None and info.simulated)
        decision = Decision(settings.action, trigger, watched, simulated, now.wall)
        self._stage = Stage.ACTED
        self._acted = decision
        self._countdown = None
        self._cancelled = None
        self._resumed = False
        return replace(self._with(now, events), act=decision)

    def _any_fresh(self, countdown: _Countdown, views: list[DeviceView]) -> bool:
        return any(v.fresh for v in views if v.device in countdown.devices or v.trigger)

    def _require_countdown(self, verb: str) -> _Countdown:
        if not self._settings.allow_postpone:
            raise ProtectionRefused(
                f"cannot {verb}: not allowed by settings (protection.allow_postpone is off; "
                "if your organization manages this computer, ask its administrator)"
            )
        if self._stage in {Stage.ACTED, Stage.FAILED}:
            raise ProtectionRefused(f"too late to {verb}: protection has already acted")
        if self._countdown is None:
            raise ProtectionRefused(f"nothing to {verb}: no shutdown is scheduled")
        return self._countdown

    def _lead(self) -> str:
        return _LEAD.get(self._settings.action, "Protection acts")

    def _event(self, now: Instant, kind: EventKind, trigger: Trigger, message: str) -> Event:
        data: dict[str, float | str] = {
            "action": self._settings.action.value,
            "reason": trigger.reason.value,
        }
        countdown = self._countdown
        if countdown is not None:
            data["deadline"] = now.wall + max(countdown.deadline_mono - now.mono, 0.0)
            data["postpones_left"] = float(
                max(self._settings.max_postpones - countdown.postpones, 0)
            )
        return Event(now.wall, trigger.device, kind, message, data)

    def _with(self, now: Instant, events: list[Event]) -> Step:
        return Step(tuple(events), None, self.next_deadline(now))
