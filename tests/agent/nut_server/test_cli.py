"""``upsight nut-server user add`` and ``show``, and ``upsight run --nut-listen``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from upsight.agent import cli
from upsight.agent.nut_server import cli as nut_server_cli
from upsight.agent.nut_server.users import Upsmon, Users, UsersFileError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CONFIG", "DATA", "RUNTIME"):
        monkeypatch.setenv(f"UPSIGHT_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path


def _add(monkeypatch: pytest.MonkeyPatch, password: str, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return cli.main(["nut-server", "user", "add", *args])


def test_add_users_and_show_them_without_secrets(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _add(monkeypatch, "s3cret", "ha", "--actions", "SET", "--instcmds", "beeper.mute,load.off")
        == 0
    )
    assert _add(monkeypatch, "m0n", "upsmon", "--upsmon", "secondary") == 0
    assert _add(monkeypatch, "adm", "root", "--actions", "set,fsd", "--instcmds", "ALL") == 0
    assert "user ha saved" in capsys.readouterr().out
    assert cli.main(["nut-server", "show"]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines() == [
        "listen: off (set nut_server.listen or run --nut-listen HOST:PORT)",
        f"users file: {home / 'config' / 'nut-users.toml'}",
        "anonymous reads: on (GET and LIST without a login)",
        "users:",
        "  ha: actions SET; instcmds beeper.mute,load.off",
        "  root: actions FSD,SET; instcmds all",
        "  upsmon: upsmon secondary",
    ]
    users = Users.load(home / "config" / "nut-users.toml")
    assert users.authenticate("ha", "s3cret") is not None
    assert users.users["upsmon"].upsmon is Upsmon.SECONDARY
    text = (home / "config" / "nut-users.toml").read_text()
    assert "s3cret" not in text
    assert "scrypt" not in shown


def test_show_warns_when_anonymous_reads_reach_the_network(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["config", "set", "nut_server.listen", "0.0.0.0:3493"]) == 0
    capsys.readouterr()
    assert cli.main(["nut-server", "show"]) == 0
    shown = capsys.readouterr().out
    assert "listen: 0.0.0.0:3493" in shown
    assert "warning: anonymous reads are open to the network" in shown
    assert "users: none" in shown


def test_bad_names_and_empty_passwords_change_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(monkeypatch, "pw", "no spaces allowed") == 2
    assert _add(monkeypatch, "", "empty") == 2
    errors = capsys.readouterr().err
    assert "users.no spaces allowed" in errors
    assert "no password given" in errors
    assert not (home / "config" / "nut-users.toml").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_typed_passwords_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    typed = iter(["first", "second"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    with pytest.raises(UsersFileError, match="differ"):
        nut_server_cli.read_password(_Terminal())
    typed = iter(["same", "same"])
    assert nut_server_cli.read_password(_Terminal()) == "same"


def test_run_refuses_a_bad_listen_address(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = home / "ups.dev"
    device.write_text("ups.status: OL\n")
    code = cli.main(["run", "--no-api", "--device", f"dummy:{device}", "--nut-listen", "lan:3493"])
    assert code == 2
    assert "nut_server.listen" in capsys.readouterr().err
