"""The event sequence of every simulator scenario, seen through the agent's DeviceMonitor."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceMonitor, MonitorSettings
from upsight.drivers import open_device
from upsight.drivers.errors import Disconnected
from upsight.drivers.simulated import scenarios
from upsight.drivers.simulated.profiles import PROFILES
from upsight.drivers.simulated.scenarios import SCENARIOS, Phase, Scenario, Timeline

K = EventKind
ALL_PROFILES = sorted(PROFILES)


def play(
    spec: str, steps: int, speed: int = 1, onbatt_debounce_s: float = 0.0
) -> list[tuple[int, K]]:
    """Poll ``spec`` once per clock second, as the poller does; return (simulated s, kind)."""
    clock = FakeClock()
    driver = open_device(f"{spec}{'&' if '?' in spec else '?'}speed={speed}", clock)
    settings = MonitorSettings(interval_s=1.0, onbatt_debounce_s=onbatt_debounce_s)
    monitor = DeviceMonitor("ups", spec, settings, clock)
    monitor.on_connected(driver.info(), driver.commands())
    seen: list[tuple[int, K]] = []
    for step in range(steps):
        try:
            events = monitor.on_reading(driver.read())
        except Disconnected as exc:
            events = monitor.on_error(str(exc))
        events += monitor.on_tick()
        seen += [(step * speed, event.kind) for event in events]
        clock.advance(1.0)
    return seen


def kinds(seen: list[tuple[int, K]]) -> list[K]:
    return [kind for _, kind in seen]


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_normal_stays_quiet_for_hours(profile: str) -> None:
    assert play(f"sim://normal?profile={profile}", 720, speed=10) == []


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_outage_goes_to_low_battery_and_recovers(profile: str) -> None:
    # 800 polls at speed 20 cover 4.4 simulated hours: long enough to recharge.
    seen = play(f"sim://outage?profile={profile}", 800, speed=20)
    assert kinds(seen) == [
        K.ONBATT,
        K.LOWBATT,
        K.ONLINE,
        K.BATTERY_OK,
        K.CHARGED,
    ]


def test_outage_timing_in_simulated_seconds() -> None:
    seen = dict((kind, second) for second, kind in play("sim://outage", 1200))
    assert seen[K.ONBATT] == 10
    # A few minutes on battery before low battery, then mains return 60 s later.
    assert 150 <= seen[K.LOWBATT] - seen[K.ONBATT] <= 240
    assert seen[K.ONLINE] == seen[K.LOWBATT] + 60
    assert K.CHARGING not in seen, "power restored already says it recharges"
    assert seen[K.ONLINE] < seen[K.BATTERY_OK] < seen[K.ONLINE] + 900
    assert K.CHARGED not in seen


def test_flicker_blips_in_pairs() -> None:
    seen = play("sim://flicker", 120)
    blips = [(10, 11), (30, 32), (50, 53), (70, 71), (90, 92), (110, 113)]
    expected = []
    for lost, back in blips:
        expected += [(lost, K.ONBATT), (back, K.ONLINE)]
    assert seen == expected


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_flicker_first_cycle_on_every_profile(profile: str) -> None:
    assert kinds(play(f"sim://flicker?profile={profile}", 60)) == [K.ONBATT, K.ONLINE] * 3


def test_flicker_is_silent_behind_a_debounce() -> None:
    assert play("sim://flicker", 120, onbatt_debounce_s=5.0) == []


def test_overload_sets_and_clears() -> None:
    seen = play("sim://overload", 120)
    assert seen == [(10, K.OVERLOAD), (40, K.OVERLOAD_CLEARED)]


def test_replace_battery_after_the_self_test() -> None:
    assert play("sim://replace-battery", 120) == [(10, K.REPLBATT)]


def test_commloss_goes_stale_and_recovers_twice() -> None:
    # The monitor calls the link bad after three silent poll intervals.
    seen = play("sim://commloss", 100)
    assert seen == [(13, K.COMMBAD), (30, K.COMMOK), (73, K.COMMBAD), (90, K.COMMOK)]


def mains_off_seconds(name: str, seconds: int) -> list[int]:
    timeline = Timeline(SCENARIOS[name])
    off = []
    for second in range(seconds):
        timeline.advance(float(second), low_battery=False)
        if not timeline.phase.mains:
            off.append(second)
    return off


def test_flicker_timeline_repeats_every_minute() -> None:
    assert mains_off_seconds("flicker", 200) == [
        10, 30, 31, 50, 51, 52, 70, 90, 91, 110, 111, 112, 130, 150, 151, 170, 171, 172, 190,
    ]  # fmt: skip


def test_outage_timeline_waits_for_low_battery() -> None:
    timeline = Timeline(SCENARIOS["outage"])
    timeline.advance(100.0, low_battery=False)
    waiting = (timeline.phase.mains, timeline.end_s)
    entered = timeline.advance(150.0, low_battery=True)
    after_low = (timeline.phase.mains, timeline.end_s)
    timeline.advance(209.9, low_battery=True)
    just_before = timeline.phase.mains
    timeline.advance(210.0, low_battery=True)
    assert waiting == (False, None)
    assert entered == [Phase(60.0, mains=False)]
    assert after_low == (False, 210.0)
    assert not just_before
    assert (timeline.phase.mains, timeline.end_s) == (True, None)


def test_timeline_reports_every_phase_it_passes() -> None:
    entered = Timeline(SCENARIOS["replace-battery"]).advance(60.0, low_battery=False)
    assert [phase.test_result for phase in entered] == [scenarios.IN_PROGRESS, scenarios.FAILED]


@pytest.mark.parametrize(
    ("phases", "repeat_from"),
    [
        ((Phase(), Phase(10.0)), 0),
        ((Phase(0.0), Phase()), None),
        ((Phase(10.0), Phase(5.0)), None),
        ((Phase(10.0), Phase(until_low_battery=True)), None),
        ((Phase(10.0), Phase(5.0)), 2),
        ((Phase(10.0), Phase(until_low_battery=True), Phase(5.0)), 1),
    ],
)
def test_bad_timelines_are_rejected(phases: tuple[Phase, ...], repeat_from: int | None) -> None:
    with pytest.raises(ValueError, match="bad"):
        Scenario("bad", "a broken table", phases, repeat_from=repeat_from)


def test_every_scenario_is_in_the_documented_timeline_table() -> None:
    doc = scenarios.__doc__ or ""
    for name in SCENARIOS:
        assert f"\n{name} " in doc
