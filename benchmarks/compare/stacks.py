"""The three stacks watching the twin UPS: NUT as shipped, NUT tuned for speed, and Upsight.

Each stack reports the wall times at which the user would learn of a change:
NUT through upsmon's NOTIFYCMD and SHUTDOWNCMD stamps, Upsight through the
events its local API pushes (what ``upsight`` clients follow), stamped as they
arrive here.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Protocol

import psutil

from benchmarks.support import isolated_env
from tests.peers.nut_serial import FAST_TIMING, STOCK_TIMING, NutSerialStack
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import ApiError
from upsight.agent.protection.executors import POWER_ACTIONS_ENV

# Protection as set for the comparison: shut down at once on OB LB, as upsmon does.
UPSIGHT_CONFIG: Final = 'version = 1\n\n[protection]\naction = "shutdown"\non_low_battery = true\n'
SHUTDOWN: Final = "SHUTDOWN_EXECUTING"


class Stack(Protocol):
    """What the measurements need from a monitoring stack."""

    label: str
    command: str  # how a user starts it, for the report

    def stamps(self, kind: str) -> list[float]:
        """Wall times of each ``kind`` notice (ONBATT, ONLINE, SHUTDOWN_EXECUTING)."""
        ...

    def processes(self) -> list[psutil.Process]: ...

    def rearm(self, since: float) -> None:
        """Make ready for the next round after a shutdown, mains back since ``since`` (wall)."""
        ...

    def stop(self) -> None: ...


class NutStack:
    """nutdrv_qx + upsd + a primary upsmon with the given timings."""

    def __init__(
        self, label: str, root: Path, port: Path, timing: Mapping[str, str], options: dict[str, str]
    ) -> None:
        self.label = label
        self.nut = NutSerialStack(root, port, timing, options).start()
        settings = ", ".join(f"{k} {v}" for k, v in {**options, **timing}.items())
        self.command = f"nutdrv_qx + upsd + upsmon primary ({settings})"

    @property
    def target(self) -> str:
        return self.nut.target

    def stamps(self, kind: str) -> list[float]:
        upsmon = self.nut.upsmon
        if upsmon is None:
            return []
        return upsmon.shutdown_stamps() if kind == SHUTDOWN else upsmon.stamps(kind)

    def processes(self) -> list[psutil.Process]:
        return self.nut.processes()

    def rearm(self, since: float) -> None:
        self.nut.restart_after_shutdown()

    def stop(self) -> None:
        self.nut.stop()


def nut_default(root: Path, port: Path) -> NutStack:
    """NUT as a user sets it up: the port named, everything else as shipped."""
    return NutStack("NUT default", root, port, STOCK_TIMING, {"pollinterval": "2"})


def nut_fastest(root: Path, port: Path) -> NutStack:
    """NUT at its fastest sensible settings."""
    options = {"protocol": "megatec", "pollinterval": "1"}
    return NutStack("NUT fastest", root, port, FAST_TIMING, options)


class UpsightStack:
    """``upsight run --dry-run --device megatec:PORT`` in its own directories."""

    label = "Upsight"

    def __init__(self, root: Path, port: Path, timeout_s: float = 30.0) -> None:
        self.env = isolated_env(root)
        self.env[POWER_ACTIONS_ENV] = "off"
        (root / "config" / "config.toml").write_text(UPSIGHT_CONFIG)
        self.spec = f"megatec:{port}"
        args = ["run", "--dry-run", "--device", self.spec]
        self.command = "upsight " + " ".join(args)
        self._log = (root / "upsight.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "upsight.agent.cli", *args],
            env=self.env,
            stdout=self._log,
            stderr=self._log,
        )
        self.socket = Path(self.env["UPSIGHT_RUNTIME_DIR"]) / "agent.sock"
        self._events: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._client = self._wait_ready(timeout_s)
        self._pushes = self._client.subscribe()
        self._thread = threading.Thread(target=self._follow, name="upsight-events", daemon=True)
        self._thread.start()

    def _wait_ready(self, timeout_s: float) -> ApiClient:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ApiClient.is_running(self.socket):
                client = ApiClient(self.socket)
                try:
                    devices = client.call("status")["devices"]
                except ApiError:
                    devices = []
                if devices and devices[0]["reading"] is not None:
                    return client
                client.close()
            time.sleep(0.2)
        raise TimeoutError(f"upsight gave no reading; see {self._log.name}")

    def _follow(self) -> None:
        for kind, data in self._pushes:
            if kind == "event":
                with self._lock:
                    self._events.append((time.time(), str(data["kind"])))

    def stamps(self, kind: str) -> list[float]:
        with self._lock:
            return [at for at, seen in self._events if seen == kind]

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(self.process.pid)]

    def rearm(self, since: float, timeout_s: float = 30.0) -> None:
        """Wait for ONLINE: protection watches again once mains is back."""
        deadline = time.monotonic() + timeout_s
        while not any(at >= since for at in self.stamps("ONLINE")):
            if time.monotonic() > deadline:
                raise TimeoutError("upsight did not report ONLINE after mains returned")
            time.sleep(0.05)

    def stop(self) -> None:
        self._client.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._thread.join(5)
        self._log.close()
