"""nut:// driver: status change to event, and reconnect after an upsd restart.

A real upsd serves dummy-ups; the dump is rewritten to change the status. The
change first has to reach upsd (dummy-ups re-reads its file once a second),
then the next poll (1 s interval) sees it.
Run: python -m benchmarks.nut_bench [--trials 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.support import percentile
from tests.peers.nut import NutServer
from upsight.agent.bus import Message
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceMonitor, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers.clock import SYSTEM_CLOCK

DUMP = "ups.status: {status}\nbattery.charge: 90\ndevice.model: Bench\nups.model: Bench\n"


class Waiter:
    """Lets the benchmark wait for the next event of a kind."""

    def __init__(self) -> None:
        self.events: list[tuple[float, EventKind]] = []
        self.changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        if isinstance(message, Event):
            with self.changed:
                self.events.append((time.monotonic(), message.kind))
                self.changed.notify_all()

    def wait_for(self, kind: EventKind, after: float, timeout_s: float = 30) -> float:
        def seen() -> bool:
            return any(k is kind and t >= after for t, k in self.events)

        with self.changed:
            if not self.changed.wait_for(seen, timeout_s):
                raise TimeoutError(f"no {kind.value}")
        return next(t for t, k in self.events if k is kind and t >= after) - after


def report(label: str, samples: list[float]) -> None:
    print(
        f"{label:<34} n={len(samples):<3} median {statistics.median(samples):5.2f} s   "
        f"p95 {percentile(samples, 0.95):5.2f} s   max {max(samples):5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    server = NutServer(
        Path(tempfile.mkdtemp(prefix="upsight-nut-")) / "nut", DUMP.format(status="OL")
    ).start()
    spec = f"nut://127.0.0.1:{server.port}/{server.name}"
    waiter = Waiter()
    monitor = DeviceMonitor("ups", spec, MonitorSettings(interval_s=1.0), SYSTEM_CLOCK)
    poller = Poller(monitor, spec, waiter, SYSTEM_CLOCK)
    poller.start()
    latencies: list[float] = []
    reconnects: list[float] = []
    try:
        time.sleep(2)
        for trial in range(args.trials):
            status, kind = (
                ("OB DISCHRG", EventKind.ONBATT) if trial % 2 == 0 else ("OL", EventKind.ONLINE)
            )
            started = time.monotonic()
            server.write_dump(DUMP.format(status=status))
            latencies.append(waiter.wait_for(kind, started))
            time.sleep(0.5)
        for _ in range(max(3, args.trials // 2)):
            lost = time.monotonic()
            server.stop_upsd()
            waiter.wait_for(EventKind.COMMBAD, lost)
            back = time.monotonic()
            server.start_upsd()
            reconnects.append(waiter.wait_for(EventKind.COMMOK, back))
    finally:
        poller.stop()
        server.stop()
    report("dump change -> event (1 s poll)", latencies)
    report("upsd restarted -> COMMOK", reconnects)
    print("targets: reconnect <= 5 s; latency includes dummy-ups's own 1 s re-read")


if __name__ == "__main__":
    main()
