"""Tests of the NUT users file: loading, hashing, authentication, rights, adding users."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest

from upsight.agent.nut_server.users import (
    Action,
    Upsmon,
    User,
    Users,
    UsersFileError,
    add_user,
    hash_password,
)


@pytest.fixture(scope="module")
def known_hash() -> str:
    return hash_password("correct horse")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_hash_has_the_documented_form_and_a_fresh_salt() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first.startswith("scrypt$16384$8$1$")
    assert len(first.split("$")) == 6
    assert first != second


def test_missing_file_means_no_users_and_anonymous_reads(tmp_path: Path) -> None:
    users = Users.load(tmp_path / "absent.toml")
    assert users.users == {}
    assert users.anonymous_read is True
    assert users.authenticate("anyone", "anything") is None


def test_load_and_authenticate(tmp_path: Path, known_hash: str) -> None:
    path = write(
        tmp_path / "users.toml",
        f"""
anonymous_read = false

[users.monitor]
password_hash = "{known_hash}"
upsmon = "primary"

[users.admin]
password_hash = "{known_hash}"
actions = ["set", "FSD"]
instcmds = ["Beeper.Disable", "load.off"]
""",
    )
    users = Users.load(path)
    assert users.anonymous_read is False
    monitor = users.authenticate("monitor", "correct horse")
    assert monitor is not None
    assert monitor.upsmon is Upsmon.PRIMARY
    admin = users.authenticate("admin", "correct horse")
    assert admin is not None
    assert admin.actions == {Action.SET, Action.FSD}
    assert admin.may_run("beeper.disable")
    assert not admin.may_run("load.on")
    assert users.authenticate("monitor", "wrong horse") is None
    assert users.authenticate("Monitor", "correct horse") is None
    assert users.authenticate("nobody", "correct horse") is None


def test_hashes_with_other_costs_are_accepted(tmp_path: Path) -> None:
    salt = b"pepper-and-salt!"
    key = hashlib.scrypt(b"pw", salt=salt, n=1024, r=4, p=2, dklen=32)
    encoded = f"scrypt$1024$4$2${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    path = write(tmp_path / "u.toml", f'[users.a]\npassword_hash = "{encoded}"\n')
    users = Users.load(path)
    assert users.authenticate("a", "pw") is not None
    assert users.authenticate("a", "pW") is None


def test_user_reprs_hold_no_hash(tmp_path: Path, known_hash: str) -> None:
    path = write(tmp_path / "u.toml", f'[users.a]\npassword_hash = "{known_hash}"\n')
    user = Users.load(path).users["a"]
    assert known_hash.split("$")[5] not in repr(user)
    assert "password_hash" not in repr(user)


# What each user may do: LOGIN, PRIMARY, SET, FSD, INSTCMD test.battery.start.quick.
@pytest.mark.parametrize(
    ("user", "rights"),
    [
        (User("s", upsmon=Upsmon.SECONDARY), (True, False, False, False, False)),
        (User("p", upsmon=Upsmon.PRIMARY), (True, True, False, True, False)),
        (
            User("a", actions=frozenset(Action), instcmds=frozenset({"all"})),
            (False, False, True, True, True),
        ),
        (User("f", actions=frozenset({Action.FSD})), (False, False, False, True, False)),
        (User("n"), (False, False, False, False, False)),
    ],
)
def test_rights(user: User, rights: tuple[bool, bool, bool, bool, bool]) -> None:
    assert (
        user.may_login(primary=False),
        user.may_login(primary=True),
        user.may_set(),
        user.may_fsd(),
        user.may_run("test.battery.start.quick"),
    ) == rights


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[users\n", "not valid TOML", "line 1"),
        ("colour = 1\n", "colour", "only the keys"),
        ('anonymous_read = "yes"\n', "anonymous_read", "true or false"),
        ("users = 3\n", "users", "a table"),
        ('[users."bad name"]\npassword_hash = "{hash}"\n', "users.bad name", "user name"),
        ("[users.a]\n", "users.a.password_hash", "scrypt$n$r$p"),
        ('[users.a]\npassword_hash = "plain"\n', "users.a.password_hash", "scrypt$n$r$p"),
        (
            '[users.a]\npassword_hash = "scrypt$1000$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5"\n',
            "users.a.password_hash",
            "scrypt$n$r$p",
        ),
        (
            '[users.a]\npassword_hash = "scrypt$2097152$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5"\n',
            "users.a.password_hash",
            "scrypt$n$r$p",
        ),
        ('[users.a]\npassword_hash = "{hash}"\npassword = "x"\n', "users.a.password", "only"),
        ('[users.a]\npassword_hash = "{hash}"\nupsmon = "master"\n', "users.a.upsmon", "primary"),
        ('[users.a]\npassword_hash = "{hash}"\nactions = ["SHUTDOWN"]\n', "users.a.actions", "SET"),
        ('[users.a]\npassword_hash = "{hash}"\nactions = "SET"\n', "users.a.actions", "a list"),
        (
            '[users.a]\npassword_hash = "{hash}"\ninstcmds = ["load off"]\n',
            "users.a.instcmds",
            "all",
        ),
        ("[users]\na = 1\n", "users.a", "a table"),
    ],
)
def test_bad_files_name_the_file_key_and_form(
    tmp_path: Path, known_hash: str, text: str, key: str, expected: str
) -> None:
    path = write(tmp_path / "users.toml", text.replace("{hash}", known_hash))
    with pytest.raises(UsersFileError) as caught:
        Users.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message
    assert expected in message


def test_add_user_writes_a_private_file_and_keeps_others(tmp_path: Path, known_hash: str) -> None:
    path = write(
        tmp_path / "users.toml",
        f'anonymous_read = false\n[users.old]\npassword_hash = "{known_hash}"\n',
    )
    add_user(path, "monitor", "pass word", upsmon="secondary")
    add_user(path, "admin", "s3cret!", actions=["set", "FSD"], instcmds=["all"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "pass word" not in path.read_text()
    users = Users.load(path)
    assert users.anonymous_read is False
    assert sorted(users.users) == ["admin", "monitor", "old"]
    assert users.authenticate("old", "correct horse") is not None
    monitor = users.authenticate("monitor", "pass word")
    assert monitor is not None
    assert monitor.upsmon is Upsmon.SECONDARY
    admin = users.authenticate("admin", "s3cret!")
    assert admin is not None
    assert admin.may_set()
    assert admin.may_run("load.off")


def test_add_user_replaces_a_password_and_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "nut" / "users.toml"
    add_user(path, "monitor", "first")
    add_user(path, "monitor", "second", upsmon=Upsmon.PRIMARY)
    users = Users.load(path)
    assert users.authenticate("monitor", "first") is None
    user = users.authenticate("monitor", "second")
    assert user is not None
    assert user.may_login(primary=True)
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    ("name", "password", "kwargs", "key"),
    [
        ("monitor", "pässword", {}, "printable ASCII"),
        ("monitor", "", {}, "printable ASCII"),
        ("bad name", "pw", {}, "users.bad name"),
        ("monitor", "pw", {"upsmon": "boss"}, "users.monitor.upsmon"),
        ("monitor", "pw", {"actions": ["REBOOT"]}, "users.monitor.actions"),
    ],
)
def test_add_user_refuses_bad_input_without_writing(
    tmp_path: Path, name: str, password: str, kwargs: dict[str, object], key: str
) -> None:
    path = tmp_path / "users.toml"
    with pytest.raises(UsersFileError) as caught:
        add_user(path, name, password, **kwargs)  # type: ignore[arg-type]
    assert key in str(caught.value)
    assert not path.exists()
    if password:
        assert password not in str(caught.value)


@pytest.mark.parametrize(
    ("anonymous_read", "address", "exposed"),
    [
        (True, "127.0.0.1", False),
        (True, "::1", False),
        (True, "[::1]", False),
        (True, "localhost", False),
        (True, "0.0.0.0", True),
        (True, "192.168.1.10", True),
        (True, "nas.example", True),
        (False, "0.0.0.0", False),
    ],
)
def test_anonymous_read_exposed(anonymous_read: bool, address: str, exposed: bool) -> None:
    users = Users(anonymous_read=anonymous_read)
    assert users.anonymous_read_exposed(address) is exposed
