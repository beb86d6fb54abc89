"""HID interrupt latency: a status report on the USB interrupt pipe to an event on the bus."""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

from benchmarks.support import percentile
from tests.drivers.hid.captures import by_name
from tests.drivers.hid.fake_backend import FakeBackend, FakeUps
from upsight.agent.bus import Bus, Message
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceMonitor, Link, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.drivers.hid.descriptor import Field, ReportDescriptor, ReportType
from upsight.drivers.hid.driver import HidDriver, open_hid
from upsight.drivers.spec import parse_spec

CAPTURE = by_name("apc-back-ups-es-850g2")
INTERVAL_S = 1.0
MAINS = {EventKind.ONBATT, EventKind.ONLINE}


def with_bits(report: bytes, field: Field, raw: int) -> bytes:
    data = bytearray(report)
    for i in range(field.bit_size):
        byte, bit = divmod(8 + field.bit_offset + i, 8)
        data[byte] = data[byte] | (1 << bit) if raw >> i & 1 else data[byte] & ~(1 << bit)
    return bytes(data)


def status_reports() -> tuple[bytes, bytes]:
    """The PresentStatus report on mains and on battery."""
    descriptor = ReportDescriptor.from_bytes(CAPTURE.descriptor)

    def field(name: str) -> Field:
        path = f"UPS.PowerSummary.PresentStatus.{name}"
        found = descriptor.find(path, CAPTURE.names)
        return next(f for f in found if f.report_type is ReportType.INPUT)

    ac, discharging = field("ACPresent"), field("Discharging")
    online = CAPTURE.reports[ac.report_id]
    return online, with_bits(with_bits(online, ac, 0), discharging, 1)


def measure(count: int, query: str) -> list[float]:
    ups = FakeUps.from_capture(CAPTURE, {1: "American Power Conversion", 2: "Back-UPS ES 850G2"})
    backend = FakeBackend(ups)
    spec = f"hid://051d:0002{query}"

    def opener(text: str, clock: Clock) -> HidDriver:
        return open_hid(parse_spec(text), clock, usb_backend=backend)

    arrived = threading.Event()
    received: list[float] = []

    def on_message(message: Message) -> None:
        if isinstance(message, Event) and message.kind in MAINS:
            received.append(time.perf_counter())
            arrived.set()

    bus = Bus()
    bus.subscribe(on_message)
    bus.start()
    monitor = DeviceMonitor("ups", spec, MonitorSettings(interval_s=INTERVAL_S), SYSTEM_CLOCK)
    poller = Poller(monitor, spec, bus.publish, SYSTEM_CLOCK, opener)
    poller.start()
    online, on_battery = status_reports()
    latencies: list[float] = []
    try:
        deadline = time.monotonic() + 10
        while poller.monitor.state.link is not Link.OK:
            if time.monotonic() > deadline:
                raise SystemExit("the poller never connected")
            time.sleep(0.05)
        for i in range(count):
            # Land anywhere in the poll cycle.
            time.sleep(random.uniform(0.05, INTERVAL_S))
            arrived.clear()
            pushed = time.perf_counter()
            ups.push(on_battery if i % 2 == 0 else online)
            if not arrived.wait(3 * INTERVAL_S):
                raise SystemExit(f"report {i}: no event within {3 * INTERVAL_S:.0f} s")
            latencies.append(received[-1] - pushed)
    finally:
        poller.stop()
        bus.stop()
    return latencies


def read_cost(count: int) -> list[float]:
    """How long one read() takes (quick poll of the status reports, then mapping)."""
    ups = FakeUps.from_capture(CAPTURE, {1: "American Power Conversion"})
    driver = open_hid(parse_spec("hid://051d:0002"), SYSTEM_CLOCK, usb_backend=FakeBackend(ups))
    samples: list[float] = []
    with driver:
        for _ in range(count):
            driver.wait_for_change(0.001)  # as a poller does between reads
            started = time.perf_counter()
            driver.read()
            samples.append(time.perf_counter() - started)
    return samples


def report(label: str, samples_s: list[float]) -> None:
    ms = [s * 1000 for s in samples_s]
    print(
        f"{label:<34} n={len(ms):<4} median {statistics.median(ms):7.2f} ms   "
        f"p95 {percentile(ms, 0.95):7.2f} ms   max {max(ms):7.2f} ms"
    )


def main() -> None:
    """Measure and print.

    A fake pyusb backend serves a real APC Back-UPS ES 850G2 capture; pyusb,
    the hid:// driver, a Poller at the default 1 s interval and the agent's Bus
    run for real. Each interrupt report flips mains off or on at a random
    moment of the poll cycle and is timed until the ONBATT / ONLINE event
    reaches a bus subscriber. For contrast the run is repeated with
    ``pollonly=1``, where only the next poll sees the change.
    Run: python -m benchmarks.hid_bench [--reports 60] [--pollonly-reports 20]
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--reports", type=int, default=60)
    parser.add_argument("--pollonly-reports", type=int, default=20)
    args = parser.parse_args()
    print(f"poll interval {INTERVAL_S:.0f} s; {CAPTURE.name} served by a fake pyusb backend")
    report("interrupt -> bus subscriber", measure(args.reports, ""))
    report("same change, pollonly=1 (contrast)", measure(args.pollonly_reports, "?pollonly=1"))
    report("one read() (quick poll + mapping)", read_cost(200))
    print("target: p95 <= 100 ms from interrupt report to bus subscriber")


if __name__ == "__main__":
    main()
