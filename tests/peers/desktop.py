"""A real X desktop for GUI tests: Xvfb, a private D-Bus session, a tray and a notification daemon.

``Desktop`` starts each program as its own process in a private directory and waits for
it, so a test can run the real app against it and ask the desktop what it showed:

* Xvfb picks a free display itself (``-displayfd``).
* dbus-daemon runs a session bus from a config with no service directories, so nothing
  is started on demand and the notification daemon on it is the one started here.
* trayer is an XEmbed system tray. With no StatusNotifierItem watcher on the bus, Qt's
  QSystemTrayIcon falls back to XEmbed, so the app's icon becomes a window of its process
  inside trayer's panel (``tray_pids``).
* dunst is the notification daemon; ``dunstctl history`` lists what it displayed
  (``notifications``).

scripts/desktop-test-deps.sh installs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, TypeVar

T = TypeVar("T")

TRAYER: Final = ("trayer", "--edge", "top", "--align", "right", "--widthtype", "request")
PROGRAMS: Final = ("Xvfb", "dbus-daemon", "trayer", "dunst", "dunstctl", "xwininfo", "xprop")
SCREEN: Final = "1280x800x24"
START_S: Final = 10.0
# What `xwininfo -tree` prints for trayer's panel: its id, name and ("instance" "class").
_PANEL: Final = re.compile(r'^\s*(0x[0-9a-f]+) "panel": \("panel" "trayer"\)', re.MULTILINE)
_WINDOW: Final = re.compile(r"^\s*(0x[0-9a-f]+) ", re.MULTILINE)
_PID: Final = re.compile(r"_NET_WM_PID\(CARDINAL\) = (\d+)")
_BUS_CONFIG: Final = """<busconfig>
  <type>session</type>
  <listen>unix:dir={root}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DesktopError(RuntimeError):
    """A desktop program is missing, did not start, or did not answer."""


@dataclass(frozen=True)
class Notification:
    """One notification dunst displayed."""

    app: str
    summary: str
    body: str


def missing_programs() -> list[str]:
    """The desktop programs this machine lacks (scripts/desktop-test-deps.sh installs them)."""
    return [name for name in PROGRAMS if shutil.which(name) is None]


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None.

    Raises:
        DesktopError: it did not within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise DesktopError(f"{what}: nothing after {timeout_s:g} s")
        time.sleep(0.1)


class Desktop:
    """A running X server, session bus, tray and notification daemon in ``root``.

    Use as a context manager; leaving it ends every program it started.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.display = ""
        self.bus_address = ""
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Desktop:
        missing = missing_programs()
        if missing:
            raise DesktopError(
                f"missing {', '.join(missing)}: run scripts/desktop-test-deps.sh (as root)"
            )
        try:
            self._start_x()
            self._start_bus()
            self._start("trayer", [*TRAYER])
            wait_for(self.panel, START_S, "trayer's panel window")
            self._start("dunst", ["dunst"])
            wait_for(self._dunst_answers, START_S, "dunst on the session bus")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """This process's environment, pointed at this desktop and nothing else."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE"}
        }
        env.update(
            DISPLAY=self.display,
            DBUS_SESSION_BUS_ADDRESS=self.bus_address,
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_RUNTIME_DIR=str(self.root),
        )
        return env

    def log(self, name: str) -> str:
        """What one of the desktop's programs wrote."""
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, *command: str) -> str:
        """Run a client (xwininfo, xprop, dunstctl) against this desktop; its output."""
        done = subprocess.run(
            command, env=self.env(), capture_output=True, text=True, timeout=START_S, check=False
        )
        if done.returncode != 0:
            raise DesktopError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def panel(self) -> str | None:
        """The window id of trayer's panel, once it is mapped."""
        found = _PANEL.search(self.run("xwininfo", "-root", "-tree"))
        return found.group(1) if found else None

    def tray_pids(self) -> set[int]:
        """The processes whose windows trayer embeds: one per tray icon."""
        panel = self.panel()
        if panel is None:
            return set()
        tree = self.run("xwininfo", "-tree", "-id", panel)
        # The first id is the panel itself; the rest are its descendants.
        pids = set()
        for window in _WINDOW.findall(tree)[1:]:
            with contextlib.suppress(DesktopError):
                found = _PID.search(self.run("xprop", "-id", window, "_NET_WM_PID"))
                if found:
                    pids.add(int(found.group(1)))
        return pids

    def notifications(self) -> list[Notification]:
        """Every notification dunst displayed, the newest first.

        Closes those on screen first: dunst keeps only closed ones in its history.
        """
        self.run("dunstctl", "close-all")
        shown = json.loads(self.run("dunstctl", "history"))
        return [
            Notification(item["appname"]["data"], item["summary"]["data"], item["body"]["data"])
            for group in shown["data"]
            for item in group
        ]

    def close(self) -> None:
        """End every program started here, the last started first."""
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self._processes):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def _start(
        self,
        name: str,
        command: list[str],
        *,
        pipe_stdout: bool = False,
        pass_fds: tuple[int, ...] = (),
    ) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else log,
                stderr=log,
                pass_fds=pass_fds,
            )
        self._processes.append((name, process))
        return process

    def _start_x(self) -> None:
        # Xvfb writes the display number it chose to this pipe once it accepts clients.
        read_end, write_end = os.pipe()
        try:
            self._start(
                "xvfb",
                ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                pass_fds=(write_end,),
            )
            os.close(write_end)
            write_end = -1
            with os.fdopen(read_end, "rb") as pipe:
                number = _read_line(pipe, START_S, "Xvfb's display number")
        finally:
            if write_end >= 0:
                os.close(write_end)
        self.display = f":{number}"

    def _start_bus(self) -> None:
        config = self.root / "session.conf"
        config.write_text(_BUS_CONFIG.format(root=self.root), encoding="utf-8")
        process = self._start(
            "dbus",
            ["dbus-daemon", "--config-file", str(config), "--nofork", "--print-address=1"],
            pipe_stdout=True,
        )
        assert process.stdout is not None
        self.bus_address = _read_line(process.stdout, START_S, "the session bus address")

    def _dunst_answers(self) -> bool | None:
        try:
            self.run("dunstctl", "is-paused")
        except DesktopError:
            return None
        return True


def _read_line(stream: IO[bytes], timeout_s: float, what: str) -> str:
    """The first line a starting program prints, without waiting past ``timeout_s``."""
    ready, _, _ = select.select([stream], [], [], timeout_s)
    line = stream.readline().decode().strip() if ready else ""
    if not line:
        raise DesktopError(f"{what}: nothing after {timeout_s:g} s")
    return line
