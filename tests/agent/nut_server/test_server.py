"""The NUT server inside the Agent: lifecycle, ordering around slow commands, users, addresses."""

from __future__ import annotations

import logging
import select
import socket
import threading
from pathlib import Path

import pytest

from tests.agent.nut_server.serving import (
    ADMIN,
    DUMP,
    MONITOR,
    VIEWER,
    LineClient,
    quiet_config,
    serving_agent,
    wait_until,
    write_dump,
)
from tests.peers.nut import free_port
from upsight.agent.config import Config, ConfigError, with_value
from upsight.agent.monitor import Link
from upsight.agent.nut_server.agent_backend import AgentBackend, users_file
from upsight.agent.nut_server.server import NutServer, parse_listen
from upsight.agent.nut_server.users import add_user
from upsight.agent.paths import AppPaths
from upsight.agent.protection.executors import CapturingExecutor
from upsight.agent.service import Agent
from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.dummy import DummyDriver

STATUS = 'VAR ups ups.status "OL"'


def _server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "upsight-nut-server"]


def test_agent_serves_nut_clients_when_configured(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        server = agent.nut_server
        assert server is not None
        with LineClient(server.address) as client:
            assert client.request("VER").startswith("Upsight ")
            assert client.request("PROTVER") == "1.3"
            assert client.listing("LIST UPS") == ['UPS ups "Test Power Test UPS 1000"']
            assert client.request("GET VAR ups ups.status") == STATUS
            assert client.request("LOGOUT") == "OK Goodbye"
            assert client.line() == ""
        assert wait_until(lambda: server.client_count() == 0)
    assert _server_threads() == []


def test_no_server_unless_configured(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        assert agent.nut_server is None
        assert _server_threads() == []


class _SlowCommands(DummyDriver):
    """A dump-file device whose commands take as long as the test says."""

    def __init__(self, path: Path, clock: Clock, started: threading.Event) -> None:
        super().__init__(path, clock)
        self.started = started
        self.release = threading.Event()

    def run(self, name: str, value: str | None = None) -> None:
        self.started.set()
        assert self.release.wait(20)
        super().run(name, value)


def test_a_slow_command_delays_only_its_own_client(tmp_path: Path) -> None:
    device = tmp_path / "ups.dev"
    write_dump(device, DUMP)
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    add_user(paths.nut_users_file, ADMIN.name, ADMIN.password, instcmds=ADMIN.instcmds)
    started = threading.Event()
    drivers: list[_SlowCommands] = []

    def open_slow(spec: str, clock: Clock) -> Driver:
        driver = _SlowCommands(device, clock, started)
        drivers.append(driver)
        return driver

    # Polls wait for the command (drivers serve one caller at a time), so the
    # data may only turn stale after 3 s; the command is released well before.
    config = quiet_config(poll_interval_s=1.0, nut_listen=f"127.0.0.1:{free_port()}")
    agent = Agent(
        paths,
        config,
        [f"dummy:{device}"],
        serve_api=False,
        executor=CapturingExecutor(),
        opener=open_slow,
    )
    agent.start()
    try:
        assert wait_until(lambda: agent.states()[0].link is Link.OK)
        assert agent.nut_server is not None
        address = agent.nut_server.address
        with LineClient(address) as waiting, LineClient(address) as other:
            waiting.send(
                f"USERNAME {ADMIN.name}\nPASSWORD {ADMIN.password}\n"
                "INSTCMD ups beeper.mute\nGET VAR ups ups.status\n".encode()
            )
            assert [waiting.line(), waiting.line()] == ["OK", "OK"]
            assert started.wait(10)
            assert other.request("GET VAR ups ups.status") == STATUS
            assert other.listing("LIST UPS") == ['UPS ups "Test Power Test UPS 1000"']
            # Nothing for the waiting client yet: its GET VAR stays behind its command.
            assert select.select([waiting.sock], [], [], 0)[0] == []
            drivers[-1].release.set()
            assert [waiting.line(), waiting.line()] == ["OK", STATUS]
    finally:
        for driver in drivers:
            driver.release.set()
        agent.stop()


def test_stop_closes_every_connection_and_frees_the_port(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        server = NutServer(AgentBackend(agent), agent.paths.nut_users_file, "127.0.0.1", 0)
        server.start()
        port = server.address[1]
        clients = [LineClient(server.address) for _ in range(3)]
        assert clients[0].request("GET VAR ups ups.status") == STATUS
        server.stop()
        assert [client.line() for client in clients] == ["", "", ""]
        for client in clients:
            client.close()
        assert _server_threads() == []
        again = NutServer(AgentBackend(agent), agent.paths.nut_users_file, "127.0.0.1", port)
        again.start()
        try:
            _ask_status(again)
        finally:
            again.stop()
        server.stop()


def _ask_status(server: NutServer) -> None:
    with LineClient(server.address) as client:
        assert client.request("GET VAR ups ups.status") == STATUS


def test_a_port_in_use_leaves_monitoring_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
        device = tmp_path / "ups.dev"
        write_dump(device, DUMP)
        config = quiet_config(poll_interval_s=0.2, nut_listen=f"127.0.0.1:{port}")
        agent = Agent(
            paths, config, [f"dummy:{device}"], serve_api=False, executor=CapturingExecutor()
        )
        with caplog.at_level(logging.ERROR):
            agent.start()
        try:
            assert agent.nut_server is None
            assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
            assert wait_until(lambda: agent.states()[0].link is Link.OK)
        finally:
            agent.stop()


def test_a_bad_users_file_keeps_the_server_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    paths.config_dir.mkdir(parents=True)
    paths.nut_users_file.write_text("[users.bob]\npassword = 'plain text'\n")
    device = tmp_path / "ups.dev"
    write_dump(device, DUMP)
    config = quiet_config(nut_listen=f"127.0.0.1:{free_port()}")
    agent = Agent(paths, config, [f"dummy:{device}"], serve_api=False, executor=CapturingExecutor())
    with caplog.at_level(logging.ERROR):
        agent.start()
    try:
        assert agent.nut_server is None
        assert "NUT server not started" in caplog.text
        assert "users.bob" in caplog.text
    finally:
        agent.stop()


def test_users_added_while_running_can_log_in(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        assert agent.nut_server is not None
        with LineClient(agent.nut_server.address) as early:
            assert early.request("USERNAME late") == "OK"
            assert early.request("PASSWORD latepass") == "OK"
            assert early.request("LOGIN ups") == "ERR ACCESS-DENIED"
        add_user(agent.paths.nut_users_file, "late", "latepass", upsmon="secondary")
        with LineClient(agent.nut_server.address) as late:
            assert late.request("USERNAME late") == "OK"
            assert late.request("PASSWORD latepass") == "OK"
            assert late.request("LOGIN ups") == "OK"
            assert late.request("GET NUMLOGINS ups") == "NUMLOGINS ups 1"


def test_reads_need_a_login_when_anonymous_reads_are_off(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        path = agent.paths.nut_users_file
        path.write_text("anonymous_read = false\n" + path.read_text())
        server = NutServer(AgentBackend(agent), path, "127.0.0.1", 0)
        server.start()
        try:
            with LineClient(server.address) as stranger:
                assert stranger.request("GET VAR ups ups.status") == "ERR USERNAME-REQUIRED"
                assert stranger.request(f"USERNAME {VIEWER.name}") == "OK"
                assert stranger.request("PASSWORD wrong") == "OK"
                assert stranger.request("LIST UPS") == "ERR ACCESS-DENIED"
            with LineClient(server.address) as viewer:
                # The first read checks the password on a worker; the rest keep their order.
                viewer.send(
                    f"USERNAME {VIEWER.name}\nPASSWORD {VIEWER.password}\n".encode()
                    + b"GET VAR ups ups.status\n" * 3
                    + b"GET VAR ups ups.load\n"
                )
                replies = [viewer.line() for _ in range(6)]
                assert replies == ["OK", "OK", STATUS, STATUS, STATUS, 'VAR ups ups.load "15"']
        finally:
            server.stop()


def test_ipv6_loopback(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False) as agent:
        server = NutServer(AgentBackend(agent), agent.paths.nut_users_file, "::1", 0)
        server.start()
        try:
            assert server.address[0] == "::1"
            _ask_status(server)
        finally:
            server.stop()


def test_connections_and_logins_are_logged_without_passwords(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serving_agent(tmp_path) as agent, caplog.at_level(logging.INFO):
        assert agent.nut_server is not None
        with LineClient(agent.nut_server.address) as client:
            assert client.request(f"USERNAME {MONITOR.name}") == "OK"
            assert client.request(f"PASSWORD {MONITOR.password}") == "OK"
            assert client.request("LOGIN ups") == "OK"
            assert client.request(f"USERNAME {ADMIN.name}") == "ERR ALREADY-SET-USERNAME"
        assert wait_until(lambda: "disconnected" in caplog.text)
    messages = [r.getMessage() for r in caplog.records if "nut_server" in r.name]
    assert any("connected" in m and "127.0.0.1:" in m for m in messages)
    assert any(f"{MONITOR.name}@127.0.0.1 logged in to ups" in m for m in messages)
    assert MONITOR.password not in caplog.text


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:3493", ("127.0.0.1", 3493)),
        ("0.0.0.0:13493", ("0.0.0.0", 13493)),
        ("[::1]:3493", ("::1", 3493)),
        ("[::]:1", ("::", 1)),
    ],
)
def test_listen_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_listen(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "",
        "127.0.0.1",
        "localhost:3493",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "::1:3493",
        "[127.0.0.1]:3493",
        "127.0.0.1:34x",
        "[::1]3493",
        "1.2.3:3493",
    ],
)
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        parse_listen(text)


def test_nut_server_settings(tmp_path: Path) -> None:
    config = with_value(Config(), "nut_server.listen", "[::1]:3493")
    config = with_value(config, "nut_server.max_clients", 64)
    assert (config.nut_listen, config.nut_max_clients) == ("[::1]:3493", 64)
    assert with_value(config, "nut_server.listen", "").nut_listen == ""
    for key, value in (
        ("nut_server.listen", "anywhere"),
        ("nut_server.max_clients", 0),
        ("nut_server.max_clients", 2.5),
    ):
        with pytest.raises(ConfigError, match=key):
            with_value(config, key, value)
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    assert users_file(paths, Config()) == tmp_path / "c" / "nut-users.toml"
    elsewhere = with_value(Config(), "nut_server.users_file", str(tmp_path / "u.toml"))
    assert users_file(paths, elsewhere) == tmp_path / "u.toml"
