"""The per-device state machine: staleness, reconnect events, debounce, NOCOMM."""

from __future__ import annotations

from tests.fakes import FakeClock
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceMonitor, Link, MonitorSettings
from upsight.drivers.model import Reading, Status, UpsInfo

K = EventKind


def make(clock: FakeClock, **settings: float) -> DeviceMonitor:
    monitor = DeviceMonitor("ups", "sim://normal", MonitorSettings(**settings), clock)  # type: ignore[arg-type]
    monitor.on_connected(UpsInfo(model="Test"), frozenset({"beeper.mute"}))
    return monitor


def reading(clock: FakeClock, status: str, **values: float) -> Reading:
    return Reading(
        clock.time(),
        Status.parse(status),
        {k.replace("_", "."): float(v) for k, v in values.items()},
    )


def feed(monitor: DeviceMonitor, clock: FakeClock, status: str, seconds: int = 1) -> list[K]:
    """Read ``status`` once a second for ``seconds`` seconds; return the event kinds."""
    out: list[K] = []
    for _ in range(seconds):
        out += [e.kind for e in monitor.on_reading(reading(clock, status))]
        clock.advance(1)
        out += [e.kind for e in monitor.on_tick()]
    return out


def test_first_reading_makes_the_link_ok() -> None:
    clock = FakeClock()
    monitor = make(clock)
    before = monitor.state.link
    assert feed(monitor, clock, "OL") == []
    assert (before, monitor.state.link) == (Link.CONNECTING, Link.OK)
    assert monitor.state.info == UpsInfo(model="Test")


def test_no_fresh_reading_within_three_intervals_is_stale() -> None:
    clock = FakeClock()
    monitor = make(clock, interval_s=1.0)
    monitor.on_reading(reading(clock, "OL", battery_charge=100))
    clock.advance(3.0)
    assert monitor.on_tick() == []
    assert monitor.state.link is Link.OK
    clock.advance(0.01)
    assert [e.kind for e in monitor.on_tick()] == [K.COMMBAD]
    state = monitor.state
    assert state.link is Link.STALE
    assert state.reading is None, "stale values must never be shown as current"
    assert state.last_reading is not None
    assert state.last_reading.number("battery.charge") == 100
    assert monitor.on_tick() == [], "COMMBAD is raised once"


def test_stale_window_follows_the_interval() -> None:
    clock = FakeClock()
    monitor = make(clock, interval_s=5.0)
    monitor.on_reading(reading(clock, "OL"))
    clock.advance(14.0)
    assert monitor.on_tick() == []
    clock.advance(1.5)
    assert [e.kind for e in monitor.on_tick()] == [K.COMMBAD]


def test_errors_alone_do_not_flap_the_link() -> None:
    clock = FakeClock()
    monitor = make(clock)
    monitor.on_reading(reading(clock, "OL"))
    clock.advance(1)
    assert monitor.on_error("Disconnected: cable pulled") == []
    assert monitor.state.error == "Disconnected: cable pulled"
    clock.advance(1)
    assert monitor.on_reading(reading(clock, "OL")) == []
    assert monitor.state.error is None


def test_recovery_reports_commok_then_what_changed_meanwhile() -> None:
    clock = FakeClock()
    monitor = make(clock)
    feed(monitor, clock, "OL")
    monitor.on_error("Disconnected")
    clock.advance(5)
    assert [e.kind for e in monitor.on_tick()] == [K.COMMBAD]
    assert [e.kind for e in monitor.on_reading(reading(clock, "OB DISCHRG"))] == [
        K.COMMOK,
        K.ONBATT,
    ]
    assert monitor.state.link is Link.OK


def test_nocomm_after_a_long_loss_once() -> None:
    clock = FakeClock()
    monitor = make(clock, nocomm_after_s=60)
    feed(monitor, clock, "OL")
    events: list[K] = []
    for _ in range(200):
        clock.advance(1)
        events += [e.kind for e in monitor.on_error("NotFound")]
    assert events == [K.COMMBAD, K.NOCOMM]


