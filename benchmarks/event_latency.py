"""Event latency: from the poll that sees a state change to a bus subscriber and an API subscriber.

The simulator flickers the mains (sim://flicker at speed 5: blips of 0.2-0.6 s) and the agent polls
every 0.2 s. Each ONBATT/ONLINE event carries the time the reading was taken;
the subscribers note when it reaches them. Detection additionally waits for
the next poll, on average half a poll interval; that part is reported apart.
Run: python -m benchmarks.event_latency [--events 100]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from benchmarks.support import percentile, scratch_dir
from upsight.agent.api.client import ApiClient
from upsight.agent.bus import Message
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent

POLL_S = 0.2
MAINS = {EventKind.ONBATT.value, EventKind.ONLINE.value}


def report(label: str, samples_s: list[float]) -> None:
    ms = [s * 1000 for s in samples_s]
    print(
        f"{label:<24} n={len(ms):<4} median {statistics.median(ms):6.2f} ms   "
        f"p95 {percentile(ms, 0.95):6.2f} ms   max {max(ms):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60)
    args = parser.parse_args()
    root = scratch_dir()
    paths = AppPaths(root / "config", root / "data", root / "run")
    agent = Agent(paths, Config(poll_interval_s=POLL_S), ["sim://flicker?speed=5"])
    bus_latency: list[float] = []
    api_latency: list[float] = []
    done = threading.Event()

    def on_bus(message: Message) -> None:
        if isinstance(message, Event) and message.kind.value in MAINS:
            bus_latency.append(time.time() - message.at)

    def on_api() -> None:
        with ApiClient(paths.api_socket) as client:
            for kind, data in client.subscribe():
                if kind == "event" and data["kind"] in MAINS:
                    api_latency.append(time.time() - data["at"])
                if done.is_set():
                    return

    agent.subscribe(on_bus)
    agent.start()
    listener = threading.Thread(target=on_api, daemon=True)
    listener.start()
    deadline = time.monotonic() + args.events * 4 + 30
    while min(len(bus_latency), len(api_latency)) < args.events:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    done.set()
    agent.stop()
    report("bus subscriber", bus_latency)
    report("local API subscriber", api_latency)
    print(
        f"plus the wait for the next poll: on average {POLL_S / 2 * 1000:.0f} ms here, "
        f"at most one interval ({POLL_S * 1000:.0f} ms; 1000 ms at the default 1 Hz)"
    )
    print("targets: p95 <= 50 ms in-process, <= 100 ms over the local API")


if __name__ == "__main__":
    main()
