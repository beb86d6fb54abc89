"""Run the fault campaign (tests/faults) and print its scoreboard as a Markdown table.

Run: python -m benchmarks.fault_campaign [--scale 5]
``--scale`` multiplies every fault's injections (CI runs the campaign at scale 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.support import scratch_dir
from tests.faults.campaign import Campaign
from tests.faults.conftest import REPORT_ENV, SCALE_ENV

ROOT = Path(__file__).resolve().parent.parent


def run_campaign(scale: int) -> tuple[Campaign, float, int]:
    """Run pytest over tests/faults; return the scoreboard, wall seconds and pytest's exit code."""
    report = scratch_dir() / "faults.json"
    env = dict(os.environ, **{REPORT_ENV: str(report), SCALE_ENV: str(scale)})
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        check=False,
    )
    elapsed = time.monotonic() - started
    campaign = Campaign()
    if report.exists():
        for row in json.loads(report.read_text()):
            campaign.record(
                row["fault"],
                injections=row["injections"],
                recovered=row["recovered"],
                data_lost=row["data_lost"],
                false_actions=row["false_actions"],
            )
    return campaign, elapsed, completed.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    campaign, elapsed, code = run_campaign(args.scale)
    tallies = campaign.tallies()
    print()
    print(f"fault campaign at scale {args.scale}: {len(tallies)} faults, {elapsed:.0f} s")
    print(campaign.table())
    injections = sum(t.injections for t in tallies)
    recovered = sum(t.recovered for t in tallies)
    lost = sum(t.data_lost for t in tallies)
    false = sum(t.false_actions for t in tallies)
    print(f"total: {injections} injections, {recovered} recovered, {lost} lost, {false} false")
    sys.exit(code)


if __name__ == "__main__":
    main()
