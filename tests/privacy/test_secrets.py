"""Secrets live only in a system keychain: refusals, round trips, damage and error hygiene."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import ClassVar

import pytest
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, NoKeyringError

from tests.keyrings import DIR_ENV, DirectoryKeyring, MemoryKeyring
from upsight.agent.privacy.secrets import (
    INSTALL_SECRET_ITEM,
    SERVICE,
    TOKEN_ITEM,
    Secrets,
    SecureStorageUnavailable,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-7f3a9c0e5b1d4e2a"
LEAKY = "leaky-value-0d2b6e"


class PlaintextKeyring(MemoryKeyring):
    """Named and placed like keyrings.alt's plaintext file store, which Upsight refuses."""

    __module__ = "keyrings.alt.file"


class LowPriorityKeyring(MemoryKeyring):
    """A store keyring itself would not recommend."""

    priority = 0.5


class PreferredKeyring(MemoryKeyring):
    """A keychain that keyring ranks above the others."""

    priority = 5


class LockedKeyring(MemoryKeyring):
    """A keychain that stays locked, with error text that echoes a stored value."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked(f"cannot unlock item holding {LEAKY}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"cannot store {password}")


class ForgetfulKeyring(MemoryKeyring):
    """Accepts writes and keeps nothing, like the null backend but claiming a high priority."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


def chain_of(*members: MemoryKeyring) -> chainer.ChainerBackend:
    class Chain(chainer.ChainerBackend):
        backends: ClassVar[list[MemoryKeyring]] = list(members)
        priority = 10

    return Chain()


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "root"
    for name, env in (("home", "HOME"), ("data", "XDG_DATA_HOME"), ("config", "XDG_CONFIG_HOME")):
        (root / name).mkdir(parents=True)
        monkeypatch.setenv(env, str(root / name))
    return root


def test_fail_backend_is_refused_without_writing_any_file(home: Path) -> None:
    before = snapshot(home)
    store = Secrets(fail.Keyring())

    problem = store.problem()
    assert problem is not None
    assert "keyring.backends.fail.Keyring" in problem
    with pytest.raises(
        SecureStorageUnavailable, match=re.escape("(keyring.backends.fail.Keyring)")
    ):
        store.install_secret()
    with pytest.raises(SecureStorageUnavailable, match=r"^secure storage unavailable "):
        store.token()
    with pytest.raises(SecureStorageUnavailable):
        store.set_token(TOKEN)
    with pytest.raises(SecureStorageUnavailable):
        store.forget_all()
    assert snapshot(home) == before


def test_default_backend_of_a_headless_process_is_refused(tmp_path: Path) -> None:
    for name in ("home", "data", "config"):
        (tmp_path / name).mkdir()
    before = snapshot(tmp_path)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    script = (
        "from upsight.agent.privacy.secrets import Secrets, SecureStorageUnavailable\n"
        "store = Secrets()\n"
        "try:\n"
        "    store.set_token('abc')\n"
        "except SecureStorageUnavailable as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith(
        "secure storage unavailable (keyring.backends.fail.Keyring): cloud features stay off "
        "until a system keychain is available"
    )
    assert snapshot(tmp_path) == before


def test_null_backend_is_refused_before_it_can_drop_anything() -> None:
    store = Secrets(null.Keyring())

    assert "null" in (store.problem() or "")
    with pytest.raises(SecureStorageUnavailable):
        store.install_secret()
    with pytest.raises(SecureStorageUnavailable):
        store.token()


def test_plaintext_file_store_is_refused_even_with_a_high_priority() -> None:
    backend = PlaintextKeyring()
    store = Secrets(backend)

    assert "keyrings.alt.file.PlaintextKeyring" in (store.problem() or "")
    with pytest.raises(SecureStorageUnavailable):
        store.set_token(TOKEN)
    assert backend.items == {}


def test_backend_keyring_would_not_recommend_is_refused() -> None:
    store = Secrets(LowPriorityKeyring())

    assert "priority 0.5" in (store.problem() or "")
    with pytest.raises(SecureStorageUnavailable):
        store.install_secret()


def test_chain_without_a_system_keychain_is_refused() -> None:
    store = Secrets(chain_of(PlaintextKeyring(), LowPriorityKeyring()))

    problem = store.problem() or ""
    assert "no system keychain" in problem
    assert "PlaintextKeyring" in problem
    with pytest.raises(SecureStorageUnavailable):
        store.token()


def test_chain_is_used_through_its_system_keychain_only() -> None:
    plaintext = PlaintextKeyring()
    plaintext.items[SERVICE, TOKEN_ITEM] = "stale-plaintext-token"
    lesser = MemoryKeyring()
    keychain = PreferredKeyring()
    store = Secrets(chain_of(plaintext, lesser, keychain))

    assert store.problem() is None
    assert store.token() is None
    store.set_token(TOKEN)
    store.install_secret()
    assert set(keychain.items) == {(SERVICE, TOKEN_ITEM), (SERVICE, INSTALL_SECRET_ITEM)}
    assert plaintext.items == {(SERVICE, TOKEN_ITEM): "stale-plaintext-token"}
    assert lesser.items == {}
    assert "PreferredKeyring" in repr(store)


def test_install_secret_is_created_once_and_stable() -> None:
    backend = MemoryKeyring()
    store = Secrets(backend)

    assert store.problem() is None
    first = store.install_secret()
    assert len(first) == 32
    assert store.install_secret() == first
    assert Secrets(backend).install_secret() == first
    assert base64.b64decode(backend.items[SERVICE, INSTALL_SECRET_ITEM]) == first


