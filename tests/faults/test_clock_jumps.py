"""Fault campaign: the clock jumps (sleep/resume, clock corrections) again and again.

A real device monitor and the real protection engine run on a fake clock,
second by second, through outages with jumps of the wall clock forward and
back. On Linux the monotonic clock stands still while the machine sleeps, so a
resume is a wall-clock jump alone. No jump may cause a shutdown, a countdown
must still end on time, and the stale detector must neither call a fresh
device stale nor keep a silent one fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.fakes import FakeClock
from tests.faults.campaign import Campaign
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceMonitor, Link, MonitorSettings
from upsight.agent.protection.engine import Decision, Engine, Instant, Reason, Stage, Step
from upsight.agent.protection.settings import ProtectionSettings
from upsight.drivers.model import Reading, Status, UpsInfo

DEVICE = "ups"
DELAY_S = 60
STALE_AFTER_S = 3.0
ON_MAINS = ("OL", {"battery.runtime": 1800.0, "battery.charge": 100.0})
# Below the default 300 s runtime threshold: a countdown of DELAY_S starts.
ON_BATTERY = ("OB DISCHRG", {"battery.runtime": 200.0, "battery.charge": 60.0})
# Jumps worth noticing (the engine treats more than 5 s as a jump), forward or back.
JUMPS_S = (3 * 3600.0, 9 * 3600.0, 40.0, 26 * 3600.0, 600.0)
ROUNDS = 5

Feed = tuple[str, dict[str, float]]


@dataclass
class Rig:
    """A monitor feeding the engine, as the poller and guard do, on one fake clock."""

    clock: FakeClock = field(default_factory=FakeClock)
    events: list[Event] = field(default_factory=list)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)

    def __post_init__(self) -> None:
        settings = MonitorSettings(interval_s=1.0, stale_intervals=3)
        self.monitor = DeviceMonitor(DEVICE, "test:", settings, self.clock)
        self.monitor.on_connected(UpsInfo(model="Test UPS"), frozenset())
        protection = ProtectionSettings(delay_s=DELAY_S, stale_after_s=STALE_AFTER_S)
        self.engine = Engine(protection, Instant.of(self.clock))

    def read(self, feed: Feed) -> None:
        status, values = feed
        reading = Reading(self.clock.time(), Status.parse(status), values)
        self._judge(self.monitor.on_reading(reading), observe=True)

    def tick(self) -> None:
        events = self.monitor.on_tick()
        self._judge(events, observe=bool(events))
        self._take(self.engine.tick(Instant.of(self.clock)))

    def run(self, seconds: int, feed: Feed | None) -> None:
        """Let ``seconds`` pass, one reading a second unless ``feed`` is None (silence)."""
        for _ in range(seconds):
            self.clock.advance(1.0)
            if feed is not None:
                self.read(feed)
            self.tick()

    def run_until_acted(self, feed: Feed, limit_s: int) -> float | None:
        """Feed until the engine acts; the monotonic time it did, or None."""
        before = len(self.decisions)
        for _ in range(limit_s):
            self.run(1, feed)
            if len(self.decisions) > before:
                return self.decisions[-1][0]
        return None

    def kinds(self, since: int = 0) -> list[EventKind]:
        return [e.kind for e in self.events[since:]]

    def _judge(self, events: list[Event], observe: bool) -> None:
        self.events.extend(events)
        if observe:
            self._take(self.engine.observe(self.monitor.state, Instant.of(self.clock)))

    def _take(self, step: Step) -> None:
        self.events.extend(step.events)
        if step.act is not None:
            self.decisions.append((self.clock.monotonic(), step.act))


@dataclass
class Outcome:
    """One injection: did the timers behave, and how many shutdowns were spurious."""

    behaved: bool
    false_actions: int = 0


def _countdown_fires_on_time(rig: Rig) -> bool:
    """A countdown started now ends exactly DELAY_S later, then mains comes back."""
    rig.run(1, ON_BATTERY)
    started = rig.clock.monotonic()
    acted = rig.run_until_acted(ON_BATTERY, DELAY_S + 10)
    rig.run(3, ON_MAINS)
    return acted == started + DELAY_S and rig.engine.stage is Stage.WATCHING


def forward_on_mains(rig: Rig, jump_s: float) -> Outcome:
    rig.run(5, ON_MAINS)
    acted = len(rig.decisions)
    mark = len(rig.events)
    rig.clock.jump_wall(jump_s)
    rig.run(10, ON_MAINS)
    quiet = rig.kinds(mark) == [] and rig.monitor.state.link is Link.OK
    false_actions = len(rig.decisions) - acted
    return Outcome(quiet and _countdown_fires_on_time(rig), false_actions)


def _jump_during_countdown(rig: Rig, jump_s: float, mains_back: bool) -> Outcome:
    rig.run(5, ON_MAINS)
    rig.run(1, ON_BATTERY)
    started = rig.clock.monotonic()
    rig.run(DELAY_S // 3, ON_BATTERY)
    rig.clock.jump_wall(jump_s)
    if mains_back:
        acted = len(rig.decisions)
        mark = len(rig.events)
        rig.run(DELAY_S * 2, ON_MAINS)
        called_off = EventKind.SHUTDOWN_CANCELLED in rig.kinds(mark)
        behaved = called_off and rig.engine.stage is Stage.WATCHING
        false_actions = len(rig.decisions) - acted
        return Outcome(behaved and _countdown_fires_on_time(rig), false_actions)
    fired = rig.run_until_acted(ON_BATTERY, DELAY_S * 2)
    rig.run(3, ON_MAINS)
    reason = rig.decisions[-1][1].trigger.reason if fired is not None else None
    # The countdown keeps its deadline: time on battery before the jump still counts.
    return Outcome(fired == started + DELAY_S and reason is Reason.RUNTIME)


def mains_back_at_resume(rig: Rig, jump_s: float) -> Outcome:
    return _jump_during_countdown(rig, jump_s, mains_back=True)


def still_on_battery_at_resume(rig: Rig, jump_s: float) -> Outcome:
    return _jump_during_countdown(rig, jump_s, mains_back=False)


def silent_across_jump(rig: Rig, jump_s: float) -> Outcome:
    """A device that stops answering at the jump turns stale on time, and fresh on its return."""
    rig.run(5, ON_MAINS)
    last_read = rig.clock.monotonic()
    mark = len(rig.events)
    rig.clock.jump_wall(jump_s)
    stale_at: float | None = None
    for _ in range(10):
        rig.run(1, None)
        if stale_at is None and rig.monitor.state.link is Link.STALE:
            stale_at = rig.clock.monotonic()
    rig.run(1, ON_MAINS)
    back = rig.monitor.state.link is Link.OK and rig.monitor.state.reading is not None
    on_time = stale_at == last_read + STALE_AFTER_S + 1
    events = rig.kinds(mark) == [EventKind.COMMBAD, EventKind.COMMOK]
    return Outcome(on_time and back and events)


Scenario = Callable[[Rig, float], Outcome]
SCENARIOS: list[tuple[str, Scenario]] = [
    ("on mains", forward_on_mains),
    ("on battery, mains back at resume", mains_back_at_resume),
    ("on battery, still on battery at resume", still_on_battery_at_resume),
    ("device silent from the jump on", silent_across_jump),
]


@pytest.mark.parametrize("direction", [1.0, -1.0], ids=["forward", "backward"])
@pytest.mark.parametrize(("what", "scenario"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_clock_jump_repeated(
    direction: float, what: str, scenario: Scenario, campaign: Campaign, scale: int
) -> None:
    rig = Rig()
    injections = ROUNDS * scale
    outcomes = [scenario(rig, direction * JUMPS_S[n % len(JUMPS_S)]) for n in range(injections)]
    recovered = sum(1 for o in outcomes if o.behaved)
    false_actions = sum(o.false_actions for o in outcomes)
    way = "forward (sleep/resume)" if direction > 0 else "backward (clock set back)"
    campaign.check(
        f"clock: jump {way} {what}",
        injections=injections,
        recovered=recovered,
        false_actions=false_actions,
    )

    # Only real outages were announced, and every one of them ended.
    kinds = rig.kinds()
    assert kinds.count(EventKind.ONBATT) == kinds.count(EventKind.ONLINE)
    assert EventKind.SHUTDOWN_FAILED not in kinds


def sleep_counted_on_battery(rig: Rig, sleep_s: float) -> Outcome:
    """Both clocks run on through the sleep, as on Windows and macOS; mains is back at resume."""
    rig.run(5, ON_MAINS)
    rig.run(DELAY_S // 3, ON_BATTERY)
    acted = len(rig.decisions)
    mark = len(rig.events)
    rig.clock.advance(sleep_s)
    # The timers wake before the poller has read the device again.
    rig.tick()
    rig.run(DELAY_S * 2, ON_MAINS)
    false_actions = len(rig.decisions) - acted
    called_off = EventKind.SHUTDOWN_CANCELLED in rig.kinds(mark)
    behaved = called_off and rig.engine.stage is Stage.WATCHING
    return Outcome(behaved and _countdown_fires_on_time(rig), false_actions)


def test_sleep_counted_by_the_monotonic_clock_repeated(campaign: Campaign, scale: int) -> None:
    rig = Rig()
    injections = ROUNDS * scale
    # Sleeps long enough to be told from a busy machine's late timer.
    sleeps_s = [max(jump, 600.0) for jump in JUMPS_S]
    outcomes = [
        sleep_counted_on_battery(rig, sleeps_s[n % len(sleeps_s)]) for n in range(injections)
    ]
    recovered = sum(1 for o in outcomes if o.behaved)
    false_actions = sum(o.false_actions for o in outcomes)
    campaign.check(
        "clock: sleep counted by the monotonic clock, on battery, mains back at resume",
        injections=injections,
        recovered=recovered,
        false_actions=false_actions,
    )

    status = rig.engine.status(Instant.of(rig.clock))
    assert status.stage is Stage.WATCHING
