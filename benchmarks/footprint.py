"""Agent footprint: RSS and CPU per hour of `upsight run --device sim://normal` at 1 Hz.

A bare Python loop that sleeps one second is measured beside it as the floor.
Run: python -m benchmarks.footprint [--seconds 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil

from benchmarks.support import isolated_env, scratch_dir

FLOOR = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
AGENT = [sys.executable, "-m", "upsight.agent.cli", "run", "--device", "sim://normal"]


def measure(command: list[str], seconds: float, warmup_s: float) -> tuple[float, float, float]:
    """Run ``command``; return (RSS MB at the end, peak RSS MB, CPU seconds per hour)."""
    env = isolated_env(scratch_dir())
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        handle = psutil.Process(proc.pid)
        time.sleep(warmup_s)
        before = handle.cpu_times()
        started = time.monotonic()
        time.sleep(seconds)
        after = handle.cpu_times()
        elapsed = time.monotonic() - started
        memory = handle.memory_full_info()
        peak_kb = _peak_rss_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    cpu = (after.user + after.system) - (before.user + before.system)
    return memory.rss / 2**20, peak_kb / 1024, cpu / elapsed * 3600


def _peak_rss_kb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    args = parser.parse_args()
    print(f"measuring {args.seconds:.0f} s after {args.warmup:.0f} s warm-up, 1 Hz polling")
    rows = [("python sleep loop (floor)", FLOOR), ("upsight run sim://normal", AGENT)]
    print(f"{'process':<28} {'RSS MB':>8} {'peak MB':>8} {'CPU s/h':>8}")
    for label, command in rows:
        rss, peak, cpu = measure(command, args.seconds, args.warmup)
        print(f"{label:<28} {rss:>8.1f} {peak:>8.1f} {cpu:>8.2f}")
    print("targets for upsight: RSS <= 30 MB, CPU <= 2 s per hour")


if __name__ == "__main__":
    main()
