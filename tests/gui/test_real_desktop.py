"""The real app on a real X desktop: its tray icon is embedded, and a power cut is notified.

Runs ``upsight`` as a subprocess against Xvfb, a private session bus, trayer (an XEmbed
tray) and dunst (tests/peers/desktop.py); the simulator, at ten times speed, cuts the power
about a second after it starts. scripts/desktop-test-deps.sh installs the programs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.peers.desktop import Desktop, DesktopError, Notification, wait_for

# The outage scenario cuts the power at 10 simulated seconds: one real second at this speed.
SPEC: Final = "sim://outage?speed=10"
WAIT_S: Final = 30.0
POWER_LOST: Final = "Power lost: on battery"


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    # Short and under /tmp: the bus socket path must fit in about 100 bytes.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-desktop-"))
    try:
        with Desktop(root) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)


class App:
    """The ``upsight`` command running on the desktop, and what it logged."""

    def __init__(self, desktop: Desktop) -> None:
        command = Path(sys.executable).with_name("upsight")
        assert command.exists(), f"{command} is missing: pip install -e . makes it"
        root = desktop.root
        env = desktop.env()
        env.update(
            UPSIGHT_CONFIG_DIR=str(root / "app-config"),
            UPSIGHT_DATA_DIR=str(root / "app-data"),
            UPSIGHT_RUNTIME_DIR=str(root / "app-run"),
            # The simulated battery runs low: protection must only say what it would do.
            UPSIGHT_POWER_ACTIONS="off",
            UPSIGHT_LANG="en_US",
            QT_QPA_PLATFORM="xcb",
        )
        self.log_path = root / "app.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(command), "--device", SPEC, "--minimized", "--verbose"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def app(desktop: Desktop) -> Iterator[App]:
    running = App(desktop)
    yield running
    running.stop()


def explain(what: str, desktop: Desktop, app: App) -> str:
    return (
        f"{what}\n--- upsight ---\n{app.log()}\n--- trayer ---\n{desktop.log('trayer')}"
        f"\n--- dunst ---\n{desktop.log('dunst')}"
    )


def test_the_tray_icon_shows_and_a_power_cut_is_notified(desktop: Desktop, app: App) -> None:
    def embedded() -> bool | None:
        if app.process.poll() is not None:
            raise DesktopError(f"upsight ended with status {app.process.returncode}")
        return True if app.process.pid in desktop.tray_pids() else None

    def power_lost() -> Notification | None:
        return next((n for n in desktop.notifications() if n.summary == POWER_LOST), None)

    try:
        wait_for(embedded, WAIT_S, "the app's tray icon in trayer's panel")
        shown = wait_for(power_lost, WAIT_S, f"a {POWER_LOST!r} notification from dunst")
    except DesktopError as exc:
        pytest.fail(explain(str(exc), desktop, app))
    assert shown.app == "Upsight"
    assert shown.body.startswith("On battery: "), explain(shown.body, desktop, app)
    assert "Simulated UPS" in shown.body
    assert app.process.poll() is None, explain("upsight ended", desktop, app)
