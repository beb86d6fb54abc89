"""Energy history after a week offline: envelopes and bytes per day, drain time and RSS.

Seven days of 1 Hz readings (nine variables, a daily load curve with noise and one
short outage) go into a real HistoryStore on a simulated clock that ends now. The
uploader (``Uploads.run_due``, energy history granted in a real PrivacyCenter) runs once
when the week starts, which sets its watermark, and once when it ends, queueing the
backlog of hourly envelopes. A child process, the agent's part that drains, then sends
the outbox with the real Sender and HttpsTransport to the loopback HTTPS cloud of the
tests, with the client rate limit raised so that the drain is measured rather than
waited for; what the 15-a-minute limit implies for the same count is computed with the
sender's own RateLimiter. Bytes are what the server received. RSS is the child's, idle
(set up, nothing sent) against its peak while draining, read from /proc (Linux).
Run: python -m benchmarks.upload_bench [--days 7] [--rate 6000]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import psutil

from benchmarks.history_bench import SimClock
from tests.keyrings import DIR_ENV, DirectoryKeyring
from tests.peers.cloud import CloudServer, Received
from upsight.agent.config import Config
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.privacy.admin_policy import EffectivePolicy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.retry import RateLimiter
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.privacy.sender import Sender, SenderState, SenderStatus
from upsight.agent.privacy.snapshot import BUCKET_S
from upsight.agent.privacy.transport import HttpsTransport, Reply
from upsight.agent.privacy.uploads import ENERGY_BATCH_S, Uploads
from upsight.drivers.model import Reading, Status, UpsFlag, UpsInfo

DAY_S: Final = 86_400
DEVICE: Final = "bench-ups"
SPEC: Final = "sim://normal"
NOMINAL_W: Final = 540.0
FULL_LOAD_RUNTIME_S: Final = 300.0
TOKEN: Final = "bench-device-token"
ENERGY_PATH: Final = f"/v1/envelopes/{Purpose.ENERGY_HISTORY}"
PRODUCTION_RATE: Final = 15
# The pause between sends while draining, as in production (privacy-design.md §8.2).
SPACING_S: Final = 0.1
# Seconds into the week when the mains fail, and for how long.
OUTAGE: Final = (3 * DAY_S + 19 * 3600, 480)
# The uploader waits one bucket past the hour so that the hour's last bucket is complete.
SCHEDULER_LAG_S: Final = BUCKET_S
BYTES_TARGET_PER_DAY: Final = 50_000
RSS_TARGET_MB: Final = 20.0
RSS_SAMPLE_S: Final = 0.005

ONLINE: Final = Status.of(UpsFlag.OL)
CHARGING: Final = Status.of(UpsFlag.OL, UpsFlag.CHRG)
ON_BATTERY: Final = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)
NO_POLICY: Final = EffectivePolicy()


def readings(start: int, seconds: int, seed: int = 1) -> Iterator[Reading]:
    """One reading a second: office-hours load, mains wobble, quantised as devices report."""
    rng = random.Random(seed)
    load = 30.0
    charge = 100.0
    temperature = 27.0
    outage_from, outage_s = OUTAGE
    for s in range(seconds):
        t = start + s
        hour = (s % DAY_S) / 3600
        busy = 18.0 * math.exp(-(((hour - 13.0) / 3.5) ** 2))
        load += 0.02 * (25.0 + busy - load) + rng.gauss(0, 0.3)
        percent = float(round(min(max(load, 5.0), 95.0)))
        on_battery = outage_from <= s < outage_from + outage_s
        if on_battery:
            charge = max(charge - 0.09, 10.0)
        elif charge < 100.0:
            charge = min(charge + 0.01, 100.0)
        mains = round(
            231.0 + 3.0 * math.sin(2 * math.pi * (hour - 4.0) / 24) + rng.gauss(0, 0.6), 1
        )
        temperature += 0.002 * (23.0 + 0.15 * percent - temperature)
        values = {
            "ups.load": percent,
            "ups.realpower": float(round(percent / 100 * NOMINAL_W)),
            "battery.charge": float(round(charge)),
            "battery.runtime": float(round(FULL_LOAD_RUNTIME_S * 100 / percent * charge / 100)),
            "battery.voltage": round(
                11.6 + 1.3 * charge / 100 if on_battery else 13.6 + rng.gauss(0, 0.02), 1
            ),
            "input.voltage": 0.0 if on_battery else mains,
            "input.frequency": 0.0 if on_battery else round(50.0 + rng.gauss(0, 0.02), 1),
            "output.voltage": 230.0 if on_battery else mains,
            "ups.temperature": round(temperature, 1),
        }
        status = ON_BATTERY if on_battery else CHARGING if charge < 100.0 else ONLINE
        yield Reading(float(t), status, values)


def record(store: HistoryStore, clock: SimClock, start: int, seconds: int) -> Reading:
    """Record ``seconds`` of readings, flushing once a simulated minute; returns the last."""
    last: Reading | None = None
    for i, reading in enumerate(readings(start, seconds)):
        clock.now = reading.at
        store.record(DEVICE, reading)
        if i % 60 == 59:
            store.flush()
        last = reading
    store.flush()
    if last is None:
        raise SystemExit("nothing was recorded")
    return last


def open_center(directory: Path, clock: Callable[[], float] = time.time) -> PrivacyCenter:
    return PrivacyCenter(
        directory, secrets=Secrets(DirectoryKeyring()), policy=lambda: NO_POLICY, clock=clock
    )


def build_backlog(root: Path, days: int) -> dict[str, float]:
    """Record ``days`` at 1 Hz and queue the energy envelopes the uploader owes for them."""
    week_start = int(time.time() - days * DAY_S - SCHEDULER_LAG_S) // 3600 * 3600
    end = week_start + days * DAY_S + SCHEDULER_LAG_S
    # Granted in the quarter hour before the week: readings from before a grant never go out.
    clock = SimClock(float(week_start - BUCKET_S))
    store = HistoryStore(root / "history.db", clock=clock)
    center = open_center(root / "privacy", clock.time)
    center.secrets.set_token(TOKEN)
    center.grant(Purpose.ENERGY_HISTORY, actor=LocalUser(os.getuid()), surface=Surface.CLI)
    clock.now = week_start
    state = DeviceState(DEVICE, SPEC, Link.OK, info=UpsInfo(model="Bench 900VA"))
    # The lambda reads ``state`` when called, so the run at the end sees the last reading.
    uploads = Uploads(center, Config(), lambda: [state], store, clock=clock)
    # The uploader's run as the week begins sets its watermark there.
    uploads.run_due()
    before = center.outbox.counts()[Purpose.ENERGY_HISTORY][0]
    started = time.perf_counter()
    last = record(store, clock, week_start, end - week_start)
    record_s = time.perf_counter() - started
    state = DeviceState(DEVICE, SPEC, Link.OK, reading=last, info=state.info)
    started = time.perf_counter()
    uploads.run_due()
    queue_s = time.perf_counter() - started
    envelopes, queued_bytes = center.outbox.counts()[Purpose.ENERGY_HISTORY]
    store.close()
    center.close()
    return {
        "readings": end - week_start,
        "record_s": record_s,
        "queue_s": queue_s,
        "envelopes_queued": envelopes - before,
        "queued_bytes": queued_bytes,
        "expected_envelopes": int(days * DAY_S // ENERGY_BATCH_S),
    }


def rss_status(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of this process in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"/proc/self/status has no {field}")


class TimedTransport:
    """Passes posts to the real transport and adds up the time they take."""

    def __init__(self, transport: HttpsTransport) -> None:
        self._transport = transport
        self.post_s = 0.0

    def post(self, envelope: Envelope) -> Reply:
        started = time.perf_counter()
        try:
            return self._transport.post(envelope)
        finally:
            self.post_s += time.perf_counter() - started

    def abort(self) -> None:
        self._transport.abort()


def drain(directory: Path, endpoint: str, ca_bundle: Path, rate: int) -> None:
    """Child process: send the outbox, then print the drain time and RSS as JSON."""
    center = open_center(directory)
    queued = sum(count for count, _ in center.outbox.counts().values())
    done = threading.Event()

    def changed(status: SenderStatus) -> None:
        if status.state is SenderState.IDLE and status.sent + status.rejected >= queued:
            done.set()

    transport = TimedTransport(
        HttpsTransport(endpoint, token=center.secrets.token, ca_bundle=ca_bundle)
    )
    sender = Sender(
        center.outbox,
        center.ledger,
        transport,
        center.gate.decide,
        spacing_s=SPACING_S,
        max_requests_per_minute=rate,
        on_change=changed,
    )
    gc.collect()
    idle = rss_status("VmRSS")
    print("ready", flush=True)
    sys.stdin.readline()
    # Writing 5 resets the peak (VmHWM) to the current RSS (proc(5), clear_refs).
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    started = time.perf_counter()
    sender.start()
    finished = done.wait(paced_drain_s(queued, SPACING_S + 1.0, rate) + 60.0)
    drain_s = time.perf_counter() - started
    sender.stop()
    status = sender.status()
    print(
        json.dumps(
            {
                "finished": finished,
                "queued": queued,
                "sent": status.sent,
                "rejected": status.rejected,
                "dropped": status.dropped,
                "drain_s": drain_s,
                "post_s": transport.post_s,
                "idle_rss": idle,
                "peak_rss": rss_status("VmHWM"),
            }
        ),
        flush=True,
    )


class RssSampler:
    """Samples a process's RSS from this one until stopped; keeps the highest value."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_drain(root: Path, cloud: CloudServer, rate: int) -> dict[str, Any]:
    """Drain ``root``'s outbox from a child process; its JSON report and the sampled RSS peak."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.upload_bench",
        "--drain-from",
        str(root / "privacy"),
        "--endpoint",
        cloud.url,
        "--ca-bundle",
        str(cloud.ca_pem),
        "--rate",
        str(rate),
    ]
    child = subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if child.stdin is None or child.stdout is None:
            raise SystemExit("the draining process has no pipes")
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("the draining process did not start")
        with RssSampler(child.pid) as sampler:
            child.stdin.write("go\n")
            child.stdin.flush()
            report: dict[str, Any] = json.loads(child.stdout.readline())
        if child.wait(30) != 0:
            raise SystemExit(f"the draining process failed with exit status {child.returncode}")
    finally:
        if child.poll() is None:
            child.kill()
    report["sampled_peak_rss"] = sampler.peak
    return report


def paced_drain_s(count: int, per_request_s: float, limit: int) -> float:
    """How long ``count`` sends take under the sender's RateLimiter at ``limit`` a minute."""
    now = [0.0]
    limiter = RateLimiter(max_requests=limit, clock=lambda: now[0])
    for _ in range(count):
        now[0] += limiter.delay()
        limiter.record()
        now[0] += per_request_s
    return now[0]


