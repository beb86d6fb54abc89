"""The device token and install secret, kept only in the OS keychain and never in a plain file."""

from __future__ import annotations

import base64
import secrets
from typing import Final, NoReturn

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from upsight.drivers.errors import UpsError

SERVICE: Final = "upsight"
"""The keychain service name every Upsight item is filed under."""
INSTALL_SECRET_ITEM: Final = "install_secret"
TOKEN_ITEM: Final = "token"
INSTALL_SECRET_BYTES: Final = 32
RECOMMENDED_PRIORITY: Final = 1
"""keyring's own bar for a recommended backend (``keyring.core.recommended``)."""

# keyrings.alt calls all of its backends non-recommended: plain or password-encrypted files
# beside the user's data. The class names also cover older keyring releases that shipped
# the same backends in keyring.backends.file.
_FILE_BACKEND_PACKAGES: Final = ("keyrings.alt",)
_FILE_BACKEND_NAMES: Final = frozenset({"PlaintextKeyring", "EncryptedKeyring"})
_DAMAGED: Final = "the stored install secret is damaged; resetting identifiers replaces it"


class SecureStorageUnavailable(UpsError):
    """No system keychain can hold Upsight's secrets, so cloud features stay off.

    The message names the backend and, for keychain failures, the error class; it never
    carries a secret or the keychain's own error text, which may echo one.

    Attributes:
        backend: The keyring backend's qualified class name.
        reason: What is wrong with it.
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(
            f"secure storage unavailable ({backend}): cloud features stay off until a "
            f"system keychain is available; {reason}"
        )


def _qualified_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _own_problem(backend: KeyringBackend) -> str | None:
    """Why a single (non-chain) backend is not a system keychain, or None if it is one."""
    cls = type(backend)
    if isinstance(backend, fail.Keyring):
        return "no system keychain was found"
    if isinstance(backend, null.Keyring):
        return "the null backend silently discards secrets"
    package = cls.__module__
    if cls.__name__ in _FILE_BACKEND_NAMES or any(
        package == p or package.startswith(f"{p}.") for p in _FILE_BACKEND_PACKAGES
    ):
        return "a file-based store is not a system keychain"
    try:
        priority = float(cls.priority)
    except Exception as exc:
        # keyring's own test of viability: a backend's priority raises where it cannot run.
        return f"the backend cannot run here ({_qualified_name(exc)})"
    if priority < RECOMMENDED_PRIORITY:
        return (
            f"priority {priority:g} is below keyring's recommended minimum "
            f"of {RECOMMENDED_PRIORITY}"
        )
    return None


def _resolve(backend: KeyringBackend) -> tuple[KeyringBackend, str | None]:
    """The backend to use and why it is unusable (None when it is usable).

    A keyring chain reads from every member and may write to whichever comes first, so it is
    never used as such: Upsight uses only its highest-priority system keychain and never
    reads or writes the other members.
    """
    if not isinstance(backend, chainer.ChainerBackend):
        return backend, _own_problem(backend)
    members: list[KeyringBackend] = list(backend.backends)
    usable = [m for m in members if _own_problem(m) is None]
    if usable:
        return max(usable, key=lambda m: float(type(m).priority)), None
    names = ", ".join(_qualified_name(m) for m in members) or "none"
    return backend, f"the keyring chain holds no system keychain (members: {names})"


class Secrets:
    """The device/enrolment token and the install secret, in the OS keychain only.

    Every call goes to the keychain; nothing secret is kept on the object. A backend that is
    not a system keychain (see ``problem()``) is never touched, and there is no fallback.

    Args:
        backend: The keyring backend; None means the one keyring selects for this process.
        service: The keychain service name.
    """

    def __init__(self, backend: KeyringBackend | None = None, *, service: str = SERVICE) -> None:
        self._given = backend if backend is not None else keyring.get_keyring()
        self._store, self._problem = _resolve(self._given)
        self._service = service

    def __repr__(self) -> str:
        return f"Secrets(backend={_qualified_name(self._store)!r}, service={self._service!r})"

    def problem(self) -> str | None:
        """Why the backend is not a secure store, or None if it is.

        Refused: keyring's ``fail`` and ``null`` backends; file stores from ``keyrings.alt``
        (matched by package or class name, so the package need not be installed); any backend
        keyring would not recommend (priority below 1, or a priority that raises); and a
        keyring chain with no member that passes these rules.

        Returns:
            ``"<backend class>: <reason>"``, or None.
        """
        if self._problem is None:
            return None
        return f"{_qualified_name(self._given)}: {self._problem}"

    def install_secret(self) -> bytes:
        """The 32-byte HMAC key for pseudonyms, created on first use.

        Returns:
            The secret.

        Raises:
            SecureStorageUnavailable: No system keychain, the keychain failed, or the stored
                secret is damaged (``rotate_install_secret()`` replaces it).
        """
        stored = self._get(INSTALL_SECRET_ITEM)
        if stored is None:
            return self.rotate_install_secret()
        return self._decode_install_secret(stored)

    def rotate_install_secret(self) -> bytes:
        """Replace the install secret, making earlier pseudonyms unlinkable.

        This is the user's explicit reset, so it also replaces a damaged secret.

        Returns:
            The new secret.

        Raises:
            SecureStorageUnavailable: No system keychain, or the keychain failed.
        """
        fresh = secrets.token_bytes(INSTALL_SECRET_BYTES)
        self._set(INSTALL_SECRET_ITEM, base64.b64encode(fresh).decode("ascii"))
        # Read back, so a backend that accepts writes but keeps nothing cannot hand out a
        # secret that is lost at the next start; a concurrent writer's value wins here.
        stored = self._get(INSTALL_SECRET_ITEM)
        if stored is None:
            self._fail("the keychain did not keep the install secret")
        return self._decode_install_secret(stored)

    def token(self) -> str | None:
        """The bearer device/enrolment token, or None when signed out.

        Raises:
            SecureStorageUnavailable: No system keychain, or the keychain failed.
        """
        return self._get(TOKEN_ITEM)

    def set_token(self, token: str) -> None:
        """Store the bearer device/enrolment token, replacing any earlier one.

        Raises:
            ValueError: The token is empty.
            SecureStorageUnavailable: No system keychain, or the keychain failed.
        """
        if not token:
            raise ValueError("the token is empty")
        self._set(TOKEN_ITEM, token)

    def delete_token(self) -> None:
        """Sign out by deleting the token; nothing happens if there is none.

        Raises:
            SecureStorageUnavailable: No system keychain, or the keychain failed.
        """
        self._delete(TOKEN_ITEM)

    def forget_all(self) -> None:
        """Delete the token and the install secret, for "Delete local data".

        Raises:
            SecureStorageUnavailable: No system keychain, or the keychain failed.
        """
        self._delete(TOKEN_ITEM)
        self._delete(INSTALL_SECRET_ITEM)

    def _decode_install_secret(self, stored: str) -> bytes:
        # A damaged secret is reported, not replaced: replacing it would silently unlink every
        # pseudonym already sent, which only the user's explicit reset may do.
        try:
            raw = base64.b64decode(stored, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raw = b""
        if len(raw) != INSTALL_SECRET_BYTES:
            self._fail(_DAMAGED)
        return raw

    def _get(self, item: str) -> str | None:
        self._check()
        try:
            return self._store.get_password(self._service, item)
        except Exception as exc:
            self._keychain_failed(exc)

    def _set(self, item: str, value: str) -> None:
        self._check()
        try:
            self._store.set_password(self._service, item, value)
        except Exception as exc:
            self._keychain_failed(exc)

    def _delete(self, item: str) -> None:
        # keyring reports a missing item and a failed delete alike, so look first.
        if self._get(item) is None:
            return
        try:
            self._store.delete_password(self._service, item)
        except Exception as exc:
            self._keychain_failed(exc)

    def _check(self) -> None:
        if self._problem is not None:
            raise SecureStorageUnavailable(_qualified_name(self._given), self._problem)

    def _keychain_failed(self, exc: Exception) -> NoReturn:
        # Backends (a locked Secret Service, D-Bus, a keychain prompt) raise anything, and their
        # text may echo the stored value; only the class is kept, and the chain is cut so no
        # traceback carries it into a log.
        raise SecureStorageUnavailable(
            _qualified_name(self._store), f"the keychain failed with {_qualified_name(exc)}"
        ) from None

    def _fail(self, reason: str) -> NoReturn:
        raise SecureStorageUnavailable(_qualified_name(self._store), reason)
