"""Upsight beside NUT, watching one emulated Megatec/Q1 UPS at the same time.

One emulated unit is served on a pty pair per reader (tests/peers/pty.py), and
watched at once by:

* NUT as a user sets it up: nutdrv_qx (default pollinterval 2 s, protocol
  autodetected), upsd, and a primary upsmon with upsmon.conf's stock timings
  (POLLFREQ 5, POLLFREQALERT 5, HOSTSYNC 15, DEADTIME 15, FINALDELAY 5);
* NUT at its fastest sensible settings: pollinterval 1, protocol megatec,
  POLLFREQ 1, POLLFREQALERT 1, HOSTSYNC 1, DEADTIME 3, FINALDELAY 0;
* Upsight: ``upsight run --dry-run --device megatec:PORT`` with default settings
  (protection acts at once on OB LB), followed through its local API.

Both upsmons run from private directories as an unprivileged user; NOTIFYCMD
and SHUTDOWNCMD only append a timestamp to a file. Upsight runs with
UPSIGHT_POWER_ACTIONS=off, so nothing can power anything off.

Figures: detection (mains lost -> ONBATT notice), protection (LB on battery ->
shutdown command captured), footprint of each whole stack idle on mains, the
wall time of a status query, and benchmarks.nut_server_bench's NUT server
figures. Targets: detection and protection median <= 0.5x NUT default.
Run: python -m benchmarks.compare_nut [--outages 20] [--markdown] [--quick] [--only detection]
Needs NUT (nut-server, nut-client) and socat, and root (the NUT drivers run as root).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from benchmarks import nut_server_bench
from benchmarks.compare import measure
from benchmarks.compare.report import Row, markdown, plain
from benchmarks.compare.stacks import NutStack, Stack, UpsightStack, nut_default, nut_fastest
from benchmarks.compare.twin import TwinUps
from benchmarks.support import scratch_dir

PARTS: Final = ("footprint", "status", "detection", "protection", "network")
# (full, --quick) value of each sizing option.
SIZES: Final = {
    "outages": (20, 3),
    "rounds": (20, 3),
    "footprint_s": (120.0, 20.0),
    "status_runs": (20, 5),
    "requests": (60000, 5000),
    "net_rounds": (3, 1),
}
TARGET_RATIO: Final = 0.5
WARMUP_S: Final = 5.0
MODULE: Final = "python -m benchmarks.compare_nut"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outages", type=int, help="outages for detection (default 20)")
    parser.add_argument("--rounds", type=int, help="low-battery rounds (default 20)")
    parser.add_argument("--footprint-s", type=float, help="idle window (default 120)")
    parser.add_argument("--status-runs", type=int, help="runs of each status query (default 20)")
    parser.add_argument("--requests", type=int, help="NUT server requests per round (60000)")
    parser.add_argument("--net-rounds", type=int, help="NUT server rounds (default 3)")
    parser.add_argument("--only", action="append", choices=PARTS, help="measure only this")
    parser.add_argument("--quick", action="store_true", help="a few trials of each, 20 s idle")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.only = args.only or list(PARTS)
    return args


def _upsight_cli() -> list[str]:
    found = shutil.which("upsight")
    return [found] if found else [sys.executable, "-m", "upsight.agent.cli"]


def latency_rows(
    name: str, samples: dict[str, measure.Samples], command: str
) -> tuple[list[Row], str]:
    """Median and p95 rows for one latency, and a line with the trial counts."""
    ups, default, fastest = (samples[k] for k in ("Upsight", "NUT default", "NUT fastest"))
    rows = [
        Row(f"{name} median", "s", ups.median_s, default.median_s, fastest.median_s, command,
            TARGET_RATIO, ups.missed),
        Row(f"{name} p95", "s", ups.p95_s, default.p95_s, fastest.p95_s, command, TARGET_RATIO,
            ups.missed),
    ]  # fmt: skip
    counts = ", ".join(
        f"{label} n={len(s.values_s)} missed={s.missed} max={max(s.values_s, default=0):.2f} s"
        for label, s in samples.items()
    )
    return rows, f"{name}: {counts}"


def run_stacks(args: argparse.Namespace, root: Path) -> tuple[list[Row], list[str]]:
    """Every measurement that needs the three stacks on the twin unit."""
    rows: list[Row] = []
    notes: list[str] = []
    twin = TwinUps(root / "tty")
    stacks: list[Stack] = []
    try:
        upsight = UpsightStack(root / "upsight", twin.serve("upsight"))
        stacks.append(upsight)
        default = nut_default(root / "nut-default", twin.serve("default"))
        stacks.append(default)
        fastest = nut_fastest(root / "nut-fastest", twin.serve("fastest"))
        stacks.append(fastest)
        notes += [f"{stack.label}: {stack.command}" for stack in stacks]
        time.sleep(WARMUP_S)
        if "footprint" in args.only:
            rows += footprint_rows(args, stacks, notes)
        if "status" in args.only:
            rows += status_rows(args, twin, upsight, default)
        if "detection" in args.only:
            samples = measure.detection(twin, stacks, args.outages)
            found, note = latency_rows(
                "Detection (mains lost -> ONBATT)",
                samples,
                f"{MODULE} --only detection --outages {args.outages}",
            )
            rows += found
            notes.append(note)
        if "protection" in args.only:
            samples = measure.protection(twin, stacks, args.rounds)
            found, note = latency_rows(
                "Protection (LB -> shutdown command)",
                samples,
                f"{MODULE} --only protection --rounds {args.rounds}",
            )
            rows += found
            notes.append(note)
    finally:
        for stack in stacks:
            stack.stop()
        twin.stop()
    return rows, notes


def footprint_rows(args: argparse.Namespace, stacks: list[Stack], notes: list[str]) -> list[Row]:
    prints = measure.footprint(stacks, args.footprint_s)
    ups, default, fastest = (prints[k] for k in ("Upsight", "NUT default", "NUT fastest"))
    command = f"{MODULE} --only footprint --footprint-s {args.footprint_s:g}"
    notes.extend(
        f"footprint {label}: {p.processes} processes, RSS {p.rss_mb:.1f} MB, "
        f"PSS {p.pss_mb:.1f} MB, CPU {p.cpu_s_per_h:.2f} s/h "
        f"(clock ticks: {p.tick_cpu_s_per_h:.1f} s/h)"
        for label, p in prints.items()
    )
    return [
        Row("Footprint RSS (sum)", "MB", ups.rss_mb, default.rss_mb, fastest.rss_mb, command),
        Row("Footprint PSS (sum)", "MB", ups.pss_mb, default.pss_mb, fastest.pss_mb, command),
        Row("CPU while monitoring", "s/h", ups.cpu_s_per_h, default.cpu_s_per_h,
            fastest.cpu_s_per_h, command),
    ]  # fmt: skip


def status_rows(
    args: argparse.Namespace, twin: TwinUps, upsight: UpsightStack, default: NutStack
) -> list[Row]:
    cli = _upsight_cli()
    commands = {
        "upsight status": [*cli, "status"],
        "upsight status --device": [*cli, "status", "--device", f"megatec:{twin.serve('direct')}"],
        "upsc": ["upsc", default.target],
    }
    times = measure.wall_times(commands, upsight.env, args.status_runs)
    upsc = times["upsc"].median_s
    command = f"{MODULE} --only status --status-runs {args.status_runs}"
    return [
        Row(f"`upsight status` (agent) vs `upsc {default.target}`", "s",
            times["upsight status"].median_s, upsc, upsc, command),
        Row("`upsight status --device megatec:PORT` (direct) vs `upsc`", "s",
            times["upsight status --device"].median_s, upsc, upsc, command),
    ]  # fmt: skip


def network_rows(args: argparse.Namespace) -> list[Row]:
    clients = [1, 50]
    report = nut_server_bench.run(args.requests, args.net_rounds, clients)
    command = (
        f"python -m benchmarks.nut_server_bench --requests {args.requests} "
        f"--rounds {args.net_rounds} --clients 1 50 --load {report.load}"
    )
    rows = []
    for count, by_server in report.results.items():
        ours, upsd = by_server["upsight"], by_server["upsd"]
        rows += [
            Row(f"NUT server req/s, {count} clients", "/s", ours.requests_per_s,
                upsd.requests_per_s, upsd.requests_per_s, command),
            Row(f"NUT server p99, {count} clients", "ms", ours.p99_ms, upsd.p99_ms,
                upsd.p99_ms, command),
        ]  # fmt: skip
    memory = report.memory_mb
    rows.append(
        Row("NUT server RSS", "MB", memory["upsight"], memory["upsd"], memory["upsd"], command)
    )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # The agent's own log goes to its file; here only the figures matter.
    logging.basicConfig(level=logging.ERROR)
    root = scratch_dir()
    rows: list[Row] = []
    notes: list[str] = []
    if set(args.only) - {"network"}:
        rows, notes = run_stacks(args, root)
    if "network" in args.only:
        rows += network_rows(args)
    print("\n".join(notes), end="\n\n")
    print(markdown(rows) if args.markdown else plain(rows))
    print(f"\nscratch directory with every log: {root}")


if __name__ == "__main__":
    main()
