"""Test doubles for the OS keychain; they are not secure and must never hold real secrets.

``MemoryKeyring`` keeps items in a dict. ``DirectoryKeyring`` keeps each item as a file in
the directory named by ``UPSIGHT_TEST_KEYRING_DIR``, so a subprocess started with
``PYTHON_KEYRING_BACKEND=tests.keyrings.DirectoryKeyring`` and the repository root on
``PYTHONPATH`` shares items with the test that started it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final
from urllib.parse import quote

from keyring import backend
from keyring.errors import InitError, PasswordDeleteError

DIR_ENV: Final = "UPSIGHT_TEST_KEYRING_DIR"

# keyring lists its backends once per process and would pick any viable class it knows,
# test doubles included. Listing them before these classes exist keeps auto-detection on the
# machine's real backends; tests use the doubles only by passing or naming them.
backend.get_all_keyring()


class MemoryKeyring(backend.KeyringBackend):
    """A keychain that lives in this object only."""

    priority: float = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(f"no item {username!r} in {service!r}")


class DirectoryKeyring(backend.KeyringBackend):
    """A keychain kept as one file per item in ``$UPSIGHT_TEST_KEYRING_DIR``."""

    priority: float = 1

    @property
    def directory(self) -> Path:
        """The shared directory, read from the environment on every use."""
        named = os.environ.get(DIR_ENV)
        if not named:
            raise InitError(f"{DIR_ENV} is not set")
        return Path(named)

    def _item(self, service: str, username: str) -> Path:
        return self.directory / f"{quote(service, safe='')}@{quote(username, safe='')}"

    def get_password(self, service: str, username: str) -> str | None:
        try:
            return self._item(service, username).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def set_password(self, service: str, username: str, password: str) -> None:
        target = self._item(service, username)
        # Replace whole files only, so a process killed mid-write leaves the old item intact.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".item-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password)
        os.replace(temp, target)

    def delete_password(self, service: str, username: str) -> None:
        try:
            self._item(service, username).unlink()
        except FileNotFoundError:
            raise PasswordDeleteError(f"no item {username!r} in {service!r}") from None
