"""Wall time of `upsight status --device sim://normal` beside `python -c pass`.

Run: python -m benchmarks.status_time [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from benchmarks.support import isolated_env, scratch_dir


def wall_times(command: list[str], runs: int) -> list[float]:
    env = isolated_env(scratch_dir())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    upsight = shutil.which("upsight") or sys.exit("install upsight first (scripts/run.sh)")
    baseline = statistics.median(wall_times([sys.executable, "-c", "pass"], args.runs))
    status = statistics.median(
        wall_times([upsight, "status", "--device", "sim://normal"], args.runs)
    )
    print(f"python -c pass                       median {baseline * 1000:7.1f} ms")
    print(f"upsight status --device sim://normal median {status * 1000:7.1f} ms")
    print(f"ratio {status / baseline:.2f}x (target <= 4x)")


if __name__ == "__main__":
    main()
