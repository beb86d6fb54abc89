"""Run ``upsight`` with a private view of /etc and, optionally, without root's file access.

The agent reads admin policy from /etc/upsight/policies and offers no way to read it
elsewhere: a switch a user could flip would let them escape managed policy. Tests
instead give the process its own mount namespace in which an overlay lays a temporary
directory over /etc, so the agent finds the test's policy files at their real paths and
the machine's /etc is never written. Root ignores file permissions; dropping
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH makes "Permission denied" real for files the
test made unreadable.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.faults.kill_helpers import REPO, app_paths, waiting
from upsight.agent.api.client import ApiClient

POLICIES = Path("etc") / "upsight" / "policies"
"""Where policy files go under :attr:`Sandbox.root`, as /etc/upsight/policies is to ``/``."""

# Mounts the overlay given as $1 on /etc, then becomes the rest of the command line.
_MOUNT_ETC = 'mount -t overlay overlay -o "$1" /etc && shift && exec "$@"'
_NO_FILE_ACCESS = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")


@dataclass(frozen=True)
class Sandbox:
    """How to start a process: its own /etc overlay, and whether it may bypass permissions.

    Attributes:
        root: A scratch directory; files under ``root/etc`` appear under /etc.
        no_file_access: Drop the capabilities that let root read any file.
    """

    root: Path
    no_file_access: bool = False

    def policy_file(self, level: str, name: str = "10-corp.json") -> Path:
        """Where to write a policy file of ``level`` (managed, recommended) for the agent."""
        path = self.root / POLICIES / level / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped so that it runs inside this sandbox."""
        upper, work = self.root / "etc", self.root / "etc-work"
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(exist_ok=True)
        options = f"lowerdir=/etc,upperdir={upper},workdir={work}"
        drop = _NO_FILE_ACCESS if self.no_file_access else ()
        return [
            *("unshare", "--mount", "--propagation", "private"),
            *("sh", "-c", _MOUNT_ETC, "sandbox", options, *drop, *argv),
        ]

    def upsight(self, args: Sequence[str]) -> list[str]:
        """``upsight <args>`` inside this sandbox."""
        return self.command([sys.executable, "-m", "tests.faults.kill_helpers", "--", *args])


class SandboxedAgent:
    """One ``upsight run`` inside a :class:`Sandbox`, its stderr written to ``log``."""

    def __init__(
        self, sandbox: Sandbox, env: dict[str, str], log: Path, args: Sequence[str]
    ) -> None:
        self.sandbox = sandbox
        self.env = env
        self.log = log
        self.paths = app_paths(env)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                sandbox.upsight(args),
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def wait_for_api(self, timeout_s: float = 20.0) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the agent exited\n{self.log_text()}")
            return ApiClient.is_running(self.paths.api_socket)

        waiting(up, "the agent's API", timeout_s, self.log)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``upsight <args>`` in the same sandbox and environment, output captured."""
        return subprocess.run(
            self.sandbox.upsight(args),
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def stop(self) -> int:
        """SIGTERM to the whole sandbox; ``sh`` has exec'd, so this reaches the agent."""
        self.process.terminate()
        return self.process.wait(20)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
