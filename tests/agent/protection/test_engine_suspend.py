"""The engine after a suspend the monotonic clock counted (Windows, macOS): no stale shutdown."""

from __future__ import annotations

from tests.fakes import FakeClock
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.protection.engine import SUSPEND_GAP_S, Engine, Instant, Stage
from upsight.agent.protection.settings import ProtectionSettings
from upsight.drivers.model import Reading, Status, UpsInfo


def _state(clock: FakeClock, status: str, runtime_s: float) -> DeviceState:
    reading = Reading(clock.time(), Status.parse(status), {"battery.runtime": runtime_s})
    return DeviceState("ups", "test:", Link.OK, reading, reading, UpsInfo(model="Test UPS"))


def _countdown(clock: FakeClock) -> Engine:
    engine = Engine(ProtectionSettings(delay_s=60), Instant.of(clock))
    step = engine.observe(_state(clock, "OB DISCHRG", 200.0), Instant.of(clock))
    assert [e.kind for e in step.events] == [EventKind.SHUTDOWN_SCHEDULED]
    return engine


def test_a_countdown_that_ran_out_during_a_long_silence_waits_for_a_fresh_reading() -> None:
    clock = FakeClock()
    engine = _countdown(clock)
    last = _state(clock, "OB DISCHRG", 200.0)
    clock.advance(SUSPEND_GAP_S + 3600)
    # The pre-sleep state again (a watchdog republish): not fresh, so no action.
    assert engine.observe(last, Instant.of(clock)).act is None
    assert engine.tick(Instant.of(clock)).act is None
    status = engine.status(Instant.of(clock))
    assert status.stage is Stage.COUNTDOWN
    assert status.held
    assert "after the clock jumped" in status.devices[0].note
    clock.advance(1)
    step = engine.observe(_state(clock, "OL", 1800.0), Instant.of(clock))
    assert step.act is None
    assert [e.kind for e in step.events] == [EventKind.SHUTDOWN_CANCELLED]


def test_still_on_battery_after_the_silence_acts_on_the_first_fresh_reading() -> None:
    clock = FakeClock()
    engine = _countdown(clock)
    clock.advance(SUSPEND_GAP_S + 60)
    assert engine.tick(Instant.of(clock)).act is None
    clock.advance(1)
    assert engine.observe(_state(clock, "OB DISCHRG", 150.0), Instant.of(clock)).act is not None


def test_a_gap_shorter_than_a_suspend_keeps_the_countdown_running() -> None:
    clock = FakeClock()
    engine = _countdown(clock)
    clock.advance(60)
    assert engine.tick(Instant.of(clock)).act is not None
