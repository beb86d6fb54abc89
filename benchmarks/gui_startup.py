"""Desktop app: cold start to the first painted window, and memory after running a while.

Each run starts a fresh interpreter showing the simulator (offscreen unless
--onscreen) and times process start to the main window's first paint; the
target is 1.5 s. A last run is left up for --minutes and its RSS is read.
Run: python -m benchmarks.gui_startup [--runs 5] [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import psutil

from benchmarks.support import isolated_env, percentile, scratch_dir

TARGET_S = 1.5


def child() -> int:
    """Bring the app up on the simulator; print when it first paints and first shows a reading."""
    from PySide6.QtCore import QEvent, QObject, Slot
    from PySide6.QtWidgets import QApplication

    from upsight.agent.monitor import DeviceState
    from upsight.gui import app as desktop

    class FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and not self.seen:
                self.seen = True
                print(f"painted {time.monotonic()}", flush=True)
            return False

    class FirstReading(QObject):
        @Slot(object)
        def on_state_changed(self, state: DeviceState) -> None:
            if state.reading is not None:
                print(f"reading {time.monotonic()}", flush=True)
                running.bridge.state_changed.disconnect(self.on_state_changed)

    qt_app = QApplication(sys.argv[:1])
    qt_app.setQuitOnLastWindowClosed(False)
    running = desktop.start(["--device", "sim://normal"], ask=lambda: True)
    watcher = FirstPaint()
    running.window.installEventFilter(watcher)
    reading = FirstReading()
    running.bridge.state_changed.connect(reading.on_state_changed)
    return qt_app.exec()


def launch(onscreen: bool) -> tuple[subprocess.Popen[str], float, float]:
    """Start a child app; return it and the seconds from launch to first paint and reading."""
    env = isolated_env(scratch_dir())
    if not onscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    # The simulator never triggers protection, but a benchmark must not even try.
    env["UPSIGHT_POWER_ACTIONS"] = "off"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.gui_startup", "--child"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    seen: dict[str, float] = {}
    for line in proc.stdout:
        what, _, when = line.partition(" ")
        seen[what] = float(when) - started
        if {"painted", "reading"} <= seen.keys():
            return proc, seen["painted"], seen["reading"]
    proc.wait(10)
    raise RuntimeError(f"the app exited ({proc.returncode}) before showing a reading")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="cold starts to time")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the RSS run lasts")
    parser.add_argument("--onscreen", action="store_true", help="use the real display")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.exit(child())
    painted: list[float] = []
    readings: list[float] = []
    for _ in range(args.runs):
        proc, paint_s, reading_s = launch(args.onscreen)
        stop(proc)
        painted.append(paint_s)
        readings.append(reading_s)
    print(f"cold start over {args.runs} runs (first paint target {TARGET_S} s):")
    for label, samples in (("first paint", painted), ("first reading shown", readings)):
        print(
            f"  {label:<20} median {percentile(samples, 0.5):.3f} s, "
            f"best {min(samples):.3f} s, worst {max(samples):.3f} s"
        )
    proc, _, _ = launch(args.onscreen)
    try:
        handle = psutil.Process(proc.pid)
        early_mb = handle.memory_info().rss / 2**20
        time.sleep(args.minutes * 60)
        late_mb = handle.memory_info().rss / 2**20
    finally:
        stop(proc)
    print(
        f"RSS after first paint {early_mb:.1f} MB; after {args.minutes:g} min {late_mb:.1f} MB "
        f"(pid {proc.pid}, {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
