"""Serial drivers through a real Poller over socat ptys: reconnect time and status-to-event latency.

For each of megatec: and apcsmart:, with the emulated unit served on a pty pair
(tests/peers/pty.py) and a Poller at the default 1 s interval:

* latency: the emulated unit loses or regains mains; time until the Poller
  publishes ONBATT or ONLINE (includes the wait for the next poll);
* reconnect: the port goes away (adapter: socat ends, the device node
  vanishes; cable: the UPS side stays but nothing answers) and comes back
  after a random while; time from its return to the next published reading.

Run: python -m benchmarks.serial_bench [--trials 10] [--scenario adapter|cable|both]
Needs socat (installed by scripts/test.sh).
"""

from __future__ import annotations

import argparse
import functools
import logging
import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.support import percentile, scratch_dir
from tests.drivers.serial.emulators import ApcSmartEmulator, MegatecEmulator
from tests.peers.pty import EmulatorServer, PtyPair
from upsight.agent.bus import Message
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceMonitor, DeviceState, Link, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers.clock import SYSTEM_CLOCK

INTERVAL_S = MonitorSettings().interval_s
MAINS = {EventKind.ONBATT, EventKind.ONLINE}
WAIT_S = 20.0


class Recorder:
    """Everything the poller publishes, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, Message]] = []
        self.changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self.changed:
            self.messages.append((time.monotonic(), message))
            self.changed.notify_all()

    def first_after(self, since: float, match: Callable[[Message], bool]) -> float:
        """When the first message after ``since`` that ``match`` accepts arrived."""

        def found() -> float | None:
            return next((at for at, m in self.messages if at >= since and match(m)), None)

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None, WAIT_S):
                raise TimeoutError("the poller never published the expected message")
            at = found()
        assert at is not None
        return at


def is_mains_event(message: Message) -> bool:
    return isinstance(message, Event) and message.kind in MAINS


def is_good_reading(message: Message) -> bool:
    return isinstance(message, DeviceState) and message.link is Link.OK


def is_failure(message: Message) -> bool:
    return isinstance(message, DeviceState) and message.error is not None


def measure(kind: str, trials: int, scenarios: list[str], root: Path) -> None:
    emulator = MegatecEmulator() if kind == "megatec" else ApcSmartEmulator()
    pair = PtyPair(root / kind, kind).start()
    server = EmulatorServer(pair, emulator).start()
    spec = f"{kind}:{pair.ups}"
    recorder = Recorder()
    monitor = DeviceMonitor(kind, spec, MonitorSettings(), SYSTEM_CLOCK)
    poller = Poller(monitor, spec, recorder, SYSTEM_CLOCK)
    poller.start()
    try:
        recorder.first_after(0.0, is_good_reading)
        latencies = []
        mains = True
        for _ in range(trials):
            time.sleep(random.uniform(0.0, INTERVAL_S))  # any phase of the poll cycle
            mains = not mains
            changed_at = time.monotonic()
            server.call(functools.partial(emulator.update, mains=mains))
            latencies.append(recorder.first_after(changed_at, is_mains_event) - changed_at)
        report(kind, "status change -> event", latencies, 1.5)
        if not mains:
            server.call(functools.partial(emulator.update, mains=True))
        for scenario in scenarios:
            times = [reconnect(pair, server, recorder, scenario) for _ in range(trials)]
            report(kind, f"reconnect ({scenario})", times, 5.0)
    finally:
        poller.stop()
        server.stop()
        pair.stop()


def reconnect(pair: PtyPair, server: EmulatorServer, recorder: Recorder, scenario: str) -> float:
    gone_at = time.monotonic()
    if scenario == "adapter":
        pair.stop()
    else:
        server.unplug()
    recorder.first_after(gone_at, is_failure)
    # Come back at a random point of the poller's reconnect backoff (0.5 s doubling to 4 s).
    time.sleep(random.uniform(0.5, 6.0))
    if scenario == "adapter":
        pair.start()
    server.plug()
    back_at = time.monotonic()
    return recorder.first_after(back_at, is_good_reading) - back_at


def report(kind: str, label: str, samples_s: list[float], target_s: float) -> None:
    print(
        f"{kind:<9} {label:<26} n={len(samples_s):<3} "
        f"median {statistics.median(samples_s):5.2f} s   p95 {percentile(samples_s, 0.95):5.2f} s"
        f"   max {max(samples_s):5.2f} s   (target <= {target_s:g} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--scenario", choices=["adapter", "cable", "both"], default="both")
    args = parser.parse_args()
    # The poller logs every lost link; here that is the point, not news.
    logging.basicConfig(level=logging.ERROR)
    scenarios = ["adapter", "cable"] if args.scenario == "both" else [args.scenario]
    root = scratch_dir()
    print(f"poll interval {INTERVAL_S:g} s; {args.trials} trials each")
    for kind in ("megatec", "apcsmart"):
        measure(kind, args.trials, scenarios, root)


if __name__ == "__main__":
    main()
