"""An Agent serving NUT clients for tests: a dump-file device, users, and a plain protocol client.

Everything is real: the agent polls a ``dummy:`` device and its NUT server
listens on a free loopback port. Dump rewrites are atomic (a new file renamed
over the old), so the driver never reads half a file.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from tests.peers.nut import free_port
from upsight.agent.config import Config
from upsight.agent.monitor import Link
from upsight.agent.nut_server.users import add_user
from upsight.agent.paths import AppPaths
from upsight.agent.protection.executors import CapturingExecutor
from upsight.agent.service import Agent

DUMP = """\
device.mfr: Test Power
device.model: Test UPS 1000
ups.mfr: Test Power
ups.model: Test UPS 1000
battery.charge: 100
battery.runtime: 1800
battery.voltage: 13.60
input.voltage: 230.0
ups.load: 15
ups.status: OL
#CMD:beeper.mute
#CMD:test.battery.start.quick
"""


@dataclass(frozen=True)
class Account:
    """A user of the test server and its rights."""

    name: str
    password: str
    upsmon: str | None = None
    actions: tuple[str, ...] = ()
    instcmds: tuple[str, ...] = ()


ADMIN: Final = Account("admin", "adminpass", actions=("SET", "FSD"), instcmds=("all",))
MONITOR: Final = Account("monuser", "monpass", upsmon="secondary")
VIEWER: Final = Account("viewer", "viewerpass")


def write_dump(path: Path, text: str) -> None:
    """Replace the dump atomically, so the driver sees the old file or the new one."""
    spare = path.with_name(path.name + ".new")
    spare.write_text(text)
    os.replace(spare, path)


def add_users(path: Path) -> None:
    for user in (ADMIN, MONITOR, VIEWER):
        add_user(
            path,
            user.name,
            user.password,
            upsmon=user.upsmon,
            actions=user.actions,
            instcmds=user.instcmds,
        )


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``condition()`` every 20 ms until it is true or the time is up."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def quiet_config(**settings: Any) -> Config:
    """A Config whose shutdown protection only monitors: these tests drive outages and FSD."""
    return replace(Config(protection_action="none"), **settings)


def quiet_agent(paths: AppPaths, config: Config, devices: list[str]) -> Agent:
    """An Agent without the local API whose protection could never touch this machine."""
    return Agent(paths, config, devices, serve_api=False, executor=CapturingExecutor())


@contextmanager
def serving_agent(
    root: Path,
    dump: str = DUMP,
    *,
    listen: bool = True,
    poll_interval_s: float = 0.2,
    max_clients: int = 32,
) -> Iterator[Agent]:
    """An Agent monitoring ``root/ups.dev`` (written from ``dump``), ready to answer.

    With ``listen`` its NUT server runs on a free loopback port
    (``agent.nut_server.address``); ADMIN, MONITOR and VIEWER exist.
    """
    paths = AppPaths(root / "config", root / "data", root / "run")
    add_users(paths.nut_users_file)
    device = root / "ups.dev"
    write_dump(device, dump)
    config = quiet_config(
        poll_interval_s=poll_interval_s,
        nut_listen=f"127.0.0.1:{free_port()}" if listen else "",
        nut_max_clients=max_clients,
    )
    agent = quiet_agent(paths, config, [f"dummy:{device}"])
    agent.start()
    try:
        assert wait_until(lambda: agent.states()[0].link is Link.OK), agent.states()
        assert not listen or agent.nut_server is not None
        yield agent
    finally:
        agent.stop()


def target(agent: Agent, ups: str = "ups") -> str:
    """``ups@127.0.0.1:PORT``, as NUT's command-line clients take it."""
    assert agent.nut_server is not None
    host, port = agent.nut_server.address
    return f"{ups}@{host}:{port}"


class LineClient:
    """A plain NUT protocol client: one request line, one reply line or listing."""

    def __init__(self, address: tuple[str, int], timeout_s: float = 10.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout_s)
        self._file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> str:
        """The next reply line without its newline; "" when the server closed."""
        return self._file.readline().decode("utf-8").rstrip("\n")

    def request(self, line: str) -> str:
        self.send(line.encode() + b"\n")
        return self.line()

    def listing(self, line: str) -> list[str]:
        """The lines between BEGIN and END of a LIST reply (or the one ERR line)."""
        first = self.request(line)
        if not first.startswith("BEGIN "):
            return [first]
        rows = []
        while not (row := self.line()).startswith("END "):
            rows.append(row)
        return rows

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
