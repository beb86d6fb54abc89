"""Replies the server keeps and gives again: only while the data holds, only to readers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.agent.nut_server.serving import (
    ADMIN,
    DUMP,
    LineClient,
    add_users,
    serving_agent,
    wait_until,
    write_dump,
)
from upsight.agent.nut_server.agent_backend import AgentBackend
from upsight.agent.nut_server.server import NutServer

from .fake_backend import FakeBackend, sample_backend

CHARGE = "GET VAR ups battery.charge"


@contextmanager
def serving(backend: FakeBackend, users_file: Path, max_clients: int = 32) -> Iterator[NutServer]:
    server = NutServer(backend, users_file, "127.0.0.1", 0, max_clients=max_clients)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _login(client: LineClient, name: str, password: str) -> None:
    assert client.request(f"USERNAME {name}") == "OK"
    assert client.request(f"PASSWORD {password}") == "OK"


def test_a_read_is_answered_again_until_the_backend_changes(tmp_path: Path) -> None:
    backend = sample_backend()
    with serving(backend, tmp_path / "users.toml") as server, LineClient(server.address) as client:
        assert client.request(CHARGE) == 'VAR ups battery.charge "100"'
        # The backend has not said that anything changed: the kept reply is given.
        backend.devices["ups"].values["battery.charge"] = "90"
        assert client.request(CHARGE) == 'VAR ups battery.charge "100"'
        backend.changed()
        assert client.request(CHARGE) == 'VAR ups battery.charge "90"'
        assert client.listing("LIST VAR ups")[:1] == ['VAR ups battery.charge "90"']


def test_a_kept_reply_never_reaches_a_client_that_may_not_read(tmp_path: Path) -> None:
    users_file = tmp_path / "users.toml"
    add_users(users_file)
    users_file.write_text("anonymous_read = false\n" + users_file.read_text())
    backend = sample_backend()
    with serving(backend, users_file) as server, LineClient(server.address) as reader:
        _login(reader, ADMIN.name, ADMIN.password)
        for _ in range(3):
            assert reader.request(CHARGE) == 'VAR ups battery.charge "100"'
        backend.devices["ups"].values["battery.charge"] = "90"
        assert reader.request(CHARGE) == 'VAR ups battery.charge "100"'
        with LineClient(server.address) as stranger:
            assert stranger.request(CHARGE) == "ERR USERNAME-REQUIRED"
            assert stranger.request(f"USERNAME {ADMIN.name}") == "OK"
            assert stranger.request(CHARGE) == "ERR PASSWORD-REQUIRED"
        with LineClient(server.address) as wrong:
            _login(wrong, ADMIN.name, "wrong")
            # The first read checks the password on a worker, the later ones do not.
            for _ in range(3):
                assert wrong.request(CHARGE) == "ERR ACCESS-DENIED"


def test_a_refused_client_gets_no_kept_reply(tmp_path: Path) -> None:
    with (
        serving(sample_backend(), tmp_path / "users.toml", max_clients=1) as server,
        LineClient(server.address) as served,
    ):
        for _ in range(2):
            assert served.request(CHARGE) == 'VAR ups battery.charge "100"'
        with LineClient(server.address) as refused:
            assert refused.request(CHARGE) == "ERR ACCESS-DENIED"
            assert refused.line() == ""


def test_fsd_shows_in_the_very_next_read(tmp_path: Path) -> None:
    users_file = tmp_path / "users.toml"
    add_users(users_file)
    with (
        serving(sample_backend(), users_file) as server,
        LineClient(server.address) as watcher,
        LineClient(server.address) as admin,
    ):
        status = "GET VAR ups ups.status"
        for _ in range(2):
            assert watcher.request(status) == 'VAR ups ups.status "OL"'
        # Sent together: the read is answered in the same loop turn as the FSD.
        admin.send(
            f"USERNAME {ADMIN.name}\nPASSWORD {ADMIN.password}\nFSD ups\n{status}\n".encode()
        )
        assert [admin.line() for _ in range(4)] == [
            "OK",
            "OK",
            "OK FSD-SET",
            'VAR ups ups.status "FSD OL"',
        ]
        assert watcher.request(status) == 'VAR ups ups.status "FSD OL"'


def test_a_backend_without_a_version_is_still_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Unversioned(FakeBackend):
        def version(self) -> object:
            raise RuntimeError("bug")

    backend = Unversioned(sample_backend().devices)
    with serving(backend, tmp_path / "users.toml") as server, LineClient(server.address) as client:
        assert client.request(CHARGE) == 'VAR ups battery.charge "100"'
        backend.devices["ups"].values["battery.charge"] = "90"
        assert client.request(CHARGE) == 'VAR ups battery.charge "90"'
    assert "cannot tell its data version" in caplog.text


def test_agent_readings_replace_kept_replies(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        assert agent.nut_server is not None
        with LineClient(agent.nut_server.address) as client:
            for _ in range(3):
                assert client.request(CHARGE) == 'VAR ups battery.charge "100"'
            write_dump(
                tmp_path / "ups.dev", DUMP.replace("battery.charge: 100", "battery.charge: 90")
            )
            assert wait_until(lambda: client.request(CHARGE) == 'VAR ups battery.charge "90"')


def test_agent_fsd_shows_in_the_very_next_read(tmp_path: Path) -> None:
    # Polls far apart, so that only the FSD itself can make the change visible.
    with serving_agent(tmp_path, poll_interval_s=30.0) as agent:
        assert agent.nut_server is not None
        address = agent.nut_server.address
        status = "GET VAR ups ups.status"
        with LineClient(address) as watcher, LineClient(address) as admin:
            for _ in range(2):
                assert watcher.request(status) == 'VAR ups ups.status "OL"'
            admin.send(
                f"USERNAME {ADMIN.name}\nPASSWORD {ADMIN.password}\nFSD ups\n{status}\n".encode()
            )
            assert [admin.line() for _ in range(4)][2:] == [
                "OK FSD-SET",
                'VAR ups ups.status "FSD OL"',
            ]
            assert watcher.request(status) == 'VAR ups ups.status "FSD OL"'


def test_agent_backend_version_changes_with_the_data_only(tmp_path: Path) -> None:
    with serving_agent(tmp_path, listen=False, poll_interval_s=30.0) as agent:
        backend = AgentBackend(agent)
        # Once the first reading's announcement is through, nothing changes until the FSD.
        assert wait_until(lambda: backend.version() is backend.version())
        before = backend.version()
        assert backend.variables("ups")["ups.status"] == "OL"
        assert backend.version() is before
        backend.set_fsd("ups", "admin@127.0.0.1")
        after = backend.version()
        assert after is not before
        assert backend.variables("ups")["ups.status"] == "FSD OL"
