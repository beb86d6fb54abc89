"""A private NUT server for tests: upsd serving dummy-ups replaying a dump, or a serial driver.

Follows the verified recipe: private NUT_CONFPATH/NUT_STATEPATH, foreground
children run as root (-u root), the real binaries in /lib/nut (the /sbin
wrappers obey /etc/nut/nut.conf and do nothing), strictly increasing mtimes
for dump edits (dummy-ups checks them with one-second resolution).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

NUT_BIN = Path("/lib/nut")
USERS = """\
[admin]
    password = adminpass
    actions = SET FSD
    instcmds = ALL

[monuser]
    password = monpass
    upsmon secondary
"""


def nut_available() -> bool:
    """Whether NUT's server binaries are installed."""
    return (NUT_BIN / "upsd").exists() and (NUT_BIN / "dummy-ups").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class NutServer:
    """upsd plus one driver named ``name``: dummy-ups replaying ``dump_text`` by default.

    For a serial driver pass ``driver`` (e.g. ``"nutdrv_qx"``), the ``device``
    port and its ups.conf ``options``, and no dump.
    """

    def __init__(
        self,
        root: Path,
        dump_text: str | None = None,
        name: str = "myups",
        max_age_s: int = 15,
        *,
        driver: str = "dummy-ups",
        device: Path | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.name = name
        self.driver_name = driver
        self.port = free_port()
        self.conf = root / "etc"
        self.state = root / "state"
        self.conf.mkdir(parents=True)
        self.state.mkdir()
        self.dump = self.conf / f"{name}.dev"
        self._mtime = time.time() - 100
        if dump_text is not None:
            self.write_dump(dump_text)
        extra = "".join(f"    {key} = {value}\n" for key, value in (options or {}).items())
        (self.conf / "nut.conf").write_text("MODE=standalone\n")
        (self.conf / "ups.conf").write_text(
            f"maxretry = 3\npollinterval = 1\n\n[{name}]\n    driver = {driver}\n"
            f'    port = {device or self.dump}\n    desc = "test UPS"\n{extra}'
        )
        (self.conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.port}\nMAXAGE {max_age_s}\n")
        users = self.conf / "upsd.users"
        users.write_text(USERS)
        users.chmod(0o600)
        self.env = dict(
            os.environ,
            NUT_CONFPATH=str(self.conf),
            NUT_STATEPATH=str(self.state),
            NUT_ALTPIDPATH=str(self.state),
        )
        self.driver: subprocess.Popen[bytes] | None = None
        self.upsd: subprocess.Popen[bytes] | None = None

    def write_dump(self, text: str) -> None:
        """Replace the dump; every write gets a later mtime so dummy-ups never misses it."""
        self.dump.write_text(text)
        self._mtime += 1
        os.utime(self.dump, (self._mtime, self._mtime))

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{Path(args[0]).name}.log").open("ab")
        return subprocess.Popen(args, env=self.env, stdout=log, stderr=log)

    def start_driver(self) -> None:
        self.driver = self._spawn(
            str(NUT_BIN / self.driver_name), "-a", self.name, "-u", "root", "-F"
        )

    def start_upsd(self) -> None:
        self.upsd = self._spawn(str(NUT_BIN / "upsd"), "-u", "root", "-F")

    def start(self, timeout_s: float = 20.0) -> NutServer:
        self.start_driver()
        self.start_upsd()
        self.wait_ready(timeout_s)
        return self

    def status(self) -> str:
        """``ups.status`` as upsc prints it, or "" when upsd does not answer it."""
        result = subprocess.run(
            ["upsc", f"{self.name}@127.0.0.1:{self.port}", "ups.status"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    def variables(self) -> dict[str, str]:
        """Every variable as ``upsc`` lists it, or {} when upsd does not answer."""
        result = subprocess.run(
            ["upsc", f"{self.name}@127.0.0.1:{self.port}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            return {}
        pairs = (line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
        return {name: value for name, value in pairs}

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Wait until upsd serves real data (not WAIT) from the driver."""
        deadline = time.monotonic() + timeout_s
        while self.status() in ("", "WAIT"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"NUT did not become ready; logs in {self.root}")
            time.sleep(0.2)

    @staticmethod
    def _end(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_upsd(self) -> None:
        self._end(self.upsd)
        self.upsd = None

    def stop_driver(self) -> None:
        self._end(self.driver)
        self.driver = None

    def stop(self) -> None:
        self.stop_upsd()
        self.stop_driver()
        shutil.rmtree(self.root, ignore_errors=True)