def request_bytes(post: Received) -> int:
    """The request as sent before TLS: request line, headers and the gzip body."""
    head = f"POST {post.path} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in post.headers.items()
    )
    return len(head.encode("latin-1")) + 2 + int(post.headers["content-length"])


def verdict(value: float, target: float) -> str:
    return "target met" if value <= target else "target missed"


def measure(root: Path, days: int, rate: int) -> dict[str, Any]:
    """Record, queue and drain in ``root``; every number the benchmark reports."""
    os.environ[DIR_ENV] = str(root / "keyring")
    (root / "keyring").mkdir()
    print(f"recording {days} days at 1 Hz into {root / 'history.db'} ...", flush=True)
    numbers: dict[str, Any] = {"days": days, **build_backlog(root, days)}
    if numbers["envelopes_queued"] != numbers["expected_envelopes"]:
        raise SystemExit(
            f"queued {numbers['envelopes_queued']} energy envelopes, expected "
            f"{numbers['expected_envelopes']}"
        )
    with CloudServer(root / "cloud") as cloud:
        child = run_drain(root, cloud, rate)
        posts = cloud.posts()
    energy = [p for p in posts if p.path == ENERGY_PATH]
    if not child["finished"] or len(energy) != numbers["envelopes_queued"]:
        raise SystemExit(f"the drain did not deliver the backlog: {child}, {len(energy)} received")
    gzip_bytes = sum(int(p.headers["content-length"]) for p in energy)
    json_bytes = sum(len(p.raw) for p in energy)
    http_bytes = sum(request_bytes(p) for p in energy)
    buckets = {b["t"] for p in energy for b in p.body["data"].get("energy.kwh", ())}
    post_s = child["post_s"] / child["sent"]
    numbers.update(
        envelopes_sent=len(energy),
        other_envelopes_sent=len(posts) - len(energy),
        envelopes_per_day=len(energy) / days,
        buckets_delivered=len(buckets),
        buckets_expected=days * DAY_S // BUCKET_S,
        json_bytes_per_day=json_bytes / days,
        gzip_bytes_per_day=gzip_bytes / days,
        gzip_bytes_per_envelope=gzip_bytes / len(energy),
        http_bytes_per_day=http_bytes / days,
        drain_s=child["drain_s"],
        drain_rate_limit_per_min=rate,
        post_ms=post_s * 1000,
        drain_s_at_15_per_min=paced_drain_s(child["sent"], post_s + SPACING_S, PRODUCTION_RATE),
        idle_rss_mb=child["idle_rss"] / 2**20,
        peak_rss_mb=max(child["peak_rss"], child["sampled_peak_rss"]) / 2**20,
        sampled_peak_rss_mb=child["sampled_peak_rss"] / 2**20,
    )
    numbers["rss_over_idle_mb"] = numbers["peak_rss_mb"] - numbers["idle_rss_mb"]
    return numbers


