"""NUT's upsmon for tests: a secondary (or primary) of a NUT server, with a harmless SHUTDOWNCMD.

Follows the verified recipe: a private NUT_CONFPATH, /lib/nut/upsmon run
directly in the foreground in its own process group (it forks a privileged
parent and a monitoring child, so the whole group is signalled), short poll and
sync times, and a SHUTDOWNCMD and POWERDOWNFLAG that only touch files in its
own scratch directory.

A root upsmon always writes /run/nut/upsmon.pid and refuses to start while
another runs, so tests run as root start it as ``nobody`` instead (the
recipe's parallel-safe form): it never touches /run/nut, and several can run
at once. The scratch directory is therefore created under /tmp for that user,
not in pytest's root-only tmp_path, and removed by stop().
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final

UPSMON: Final = Path("/lib/nut/upsmon")
UNPRIVILEGED: Final = "nobody"

CONF: Final = """\
RUN_AS_USER {user}
MONITOR {target} 1 {login} {password} {role}
MINSUPPLIES 1
SHUTDOWNCMD "/usr/bin/touch {flag}"
NOTIFYCMD {notify}
NOTIFYFLAG ONLINE SYSLOG+EXEC
NOTIFYFLAG ONBATT SYSLOG+EXEC
NOTIFYFLAG LOWBATT SYSLOG+EXEC
NOTIFYFLAG FSD SYSLOG+EXEC
NOTIFYFLAG COMMOK SYSLOG+EXEC
NOTIFYFLAG COMMBAD SYSLOG+EXEC
NOTIFYFLAG SHUTDOWN SYSLOG+EXEC
NOTIFYFLAG NOCOMM SYSLOG+EXEC
POWERDOWNFLAG {powerdown}
POLLFREQ 1
POLLFREQALERT 1
HOSTSYNC 1
DEADTIME 3
FINALDELAY 0
"""
NOTIFY: Final = '#!/bin/sh\necho "$(date +%s.%N) $NOTIFYTYPE $UPSNAME $*" >> {log}\n'


def upsmon_available() -> bool:
    return UPSMON.exists()


class Upsmon:
    """One upsmon watching ``target`` (``ups@127.0.0.1:PORT``) as ``login``.

    ``shutdown_flag`` appears when upsmon runs its SHUTDOWNCMD.
    """

    def __init__(self, target: str, login: str, password: str, role: str = "secondary") -> None:
        account = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self._uid, self._gid = account.pw_uid, account.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="upsight-upsmon-", dir="/tmp"))
        self.shutdown_flag = self.root / "shutdown-called"
        self.log_file = self.root / "upsmon.log"
        self.notify_log = self.root / "notify.log"
        notify = self.root / "notify.sh"
        notify.write_text(NOTIFY.format(log=self.notify_log))
        notify.chmod(0o755)
        conf = self.root / "upsmon.conf"
        conf.write_text(
            CONF.format(
                user=account.pw_name,
                target=target,
                login=login,
                password=password,
                role=role,
                flag=self.shutdown_flag,
                notify=notify,
                powerdown=self.root / "killpower",
            )
        )
        conf.chmod(0o600)
        (self.root / "nut.conf").write_text("MODE=netclient\n")
        for path in (self.root, *self.root.iterdir()):
            os.chown(path, self._uid, self._gid)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Upsmon:
        env = dict(os.environ, NUT_CONFPATH=str(self.root), NUT_STATEPATH=str(self.root))
        switch = os.geteuid() == 0
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(UPSMON), "-F", "-D"],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
                user=self._uid if switch else None,
                group=self._gid if switch else None,
                extra_groups=[] if switch else None,
            )
        return self

    def log(self) -> str:
        """upsmon's own log and the notifications it sent, for failure messages."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        if self.notify_log.exists():
            text += "\n--- notifications ---\n" + self.notify_log.read_text(errors="replace")
        return text

    def notifications(self) -> list[str]:
        """The NOTIFYTYPEs sent so far, in order."""
        if not self.notify_log.exists():
            return []
        return [line.split()[1] for line in self.notify_log.read_text().splitlines() if line]

    def wait_for(self, what: str, timeout_s: float) -> bool:
        """Wait until ``what`` appears in the log; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while what not in self.log():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def wait_for_shutdown(self, timeout_s: float) -> bool:
        """Wait until SHUTDOWNCMD has run; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not self.shutdown_flag.exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self) -> None:
        """Signal upsmon's whole process group, then remove its scratch directory."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
