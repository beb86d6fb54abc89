"""An isolated ``upsight run`` subprocess for the kill and disk-full campaigns, and its probes.

Run as a program it is ``upsight`` itself, with one knob no user needs::

    python -m tests.faults.kill_helpers [--ignore-sigxfsz] -- run ...

``--ignore-sigxfsz`` lets a file-size limit act like a full disk instead of killing: a
write past RLIMIT_FSIZE raises SIGXFSZ, whose default action ends the process, and a
full disk never does that, so the product rightly keeps the default. Campaigns that want
many history writes within seconds set the real ``history.flush_s`` setting instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from tests.keyrings import DIR_ENV
from upsight.agent.api.client import ApiClient
from upsight.agent.paths import AppPaths

REPO = Path(__file__).resolve().parents[2]


def agent_env(root: Path) -> dict[str, str]:
    """Environment for agents and CLIs whose every directory lies under ``root``.

    The keychain double keeps its items in ``root/keyring``, shared by this process
    (set ``DIR_ENV`` to the same value here) and every child.
    """
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"UPSIGHT_{name}_DIR"] = str(root / name.lower())
    keyring_dir = root / "keyring"
    keyring_dir.mkdir(parents=True, exist_ok=True)
    env[DIR_ENV] = str(keyring_dir)
    env["PYTHON_KEYRING_BACKEND"] = "tests.keyrings.DirectoryKeyring"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def app_paths(env: dict[str, str]) -> AppPaths:
    return AppPaths(
        Path(env["UPSIGHT_CONFIG_DIR"]),
        Path(env["UPSIGHT_DATA_DIR"]),
        Path(env["UPSIGHT_RUNTIME_DIR"]),
    )


def write_config(env: dict[str, str], text: str) -> None:
    config_dir = Path(env["UPSIGHT_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.toml").write_text("version = 1\n" + text, encoding="utf-8")


def waiting(condition: Callable[[], bool], what: str, timeout_s: float, log: Path) -> None:
    """Poll ``condition`` until it holds; fail with the agent's log after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}\n{log.read_text(errors='replace')}")
        time.sleep(0.02)


class AgentProcess:
    """One ``upsight run`` in a subprocess, its stderr appended to ``log``.

    Args:
        env: From :func:`agent_env`.
        log: Where the agent's log goes (through a pipe, so a file-size limit on the
            agent never stops its log).
        args: Arguments after ``upsight``, e.g. ``["run", "--device", "sim://normal"]``.
        fillable: Ignore SIGXFSZ in the agent, so that once :meth:`set_file_limit` lowers
            its RLIMIT_FSIZE a write past the limit fails with EFBIG, as on a full disk.
    """

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        args: Sequence[str],
        *,
        fillable: bool = False,
    ) -> None:
        self.env = env
        self.log = log
        self.paths = app_paths(env)
        command = [sys.executable, "-m", "tests.faults.kill_helpers"]
        if fillable:
            command.append("--ignore-sigxfsz")
        self.process = subprocess.Popen(
            [*command, "--", *args],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        self._copier = threading.Thread(
            target=_copy, args=(self.process.stderr, log), name="agent-log", daemon=True
        )
        self._copier.start()

    def set_file_limit(self, limit_bytes: int) -> None:
        """Change the running agent's file-size limit (RLIM_INFINITY: space is back)."""
        resource.prlimit(
            self.process.pid, resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY)
        )

    def client(self) -> ApiClient:
        return ApiClient(self.paths.api_socket)

    def wait_for_api(self, timeout_s: float = 20.0) -> None:
        waiting(
            lambda: self.alive() and ApiClient.is_running(self.paths.api_socket),
            "the agent's API",
            timeout_s,
            self.log,
        )

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"the agent exited with {self.process.returncode}\n"
                + self.log.read_text(errors="replace")
            )
        return True

    def kill(self) -> None:
        """SIGKILL: no handler, no flush, no cleanup."""
        self.process.kill()
        self.process.wait(10)
        self._copier.join(5)

    def stop(self) -> int:
        """SIGTERM, the way a service manager stops it; returns the exit code."""
        self.process.terminate()
        code = self.process.wait(20)
        self._copier.join(5)
        return code

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _copy(source: IO[bytes], log: Path) -> None:
    with log.open("ab") as out:
        for line in source:
            out.write(line)
            out.flush()


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of a database left by a killed process, read-only.

    Read-only, so this check cannot checkpoint or delete the WAL the product will find.
    """
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join(str(row[0]) for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def call(agent: AgentProcess, method: str, **params: Any) -> Any:
    with agent.client() as client:
        return client.call(method, **params)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kill_helpers")
    parser.add_argument("--ignore-sigxfsz", action="store_true")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if args.ignore_sigxfsz:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from upsight.agent.cli import main as upsight

    return upsight(rest)


if __name__ == "__main__":
    sys.exit(main())
