"""``upsight run`` as a service manager runs it: readiness, watchdog, clean stop on signals."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

UPSIGHT = Path(sys.executable).with_name("upsight")


def receive_until(sock: socket.socket, wanted: bytes, timeout_s: float) -> list[bytes]:
    """Datagrams received until one contains ``wanted``."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while not any(wanted in g for g in got):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096))
        except TimeoutError:
            raise AssertionError(f"no {wanted!r} within {timeout_s} s; got {got}") from None
    return got


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_agent_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    notify = tmp_path / "notify.sock"
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"UPSIGHT_{name}_DIR"] = str(tmp_path / name.lower())
    # Half a second of watchdog: pings every 0.25 s, so one arrives during the test.
    env |= {"NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "500000"}
    env.pop("WATCHDOG_PID", None)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        proc = subprocess.Popen(
            [str(UPSIGHT), "run", "--device", "sim://normal"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ready = receive_until(sock, b"READY=1", 30)
            assert ready[-1] == b"READY=1\nSTATUS=monitoring sim://normal"
            receive_until(sock, b"WATCHDOG=1", 10)
            api_socket = tmp_path / "runtime" / "agent.sock"
            assert api_socket.exists()
            proc.send_signal(signum)
            stopping = receive_until(sock, b"STOPPING=1", 10)
            assert stopping[-1] == b"STOPPING=1\nSTATUS=stopping"
            code = proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert "stopped" in stderr
    assert not api_socket.exists()
    with sqlite3.connect(tmp_path / "data" / "history.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # Readings are flushed every 10 s; stopping writes those still buffered.
        assert db.execute("SELECT count(*) FROM raw").fetchone()[0] > 0