def test_rotation_replaces_the_install_secret() -> None:
    store = Secrets(MemoryKeyring())
    first = store.install_secret()

    rotated = store.rotate_install_secret()

    assert len(rotated) == 32
    assert rotated != first
    assert store.install_secret() == rotated


def test_token_round_trip_and_delete() -> None:
    store = Secrets(MemoryKeyring())

    assert store.token() is None
    store.set_token(TOKEN)
    assert store.token() == TOKEN
    store.set_token(TOKEN + "-2")
    assert store.token() == TOKEN + "-2"
    store.delete_token()
    assert store.token() is None
    store.delete_token()
    assert store.token() is None


def test_empty_token_is_rejected() -> None:
    store = Secrets(MemoryKeyring())

    with pytest.raises(ValueError, match="empty"):
        store.set_token("")
    assert store.token() is None


def test_forget_all_clears_token_and_install_secret() -> None:
    backend = MemoryKeyring()
    store = Secrets(backend)
    first = store.install_secret()
    store.set_token(TOKEN)

    store.forget_all()

    assert backend.items == {}
    assert store.token() is None
    assert store.install_secret() != first
    store.forget_all()
    assert backend.items == {}


def test_service_name_separates_items() -> None:
    backend = MemoryKeyring()
    Secrets(backend, service="upsight-test").set_token(TOKEN)

    assert Secrets(backend).token() is None
    assert backend.items == {("upsight-test", TOKEN_ITEM): TOKEN}


@pytest.mark.parametrize(
    "stored",
    [
        "not base64 at all!",
        base64.b64encode(b"\x01" * 16).decode(),
        base64.b64encode(b"\x01" * 33).decode(),
        "",
    ],
)
def test_damaged_install_secret_is_an_error_until_rotated(stored: str) -> None:
    backend = MemoryKeyring()
    backend.items[SERVICE, INSTALL_SECRET_ITEM] = stored
    store = Secrets(backend)

    with pytest.raises(SecureStorageUnavailable, match="damaged") as caught:
        store.install_secret()
    assert backend.items[SERVICE, INSTALL_SECRET_ITEM] == stored
    if stored:
        assert stored not in str(caught.value)

    rotated = store.rotate_install_secret()
    assert len(rotated) == 32
    assert store.install_secret() == rotated


def test_keychain_error_on_get_names_the_class_and_hides_the_value() -> None:
    store = Secrets(LockedKeyring())

    with pytest.raises(SecureStorageUnavailable) as caught:
        store.token()

    message = str(caught.value)
    assert "keyring.errors.KeyringLocked" in message
    assert LEAKY not in message
    assert caught.value.__cause__ is None
    assert LEAKY not in "".join(traceback.format_exception(caught.value))


def test_keychain_error_on_set_does_not_echo_the_token() -> None:
    store = Secrets(LockedKeyring())

    with pytest.raises(SecureStorageUnavailable) as caught:
        store.set_token(TOKEN)

    assert "KeyringLocked" in str(caught.value)
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


def test_no_keyring_error_from_a_custom_backend_is_mapped() -> None:
    class Unreachable(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise NoKeyringError("D-Bus is not running")

    with pytest.raises(SecureStorageUnavailable, match="NoKeyringError"):
        Secrets(Unreachable()).install_secret()


def test_backend_that_keeps_nothing_cannot_hand_out_a_secret() -> None:
    with pytest.raises(SecureStorageUnavailable, match="did not keep"):
        Secrets(ForgetfulKeyring()).install_secret()


def test_repr_shows_no_secret() -> None:
    store = Secrets(MemoryKeyring())
    secret = store.install_secret()
    store.set_token(TOKEN)

    text = repr(store)

    assert "MemoryKeyring" in text
    assert TOKEN not in text
    assert secret.hex() not in text
    assert base64.b64encode(secret).decode() not in text


def test_directory_keyring_shares_secrets_with_a_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    monkeypatch.setenv(DIR_ENV, str(keys))
    store = Secrets(DirectoryKeyring())
    secret = store.install_secret()
    store.set_token(TOKEN)
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "tests.keyrings.DirectoryKeyring",
        "PYTHONPATH": str(REPO_ROOT),
    }
    script = (
        "from upsight.agent.privacy.secrets import Secrets\n"
        "store = Secrets()\n"
        "print(store.problem())\n"
        "print(store.install_secret().hex())\n"
        "print(store.token())\n"
        "store.set_token('from-the-child')\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.splitlines() == ["None", secret.hex(), TOKEN]
    assert store.token() == "from-the-child"
    assert not list(keys.glob(".item-*"))


def test_directory_keyring_without_its_directory_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DIR_ENV, raising=False)

    with pytest.raises(SecureStorageUnavailable, match="InitError"):
        Secrets(DirectoryKeyring()).token()


def test_test_doubles_never_become_the_detected_default(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHON_KEYRING_BACKEND"}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), PYTHONPATH=str(REPO_ROOT))
    script = (
        "import tests.keyrings, keyring\n"
        "print(keyring.get_keyring())\n"
        "print(*(type(b).__module__ for b in keyring.backend.get_all_keyring()))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.startswith("keyring.")
    assert "tests.keyrings" not in result.stdout