def show(n: dict[str, Any]) -> None:
    days = n["days"]
    rows = [
        (
            "readings made and recorded",
            f"{n['readings']:,} (+15 min lag) in {n['record_s']:.1f} s "
            f"({n['record_s'] / n['readings'] * 1e6:.1f} µs each)",
            "",
        ),
        (
            "backlog queued by run_due()",
            f"{n['envelopes_queued']} envelopes in {n['queue_s']:.2f} s",
            "",
        ),
        (
            "envelopes per day",
            f"{n['envelopes_per_day']:.0f} (15-min energy buckets delivered: "
            f"{n['buckets_delivered']} of {n['buckets_expected']})",
            "",
        ),
        ("JSON bytes per day", f"{n['json_bytes_per_day'] / 1000:.1f} kB", ""),
        (
            "gzip bytes on the wire per day",
            f"{n['gzip_bytes_per_day'] / 1000:.1f} kB "
            f"({n['gzip_bytes_per_envelope']:.0f} B per envelope)",
            f"≤ {BYTES_TARGET_PER_DAY / 1000:.0f} kB: "
            f"{verdict(n['gzip_bytes_per_day'], BYTES_TARGET_PER_DAY)}",
        ),
        (
            "  with HTTP request headers",
            f"{n['http_bytes_per_day'] / 1000:.1f} kB (before TLS framing)",
            "",
        ),
        (
            f"drain at {n['drain_rate_limit_per_min']}/min",
            f"{n['drain_s']:.1f} s for {n['envelopes_sent']} + {n['other_envelopes_sent']} "
            f"POSTs ({n['post_ms']:.1f} ms per POST, {SPACING_S * 1000:.0f} ms apart)",
            "",
        ),
        ("same count at 15/min (computed)", f"{n['drain_s_at_15_per_min'] / 60:.1f} min", ""),
        (
            "RSS idle / peak while draining",
            f"{n['idle_rss_mb']:.1f} / {n['peak_rss_mb']:.1f} MB (+{n['rss_over_idle_mb']:.1f} MB)",
            f"≤ +{RSS_TARGET_MB:.0f} MB: {verdict(n['rss_over_idle_mb'], RSS_TARGET_MB)}",
        ),
    ]
    print(f"{days} days offline, energy history granted")
    for label, value, target in rows:
        print(f"{label:<34} {value:<58} {target}")
    print(json.dumps(n, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7, help="days offline at 1 Hz (default 7)")
    parser.add_argument(
        "--rate", type=int, default=6000, help="client limit, requests a minute (default 6000)"
    )
    parser.add_argument("--drain-from", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--ca-bundle", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain_from is not None:
        drain(args.drain_from, args.endpoint, args.ca_bundle, args.rate)
        return
    with tempfile.TemporaryDirectory(prefix="upsight-bench-") as tmp:
        show(measure(Path(tmp), args.days, args.rate))


if __name__ == "__main__":
    main()
