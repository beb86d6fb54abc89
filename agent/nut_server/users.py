"""Who may use the NUT server and for what: the users file, password hashes and rights.

The file plays the part of upsd's ``upsd.users`` in our own TOML form::

    anonymous_read = true            # GET and LIST without logging in (default true)

    [users.monitor]
    password_hash = "scrypt$16384$8$1$<salt>$<hash>"
    upsmon = "secondary"             # or "primary"; LOGIN needs one of them

    [users.admin]
    password_hash = "scrypt$..."
    actions = ["SET", "FSD"]
    instcmds = ["all"]               # or a list of command names

Reads are anonymous by default because that is what NUT users expect (``upsc``
works without a login) and the server listens on loopback unless told
otherwise. :meth:`Users.anonymous_read_exposed` tells the server when that
default reaches the network, so that it can warn.

Loading is strict, unlike the agent's config file: a typo in a security file
must not quietly grant or withhold rights, so any bad key or value stops the
load with an error naming the file, the key and the expected form.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import tomli_w

from upsight.agent.config import ConfigError
from upsight.agent.durable import replace_file

# scrypt cost for new hashes: about 50 ms and 16 MiB per check on a desktop CPU.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
# Hashes from the file may carry other costs; these caps keep a hostile or
# mistyped file from making every login take seconds or gigabytes.
_MAX_N: Final = 2**20
_MAX_R: Final = 32
_MAX_P: Final = 16
_HASH_FORM: Final = "scrypt$n$r$p$salt_b64$hash_b64, as add_user writes it"

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_COMMAND: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ALL_COMMANDS: Final = "all"


class UsersFileError(ConfigError):
    """The users file cannot be read or holds a value it cannot take."""


class Upsmon(enum.StrEnum):
    """The ``upsmon`` role of a user: which NUT monitor it may act as."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class Action(enum.StrEnum):
    """Privileged actions a user may be granted besides instant commands."""

    SET = "SET"
    FSD = "FSD"


