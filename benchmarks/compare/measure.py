"""The comparison's measurements: latency of notices, footprint and status query time."""

from __future__ import annotations

import contextlib
import random
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.compare.stacks import SHUTDOWN, Stack
from benchmarks.compare.twin import TwinUps
from benchmarks.support import percentile

NOTICE_TIMEOUT_S = 60.0
# Stamps come from the stacks themselves, so this only bounds how late we look.
LOOK_S = 0.05


@dataclass
class Samples:
    """Seconds per trial, and the trials in which nothing came within the timeout."""

    values_s: list[float] = field(default_factory=list)
    missed: int = 0

    @property
    def median_s(self) -> float:
        return statistics.median(self.values_s) if self.values_s else float("nan")

    @property
    def p95_s(self) -> float:
        return percentile(self.values_s, 0.95) if self.values_s else float("nan")


def wait_all(stacks: Sequence[Stack], kind: str, since: float) -> dict[str, float | None]:
    """Seconds from ``since`` (wall) to each stack's first ``kind`` notice; None if none came."""
    deadline = time.monotonic() + NOTICE_TIMEOUT_S
    found: dict[str, float] = {}
    while len(found) < len(stacks) and time.monotonic() < deadline:
        for stack in stacks:
            if stack.label not in found:
                at = next((t for t in stack.stamps(kind) if t >= since), None)
                if at is not None:
                    found[stack.label] = at - since
        time.sleep(LOOK_S)
    return {stack.label: found.get(stack.label) for stack in stacks}


def _add(samples: dict[str, Samples], seen: Mapping[str, float | None]) -> None:
    for label, latency in seen.items():
        if latency is None:
            samples[label].missed += 1
        else:
            samples[label].values_s.append(latency)


def _pause() -> None:
    # Changes land at any phase of every stack's poll cycle.
    time.sleep(random.uniform(0.0, 1.0))


def detection(twin: TwinUps, stacks: Sequence[Stack], outages: int) -> dict[str, Samples]:
    """Mains lost on the unit -> ONBATT notice, over ``outages`` outages.

    Each outage lasts until every stack has seen it, and mains stays back until
    every stack has seen ONLINE.
    """
    samples = {stack.label: Samples() for stack in stacks}
    for _ in range(outages):
        _pause()
        _add(samples, wait_all(stacks, "ONBATT", twin.change(mains=False)))
        _pause()
        wait_all(stacks, "ONLINE", twin.change(mains=True))
    return samples


def protection(twin: TwinUps, stacks: Sequence[Stack], rounds: int) -> dict[str, Samples]:
    """Low battery while on battery -> shutdown captured, over ``rounds`` rounds.

    Every stack has seen ONBATT before LB is set; after each round mains returns
    and each stack is made ready again (NUT: upsd restarted, a new upsmon).
    """
    samples = {stack.label: Samples() for stack in stacks}
    for _ in range(rounds):
        wait_all(stacks, "ONBATT", twin.change(mains=False))
        _pause()
        _add(samples, wait_all(stacks, SHUTDOWN, twin.change(low_battery=True)))
        back = twin.change(mains=True, low_battery=False)
        for stack in stacks:
            stack.rearm(back)
    return samples


@dataclass(frozen=True)
class Footprint:
    """A whole stack while it monitors: memory and CPU."""

    processes: int
    rss_mb: float  # summed over the stack's processes
    pss_mb: float  # proportional: pages shared between them counted once
    cpu_s_per_h: float  # from the scheduler, to the nanosecond
    tick_cpu_s_per_h: float  # from user + system clock ticks, as top and ps count


def _tick_cpu_s(procs: Sequence[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def _run_cpu_s(procs: Sequence[psutil.Process]) -> float:
    """CPU time to the nanosecond, from each thread's scheduler statistics.

    NUT's processes use well under a clock tick (10 ms) per poll, so the tick
    counts in /proc/PID/stat read 0 over minutes. Threads that end within the
    window are missed; the stacks' threads all live as long as the process.
    """
    total_ns = 0
    for proc in procs:
        for task in Path(f"/proc/{proc.pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                total_ns += int((task / "schedstat").read_text().split()[0])
    return total_ns / 1e9


def footprint(stacks: Sequence[Stack], window_s: float) -> dict[str, Footprint]:
    """Each stack's footprint over the same ``window_s`` window, the unit idle on mains."""
    procs = {stack.label: stack.processes() for stack in stacks}
    before = {label: (_run_cpu_s(group), _tick_cpu_s(group)) for label, group in procs.items()}
    started = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - started
    result = {}
    for label, group in procs.items():
        memory = [p.memory_full_info() for p in group]
        run_s, tick_s = _run_cpu_s(group) - before[label][0], _tick_cpu_s(group) - before[label][1]
        result[label] = Footprint(
            len(group),
            sum(m.rss for m in memory) / 2**20,
            sum(m.pss for m in memory) / 2**20,
            run_s / elapsed * 3600,
            tick_s / elapsed * 3600,
        )
    return result


def wall_times(
    commands: Mapping[str, Sequence[str]], env: Mapping[str, str], runs: int
) -> dict[str, Samples]:
    """Wall time of each command, run in turn ``runs`` times so load hits all alike."""
    samples = {label: Samples() for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            started = time.perf_counter()
            subprocess.run(
                command,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
            )
            samples[label].values_s.append(time.perf_counter() - started)
    return samples