def test_never_connected_device_warns_nocomm_without_commbad() -> None:
    clock = FakeClock()
    monitor = make(clock, nocomm_after_s=30)
    events: list[K] = []
    for _ in range(40):
        clock.advance(1)
        events += [e.kind for e in monitor.on_error("NotFound: /dev/ttyUSB0")]
    assert events == [K.NOCOMM]
    assert monitor.state.link is Link.CONNECTING


def test_blip_shorter_than_debounce_raises_nothing() -> None:
    clock = FakeClock()
    monitor = make(clock, onbatt_debounce_s=5)
    events = feed(monitor, clock, "OL CHRG", 3)
    events += feed(monitor, clock, "OB DISCHRG", 3)
    events += feed(monitor, clock, "OL CHRG", 3)
    assert events == []


def test_outage_longer_than_debounce_raises_onbatt_when_it_expires() -> None:
    clock = FakeClock()
    monitor = make(clock, onbatt_debounce_s=5)
    feed(monitor, clock, "OL", 2)
    start = clock.time()
    onbatt_at = None
    for _ in range(8):
        for event in monitor.on_reading(reading(clock, "OB DISCHRG")):
            onbatt_at = event.at if event.kind is K.ONBATT else onbatt_at
        clock.advance(1)
        for event in monitor.on_tick():
            onbatt_at = event.at if event.kind is K.ONBATT else onbatt_at
    assert onbatt_at == start + 5
    assert feed(monitor, clock, "OL") == [K.ONLINE]


def test_low_battery_is_never_debounced() -> None:
    clock = FakeClock()
    monitor = make(clock, onbatt_debounce_s=30)
    feed(monitor, clock, "OL")
    assert feed(monitor, clock, "OB DISCHRG") == []
    assert feed(monitor, clock, "OB DISCHRG LB") == [K.ONBATT, K.LOWBATT]


def test_debounce_hides_the_charging_flip_of_a_blip() -> None:
    clock = FakeClock()
    monitor = make(clock, onbatt_debounce_s=5)
    assert feed(monitor, clock, "OL", 2) == []
    assert feed(monitor, clock, "OL CHRG", 2) == [K.CHARGING]
    assert feed(monitor, clock, "OB DISCHRG", 2) == []
    assert feed(monitor, clock, "OL CHRG", 2) == []


def test_next_deadline_is_when_the_data_turns_stale() -> None:
    clock = FakeClock()
    monitor = make(clock, interval_s=1.0)
    monitor.on_reading(reading(clock, "OL"))
    deadline = monitor.next_deadline()
    assert deadline == clock.monotonic() + 3.0
    clock.advance(3.01)
    assert [e.kind for e in monitor.on_tick()] == [K.COMMBAD]


def test_next_deadline_covers_debounce_and_nocomm() -> None:
    clock = FakeClock()
    monitor = make(clock, onbatt_debounce_s=2, nocomm_after_s=60)
    last_good = clock.monotonic()
    monitor.on_reading(reading(clock, "OB DISCHRG"))
    assert monitor.next_deadline() == clock.monotonic() + 2
    clock.advance(2)
    assert [e.kind for e in monitor.on_tick()] == [K.ONBATT]
    assert monitor.next_deadline() == clock.monotonic() + 1, "only staleness is left"
    clock.advance(4)
    monitor.on_tick()
    assert monitor.next_deadline() == last_good + 60, "NOCOMM counts from the last good data"


def test_forced_shutdown_before_any_reading_shows_on_the_first_one() -> None:
    clock = FakeClock()
    monitor = make(clock)
    assert monitor.force_shutdown() == []
    assert monitor.forced_shutdown
    assert feed(monitor, clock, "OL") == [K.FSD]
    state = monitor.state.reading
    assert state is not None
    assert str(state.status) == "FSD OL"


def test_forced_shutdown_is_announced_at_once_and_only_once() -> None:
    clock = FakeClock()
    monitor = make(clock)
    feed(monitor, clock, "OB DISCHRG", 2)
    assert [e.kind for e in monitor.force_shutdown()] == [K.FSD]
    assert monitor.force_shutdown() == []
    assert feed(monitor, clock, "OB DISCHRG LB", 3) == [K.LOWBATT]
    last = monitor.state.last_reading
    assert last is not None
    assert str(last.status) == "FSD OB LB DISCHRG"