@dataclass(frozen=True)
class PasswordHash:
    """A parsed ``password_hash``: scrypt's costs, the salt and the derived key."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes = field(repr=False)

    def matches(self, password: str) -> bool:
        """Whether ``password`` derives the same key (compared in constant time)."""
        return hmac.compare_digest(_derive(password, self.salt, self.n, self.r, self.p), self.key)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * n bytes; the default ceiling (32 MiB) is too low
    # for the larger costs a file may legitimately carry.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the file's ``password_hash`` form."""
    salt = os.urandom(_SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _parse_hash(text: str) -> PasswordHash | None:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= _MAX_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return None
    if len(salt) < 8 or len(key) < 16:
        return None
    return PasswordHash(n, r, p, salt, key)


# Checked against when the user name is unknown, so that a wrong name costs as
# much time as a wrong password and timing does not reveal which names exist.
_DECOY: Final = PasswordHash(SCRYPT_N, SCRYPT_R, SCRYPT_P, bytes(_SALT_BYTES), bytes(_KEY_BYTES))


@dataclass(frozen=True)
class User:
    """One user and its rights (upsd's ``upsmon``, ``actions`` and ``instcmds``)."""

    name: str
    upsmon: Upsmon | None = None
    actions: frozenset[Action] = frozenset()
    instcmds: frozenset[str] = frozenset()
    password_hash: PasswordHash | None = field(default=None, repr=False, compare=False)

    def may_login(self, primary: bool) -> bool:
        """Whether ``LOGIN`` (``primary`` False) or ``PRIMARY`` (``primary`` True) is allowed."""
        return self.upsmon is Upsmon.PRIMARY if primary else self.upsmon is not None

    def may_run(self, command: str) -> bool:
        """Whether ``INSTCMD`` may run ``command`` (names compare without regard to case)."""
        return ALL_COMMANDS in self.instcmds or command.lower() in self.instcmds

    def may_set(self) -> bool:
        """Whether ``SET VAR`` is allowed."""
        return Action.SET in self.actions

    def may_fsd(self) -> bool:
        """Whether ``FSD`` is allowed: granted explicitly, or to a primary upsmon as upsd does."""
        return Action.FSD in self.actions or self.upsmon is Upsmon.PRIMARY


@dataclass(frozen=True)
class Users:
    """Every user of the NUT server, and whether reads need a login."""

    users: Mapping[str, User] = field(default_factory=dict)
    anonymous_read: bool = True

    @classmethod
    def load(cls, path: Path) -> Users:
        """Read the users file; a missing file means no users and anonymous reads only.

        Raises:
            UsersFileError: The file cannot be read or parsed, or a key or value is
                wrong; the message names the file, the key and the expected form.
        """
        document = _read(path)
        if document is None:
            return cls()
        return _users_from(path, document)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user ``name`` if ``password`` is theirs, else None (in constant time)."""
        user = self.users.get(name)
        if user is None or user.password_hash is None:
            _DECOY.matches(password)
            return None
        return user if user.password_hash.matches(password) else None

    def anonymous_read_exposed(self, listen_address: str) -> bool:
        """Whether anyone who can reach ``listen_address`` may read without a login.

        True for anonymous reads on anything but a loopback address (``localhost``
        counts as loopback; other host names do not, as they may resolve to anything).
        """
        if not self.anonymous_read or listen_address == "localhost":
            return False
        try:
            return not ipaddress.ip_address(listen_address.strip("[]")).is_loopback
        except ValueError:
            return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersFileError(f"{path}: cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{path}: not valid TOML: {exc}") from exc


def _fail(path: Path, key: str, expected: str) -> UsersFileError:
    return UsersFileError(f"{path}: {key}: expected {expected}")


def _users_from(path: Path, document: Mapping[str, Any]) -> Users:
    for key in document:
        if key not in ("anonymous_read", "users"):
            raise _fail(path, key, "only the keys anonymous_read and users at the top level")
    anonymous_read = document.get("anonymous_read", True)
    if not isinstance(anonymous_read, bool):
        raise _fail(path, "anonymous_read", "true or false")
    tables = document.get("users", {})
    if not isinstance(tables, dict):
        raise _fail(path, "users", "a table of [users.NAME] tables")
    users = {name: _user_from(path, name, table) for name, table in tables.items()}
    return Users(users=users, anonymous_read=anonymous_read)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _user_from(path: Path, name: str, table: Any) -> User:
    where = f"users.{name}"
    if not _NAME.fullmatch(name):
        raise _fail(path, where, "a user name of letters, digits and . _ @ - (at most 64)")
    if not isinstance(table, dict):
        raise _fail(path, where, "a table")
    for key in table:
        if key not in ("password_hash", "upsmon", "actions", "instcmds"):
            raise _fail(path, f"{where}.{key}", "only password_hash, upsmon, actions and instcmds")
    password_hash = table.get("password_hash")
    parsed = _parse_hash(password_hash) if isinstance(password_hash, str) else None
    if parsed is None:
        raise _fail(path, f"{where}.password_hash", _HASH_FORM)
    upsmon = table.get("upsmon")
    if upsmon is not None and upsmon not in tuple(Upsmon):
        raise _fail(path, f"{where}.upsmon", '"primary" or "secondary"')
    actions = _strings(table.get("actions", []))
    if actions is None or not all(item.upper() in tuple(Action) for item in actions):
        raise _fail(path, f"{where}.actions", 'a list of "SET" and "FSD"')
    instcmds = _strings(table.get("instcmds", []))
    if instcmds is None or not all(_COMMAND.fullmatch(item) for item in instcmds):
        raise _fail(path, f"{where}.instcmds", '["all"] or a list of instant command names')
    return User(
        name=name,
        upsmon=Upsmon(upsmon) if upsmon is not None else None,
        actions=frozenset(Action(item.upper()) for item in actions),
        instcmds=frozenset(item.lower() for item in instcmds),
        password_hash=parsed,
    )


def add_user(
    path: Path,
    name: str,
    password: str,
    *,
    upsmon: Upsmon | str | None = None,
    actions: Iterable[str] = (),
    instcmds: Iterable[str] = (),
) -> None:
    """Add a user to the users file, or replace the one of that name; the file is 0600.

    The file is rewritten atomically and created, with its directory, if missing.
    Other users and ``anonymous_read`` are kept as they were.

    Args:
        path: The users file.
        name: Letters, digits and ``. _ @ -``, at most 64 characters.
        password: Printable ASCII (what a NUT client can send), not empty.
        upsmon: ``"primary"``, ``"secondary"`` or None.
        actions: Any of ``"SET"`` and ``"FSD"``.
        instcmds: ``"all"`` or instant command names.

    Raises:
        UsersFileError: The existing file is invalid, or an argument is; the
            message never includes the password.
    """
    if not password or not all(" " <= c <= "~" for c in password):
        raise UsersFileError(f"{path}: users.{name}: the password must be printable ASCII")
    document = dict(_read(path) or {})
    _users_from(path, document)
    table: dict[str, Any] = {"password_hash": hash_password(password)}
    if upsmon is not None:
        table["upsmon"] = str(upsmon)
    if granted := [item.upper() for item in actions]:
        table["actions"] = granted
    if commands := list(instcmds):
        table["instcmds"] = commands
    users = dict(document.get("users", {}))
    users[name] = table
    document["users"] = users
    _users_from(path, document)
    path.parent.mkdir(parents=True, exist_ok=True)
    # replace_file writes through mkstemp, whose file is 0600; os.replace keeps that.
    replace_file(path, tomli_w.dumps(document).encode())
