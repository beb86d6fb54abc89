"""The policy engine against scripted outages, second by second on a fake clock: exact times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes import FakeClock
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.protection.actions import ActionKind
from upsight.agent.protection.engine import (
    Basis,
    Engine,
    Instant,
    ProtectionRefused,
    Reason,
    Stage,
)
from upsight.agent.protection.settings import ProtectionSettings
from upsight.drivers.model import Reading, Status, UpsInfo

K = EventKind
SCHEDULED = K.SHUTDOWN_SCHEDULED
CANCELLED = K.SHUTDOWN_CANCELLED
POSTPONED = K.SHUTDOWN_POSTPONED

# What a script says about one device at one second.
Feed = tuple[str, dict[str, float]] | str
HOLD = "hold"  # no new reading: the last state is published again (link still OK)
STALE = "stale"  # the monitor gave up on the device; its last reading was on battery, low
CONNECTING = "connecting"

ONLINE: Feed = ("OL", {"battery.runtime": 1800.0, "battery.charge": 100.0})


def on_battery(**values: float) -> Feed:
    return ("OB DISCHRG", values)


@dataclass
class Case:
    """A scripted outage and what protection must do, in seconds from the start."""

    script: Callable[[int], Feed]
    events: list[tuple[int, EventKind]]
    act_at: int | None
    settings: dict[str, Any] = field(default_factory=dict)
    user: dict[int, str] = field(default_factory=dict)
    sleep_at: int | None = None
    act: ActionKind = ActionKind.SHUTDOWN


@dataclass
class Played:
    events: list[tuple[int, EventKind, str]]
    acts: list[tuple[int, ActionKind, Reason]]
    engine: Engine
    clock: FakeClock


def _state(clock: FakeClock, feed: Feed, last: DeviceState | None, device: str) -> DeviceState:
    info = UpsInfo(model="Test UPS")
    if feed == HOLD:
        assert last is not None
        return last
    if feed == STALE:
        kept = Reading(clock.time() - 5, Status.parse("OB LB"), {"battery.runtime": 60.0})
        return DeviceState(device, "test:", Link.STALE, None, kept, info, "no answer")
    if feed == CONNECTING:
        return DeviceState(device, "test:", Link.CONNECTING, None, None, info)
    assert not isinstance(feed, str)
    status, values = feed
    reading = Reading(clock.time(), Status.parse(status), values)
    return DeviceState(device, "test:", Link.OK, reading, reading, info)


def play(case: Case, seconds: int = 600) -> Played:
    clock = FakeClock()
    engine = Engine(ProtectionSettings(**case.settings), Instant.of(clock))
    played = Played([], [], engine, clock)
    last: DeviceState | None = None
    for second in range(seconds):
        if case.sleep_at == second:
            # Suspend: the wall clock runs on for an hour, the monotonic clock stands still.
            clock.jump_wall(3600)
        last = _state(clock, case.script(second), last, "ups")
        steps = [engine.observe(last, Instant.of(clock))]
        verb = case.user.get(second)
        if verb == "postpone":
            steps.append(engine.postpone(Instant.of(clock)))
        elif verb == "cancel":
            steps.append(engine.cancel(Instant.of(clock)))
        for step in steps:
            played.events += [(second, e.kind, e.message) for e in step.events]
            if step.act is not None:
                played.acts.append((second, step.act.action, step.act.trigger.reason))
        clock.advance(1.0)
    return played


def outage(
    start: int, end: int | None = None, /, **values: Callable[[int], float] | float
) -> Callable[[int], Feed]:
    """On line, then on battery from ``start`` (to ``end``), values given per second."""

    def script(second: int) -> Feed:
        if second < start or (end is not None and second >= end):
            return ONLINE
        now = {k: v(second) if callable(v) else v for k, v in values.items()}
        return on_battery(**now)

    return script


CASES: dict[str, Case] = {
    "a blip shorter than the delay only warns": Case(
        outage(10, 15, **{"battery.runtime": 200.0}), [(10, SCHEDULED), (15, CANCELLED)], None
    ),
    "a long outage acts when the runtime falls below the limit, after the delay": Case(
        outage(10, **{"battery.runtime": lambda t: 1000.0 - 5 * (t - 10)}),
        [(151, SCHEDULED)],
        211,
    ),
    "no runtime reported: the charge decides": Case(
        outage(10, **{"battery.charge": lambda t: 60.0 - 0.2 * (t - 10)}),
        [(211, SCHEDULED)],
        271,
    ),
    "an impossible runtime (65535) is no runtime: the charge decides": Case(
        outage(10, **{"battery.runtime": 65535.0, "battery.charge": 19.0}),
        [(10, SCHEDULED)],
        70,
    ),
    "neither runtime nor charge: the low-battery flag acts at once": Case(
        lambda t: ONLINE if t < 10 else ("OB DISCHRG LB", {}) if t >= 100 else on_battery(),
        [(100, SCHEDULED)],
        100,
    ),
    "FSD acts at once, even on line": Case(
        lambda t: ("FSD OL", {"battery.runtime": 1800.0}) if t >= 30 else ONLINE,
        [(30, SCHEDULED)],
        30,
    ),
    "a low battery during the countdown acts at once": Case(
        lambda t: (
            ONLINE
            if t < 10
            else ("OB LB", {"battery.runtime": 100.0})
            if t >= 30
            else on_battery(**{"battery.runtime": 200.0})
        ),
        [(10, SCHEDULED)],
        30,
    ),
    "mains back during the countdown cancels it": Case(
        outage(10, 50, **{"battery.runtime": 250.0}), [(10, SCHEDULED), (50, CANCELLED)], None
    ),
    "mains back with the battery still low does not cancel": Case(
        lambda t: (
            ONLINE
            if t < 10
            else on_battery(**{"battery.runtime": 250.0})
            if t < 50
            else ("OL CHRG LB", {"battery.runtime": 250.0})
        ),
        [(10, SCHEDULED)],
        70,
    ),
    "a postponement adds postpone_s once": Case(
        outage(10, **{"battery.runtime": 250.0}),
        [(10, SCHEDULED), (30, POSTPONED)],
        370,
        user={30: "postpone"},
    ),
    "a user's cancel holds until the next trigger edge": Case(
        lambda t: on_battery(**{"battery.runtime": 250.0}) if 10 <= t < 100 or t >= 150 else ONLINE,
        [(10, SCHEDULED), (20, CANCELLED), (150, SCHEDULED)],
        210,
        user={20: "cancel"},
    ),
    "time on battery acts even with plenty of runtime": Case(
        outage(10, **{"battery.runtime": 3000.0}),
        [(130, SCHEDULED)],
        190,
        settings={"on_battery_s": 120.0},
    ),
    "monitor only warns and decides nothing runs": Case(
        outage(10, **{"battery.runtime": 250.0}),
        [(10, SCHEDULED)],
        70,
        settings={"action": ActionKind.NONE},
        act=ActionKind.NONE,
    ),
    "a stale device never triggers, whatever it last said": Case(
        lambda t: ONLINE if t < 10 else STALE, [], None
    ),
    "a reading older than the stale window is not judged": Case(
        lambda t: ONLINE if t < 10 else HOLD if t > 10 else on_battery(**{"battery.charge": 90.0}),
        [],
        None,
        settings={"on_battery_s": 30.0},
    ),
    "a connecting device never triggers": Case(lambda t: CONNECTING, [], None),
    "neither runtime nor charge and no LB: never acts": Case(outage(10), [], None),
    "low-battery flag off: LB is ignored while the runtime is judged": Case(
        lambda t: ONLINE if t < 10 else ("OB LB", {"battery.runtime": 900.0}),
        [],
        None,
        settings={"on_low_battery": False},
    ),
    "low-battery flag off: LB still counts when it is the only signal": Case(
        lambda t: ONLINE if t < 10 else ("OB LB", {}),
        [(10, SCHEDULED)],
        10,
        settings={"on_low_battery": False},
    ),
    "a zero delay acts at the trigger": Case(
        outage(10, **{"battery.runtime": 250.0}), [(10, SCHEDULED)], 10, settings={"delay_s": 0}
    ),
    "stale data after resume: the countdown waits, then mains back cancels": Case(
        lambda t: (
            ONLINE
            if t < 10 or t >= 100
            else on_battery(**{"battery.runtime": 250.0})
            if t < 20
            else HOLD
        ),
        [(10, SCHEDULED), (100, CANCELLED)],
        None,
        sleep_at=20,
    ),
    "stale data after resume: a fresh low reading acts at once, past the deadline": Case(
        lambda t: (
            ONLINE
            if t < 10
            else on_battery(**{"battery.runtime": 250.0})
            if t < 20 or t >= 100
            else HOLD
        ),
        [(10, SCHEDULED)],
        100,
        sleep_at=20,
    ),
    "pre-sleep data cannot start a countdown after resume": Case(
        lambda t: (
            ONLINE
            if t < 10
            else on_battery(**{"battery.runtime": 250.0})
            if t >= 100
            else ("OB DISCHRG", {"battery.runtime": 400.0})
            if t < 20
            else HOLD
        ),
        [(100, SCHEDULED)],
        160,
        sleep_at=20,
        settings={"runtime_below_s": 300.0},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scenario(name: str) -> None:
    case = CASES[name]
    played = play(case)
    assert [(t, kind) for t, kind, _ in played.events] == case.events
    expected_acts = [] if case.act_at is None else [case.act_at]
    assert [t for t, _, _ in played.acts] == expected_acts
    assert all(kind is case.act for _, kind, _ in played.acts)


def test_the_pre_sleep_reading_is_held_even_past_its_deadline() -> None:
    case = CASES["stale data after resume: the countdown waits, then mains back cancels"]
    played = play(case, seconds=99)
    status = played.engine.status(Instant.of(played.clock))
    assert status.stage is Stage.COUNTDOWN
    assert status.held
    assert "after the clock jumped" in status.devices[0].note


def test_power_restored_message() -> None:
    played = play(CASES["mains back during the countdown cancels it"])
    assert played.events[-1][2] == "Power restored: the shutdown is called off"


def test_the_warning_names_the_action_delay_and_reason() -> None:
    case = CASES["a long outage acts when the runtime falls below the limit, after the delay"]
    played = play(case)
    assert played.events[0][2] == (
        "This computer shuts down in 1 min: about 4 min 55 s of battery left, below 5 min (ups)"
    )
    assert played.acts == [(211, ActionKind.SHUTDOWN, Reason.RUNTIME)]


def test_monitor_only_says_so() -> None:
    played = play(CASES["monitor only warns and decides nothing runs"])
    assert played.events[0][2].startswith("Monitor only, no action is taken:")


def _countdown(**settings: Any) -> tuple[Engine, FakeClock]:
    clock = FakeClock()
    engine = Engine(ProtectionSettings(**settings), Instant.of(clock))
    engine.observe(_state(clock, ONLINE, None, "ups"), Instant.of(clock))
    clock.advance(1)
    feed = on_battery(**{"battery.runtime": 250.0})
    step = engine.observe(_state(clock, feed, None, "ups"), Instant.of(clock))
    assert [e.kind for e in step.events] == [SCHEDULED]
    return engine, clock


def test_postponing_beyond_the_limit_is_refused_with_the_reason() -> None:
    engine, clock = _countdown(max_postpones=1)
    engine.postpone(Instant.of(clock), 60)
    with pytest.raises(ProtectionRefused, match=r"max_postpones allows 1"):
        engine.postpone(Instant.of(clock))
    with pytest.raises(ProtectionRefused, match=r"at most 5 min"):
        _countdown(max_postpones=3)[0].postpone(Instant.of(clock), 301)


def test_a_policy_that_forbids_postponing_refuses_postpone_and_cancel() -> None:
    engine, clock = _countdown(allow_postpone=False)
    with pytest.raises(ProtectionRefused, match="not allowed by settings"):
        engine.postpone(Instant.of(clock))
    with pytest.raises(ProtectionRefused, match="not allowed by settings"):
        engine.cancel(Instant.of(clock))
    assert engine.stage is Stage.COUNTDOWN


def test_nothing_to_postpone_and_too_late_are_said() -> None:
    clock = FakeClock()
    engine = Engine(ProtectionSettings(delay_s=0), Instant.of(clock))
    with pytest.raises(ProtectionRefused, match="nothing to postpone"):
        engine.postpone(Instant.of(clock))
    feed: Feed = ("FSD OB", {})
    step = engine.observe(_state(clock, feed, None, "ups"), Instant.of(clock))
    assert step.act is not None
    with pytest.raises(ProtectionRefused, match="too late to cancel"):
        engine.cancel(Instant.of(clock))


def test_status_explains_why_a_ups_without_runtime_or_charge_cannot_be_judged() -> None:
    played = play(CASES["neither runtime nor charge and no LB: never acts"], seconds=30)
    (view,) = played.engine.status(Instant.of(played.clock)).devices
    assert view.fresh
    assert view.basis is Basis.LOW_BATTERY
    assert "reports neither runtime nor charge" in view.note
    assert "protection.on_battery_s" in view.note


def test_status_of_a_countdown_has_the_deadline_and_postponements() -> None:
    engine, clock = _countdown()
    clock.advance(2)
    status = engine.status(Instant.of(clock))
    assert status.stage is Stage.COUNTDOWN
    assert status.seconds_left == 58
    assert status.deadline == clock.time() + 58
    assert status.postpones_left == 1
    assert status.trigger is not None
    assert status.trigger.reason is Reason.RUNTIME
    assert status.devices[0].note == "judged by runtime: about 4 min 10 s left (acts below 5 min)"


def test_a_countdown_goes_on_when_the_ups_stops_answering() -> None:
    engine, clock = _countdown()
    clock.advance(30)
    status = engine.status(Instant.of(clock))
    assert status.devices[0].note == "not judged: its data is stale"
    assert status.stage is Stage.COUNTDOWN
    clock.advance(30)
    assert engine.tick(Instant.of(clock)).act is not None


def test_the_next_deadline_is_the_end_of_the_countdown() -> None:
    engine, clock = _countdown()
    assert engine.next_deadline(Instant.of(clock)) == clock.monotonic() + 60
    clock.advance(60)
    step = engine.tick(Instant.of(clock))
    assert step.act is not None
    assert engine.next_deadline(Instant.of(clock)) is None


def _two_devices(script: Callable[[int, str], Feed], **settings: Any) -> list[tuple[int, str]]:
    clock = FakeClock()
    engine = Engine(ProtectionSettings(**settings), Instant.of(clock))
    seen: list[tuple[int, str]] = []
    for second in range(200):
        for device in ("ups", "ups2"):
            step = engine.observe(
                _state(clock, script(second, device), None, device), Instant.of(clock)
            )
            seen += [(second, f"{e.kind.value} {e.device}") for e in step.events]
            if step.act is not None:
                seen.append((second, f"act {step.act.trigger.device}"))
        clock.advance(1)
    return seen


def test_any_ups_powering_the_computer_triggers_and_all_must_recover() -> None:
    def script(second: int, device: str) -> Feed:
        if device == "ups2" and 10 <= second < 40:
            return on_battery(**{"battery.runtime": 250.0})
        if device == "ups" and 20 <= second < 30:
            return on_battery(**{"battery.runtime": 200.0})
        return ONLINE

    assert _two_devices(script) == [
        (10, "SHUTDOWN_SCHEDULED ups2"),
        (40, "SHUTDOWN_CANCELLED ups2"),
    ]


def test_only_the_named_devices_count() -> None:
    def script(second: int, device: str) -> Feed:
        return on_battery(**{"battery.runtime": 100.0}) if device == "ups2" else ONLINE

    assert _two_devices(script, devices=("ups",)) == []


def test_a_simulated_ups_counts_only_when_named() -> None:
    clock = FakeClock()
    reading = Reading(clock.time(), Status.parse("FSD OB"), {})
    state = DeviceState("ups", "sim://outage", Link.OK, reading, reading, UpsInfo(simulated=True))
    unnamed = Engine(ProtectionSettings(), Instant.of(clock)).observe(state, Instant.of(clock))
    named = Engine(ProtectionSettings(devices=("ups",)), Instant.of(clock)).observe(
        state, Instant.of(clock)
    )
    assert unnamed.act is None
    assert named.act is not None
    assert named.act.simulated == ("ups",)


def test_fsd_latched_by_this_computer_is_not_a_new_trigger_and_power_back_rearms() -> None:
    engine, clock = _countdown(delay_s=10)
    clock.advance(10)
    step = engine.tick(Instant.of(clock))
    assert step.act is not None
    engine.latched_fsd(["ups"])
    for status in ("FSD OB", "FSD OL"):
        clock.advance(1)
        feed = (status, {"battery.runtime": 900.0})
        step = engine.observe(_state(clock, feed, None, "ups"), Instant.of(clock))
        assert step.act is None
    assert engine.stage is Stage.WATCHING


def test_resume_after_hibernation_rearms_on_the_first_fresh_reading() -> None:
    engine, clock = _countdown(delay_s=10, action=ActionKind.HIBERNATE)
    clock.advance(10)
    assert engine.tick(Instant.of(clock)).act is not None
    clock.jump_wall(7200)
    clock.advance(1)
    feed = on_battery(**{"battery.runtime": 240.0})
    step = engine.observe(_state(clock, feed, None, "ups"), Instant.of(clock))
    assert [e.kind for e in step.events] == [SCHEDULED]
    assert engine.stage is Stage.COUNTDOWN
