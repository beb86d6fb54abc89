"""NUT watching a serial UPS as a user sets it up: nutdrv_qx, upsd and a primary upsmon.

Everything runs from a private directory (tests/peers/nut.py for the driver and
upsd, tests/peers/upsmon.py for upsmon) with the poll and shutdown timings the
caller picks. upsmon is the primary, as on a computer the UPS is cabled to: on
OB LB it sets FSD in upsd, waits FINALDELAY and runs SHUTDOWNCMD, which here
only appends a timestamp to a file. Notifications are timestamped the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import psutil

from tests.peers.nut import USERS, NutServer
from tests.peers.upsmon import UPSMON, Upsmon

PRIMARY_USER: Final = "monprimary"
PRIMARY_PASSWORD: Final = "primarypass"
PRIMARY: Final = f"\n[{PRIMARY_USER}]\n    password = {PRIMARY_PASSWORD}\n    upsmon primary\n"
# upsmon's timings as shipped (upsmon.conf's documented defaults).
STOCK_TIMING: Final = {
    "POLLFREQ": "5",
    "POLLFREQALERT": "5",
    "HOSTSYNC": "15",
    "DEADTIME": "15",
    "FINALDELAY": "5",
}
FAST_TIMING: Final = {
    "POLLFREQ": "1",
    "POLLFREQALERT": "1",
    "HOSTSYNC": "1",
    "DEADTIME": "3",
    "FINALDELAY": "0",
}
STAMP: Final = '#!/bin/sh\necho "$(date +%s.%N)" >> {log}\n'


class TunedUpsmon(Upsmon):
    """An ``Upsmon`` with the given timings and a SHUTDOWNCMD that records when it ran."""

    def __init__(self, target: str, timing: Mapping[str, str], role: str = "primary") -> None:
        super().__init__(target, PRIMARY_USER, PRIMARY_PASSWORD, role)
        script = self.root / "shutdown.sh"
        script.write_text(STAMP.format(log=self.shutdown_flag))
        script.chmod(0o755)
        os.chown(script, self._uid, self._gid)
        conf = self.root / "upsmon.conf"
        overridden = {*timing, "SHUTDOWNCMD"}
        kept = [line for line in conf.read_text().splitlines() if line.split()[0] not in overridden]
        lines = [*kept, f'SHUTDOWNCMD "{script}"', *(f"{k} {v}" for k, v in timing.items())]
        conf.write_text("\n".join(lines) + "\n")

    def stamps(self, kind: str) -> list[float]:
        """Wall times of every ``kind`` notification (ONBATT, ONLINE ...), oldest first."""
        if not self.notify_log.exists():
            return []
        rows = (line.split() for line in self.notify_log.read_text().splitlines())
        return [float(row[0]) for row in rows if len(row) > 1 and row[1] == kind]

    def shutdown_stamps(self) -> list[float]:
        """Wall times at which SHUTDOWNCMD ran."""
        if not self.shutdown_flag.exists():
            return []
        return [float(line) for line in self.shutdown_flag.read_text().split()]

    def processes(self) -> list[psutil.Process]:
        """upsmon's privileged parent and monitoring child."""
        found = []
        for proc in psutil.process_iter(["exe"]):
            try:
                # /lib is a link to /usr/lib on Debian 12; the kernel reports the real path.
                if proc.info["exe"] == str(UPSMON.resolve()) and proc.environ().get(
                    "NUT_CONFPATH"
                ) == str(self.root):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found


class NutSerialStack:
    """nutdrv_qx on ``port`` behind upsd, watched by a primary upsmon with ``timing``.

    ``options`` are the driver's ups.conf settings (e.g. ``pollinterval``).
    """

    def __init__(
        self,
        root: Path,
        port: Path,
        timing: Mapping[str, str],
        options: Mapping[str, str] | None = None,
        name: str = "ups",
    ) -> None:
        self.server = NutServer(root, name=name, driver="nutdrv_qx", device=port, options=options)
        (self.server.conf / "upsd.users").write_text(USERS + PRIMARY)
        self.timing = dict(timing)
        self.target = f"{name}@127.0.0.1:{self.server.port}"
        self.upsmon: TunedUpsmon | None = None

    def start(self, timeout_s: float = 30.0) -> NutSerialStack:
        self.server.start(timeout_s)
        self.start_upsmon()
        return self

    def start_upsmon(self, timeout_s: float = 10.0) -> TunedUpsmon:
        """A fresh upsmon, logged in to upsd."""
        upsmon = self.upsmon = TunedUpsmon(self.target, self.timing)
        upsmon.start()
        if not upsmon.wait_for("Logged into UPS", timeout_s):
            raise TimeoutError(f"upsmon did not log in:\n{upsmon.log()}")
        return upsmon

    def restart_after_shutdown(self, status: str = "OL", timeout_s: float = 30.0) -> TunedUpsmon:
        """Clear upsd's sticky FSD (only an upsd restart does) and start a new upsmon.

        The new upsmon starts once upsd reports ``status``, so it begins from that state.
        """
        self.stop_upsmon()
        self.server.stop_upsd()
        self.server.start_upsd()
        if not self.wait_status(status, timeout_s):
            raise TimeoutError(f"upsd did not report {status}; logs in {self.server.root}")
        return self.start_upsmon()

    def stop_upsmon(self) -> None:
        if self.upsmon is not None:
            self.upsmon.stop()
            self.upsmon = None

    def processes(self) -> list[psutil.Process]:
        """Every process of the stack: driver, upsd and upsmon's two."""
        pids = [p.pid for p in (self.server.driver, self.server.upsd) if p is not None]
        own = [psutil.Process(pid) for pid in pids]
        return own + (self.upsmon.processes() if self.upsmon else [])

    def wait_status(self, status: str, timeout_s: float) -> bool:
        """Wait until upsd reports ``status`` (e.g. "OL"); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.server.status() != status:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self) -> None:
        self.stop_upsmon()
        self.server.stop()
