"""What a NUT protocol session needs from the agent, and the protocol's error codes."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from upsight.drivers.base import VarKind


class NutError(enum.StrEnum):
    """The single-token error names of the NUT network protocol (``ERR <name>``)."""

    ACCESS_DENIED = "ACCESS-DENIED"
    UNKNOWN_UPS = "UNKNOWN-UPS"
    VAR_NOT_SUPPORTED = "VAR-NOT-SUPPORTED"
    CMD_NOT_SUPPORTED = "CMD-NOT-SUPPORTED"
    INVALID_ARGUMENT = "INVALID-ARGUMENT"
    INSTCMD_FAILED = "INSTCMD-FAILED"
    SET_FAILED = "SET-FAILED"
    READONLY = "READONLY"
    TOO_LONG = "TOO-LONG"
    FEATURE_NOT_SUPPORTED = "FEATURE-NOT-SUPPORTED"
    FEATURE_NOT_CONFIGURED = "FEATURE-NOT-CONFIGURED"
    ALREADY_SSL_MODE = "ALREADY-SSL-MODE"
    DRIVER_NOT_CONNECTED = "DRIVER-NOT-CONNECTED"
    DATA_STALE = "DATA-STALE"
    ALREADY_LOGGED_IN = "ALREADY-LOGGED-IN"
    INVALID_PASSWORD = "INVALID-PASSWORD"
    ALREADY_SET_PASSWORD = "ALREADY-SET-PASSWORD"
    INVALID_USERNAME = "INVALID-USERNAME"
    ALREADY_SET_USERNAME = "ALREADY-SET-USERNAME"
    USERNAME_REQUIRED = "USERNAME-REQUIRED"
    PASSWORD_REQUIRED = "PASSWORD-REQUIRED"
    UNKNOWN_COMMAND = "UNKNOWN-COMMAND"
    INVALID_VALUE = "INVALID-VALUE"


class NutServerError(Exception):
    """A request the server answers with ``ERR <code>``; the message is for the log only."""

    def __init__(self, code: NutError, message: str = "") -> None:
        super().__init__(message or code.value)
        self.code = code


@dataclass(frozen=True)
class Writable:
    """A variable a client may change with ``SET VAR``, and what it accepts."""

    value: str
    kind: VarKind = VarKind.STRING
    max_length: int = 0
    choices: tuple[str, ...] = ()
    ranges: tuple[tuple[str, str], ...] = ()


class Backend(Protocol):
    """The devices a server offers. Every method may be called from any session thread.

    Methods taking a UPS name raise ``NutServerError(UNKNOWN_UPS)`` for a name not
    served. Reads raise ``DRIVER_NOT_CONNECTED`` before the device's first reading
    and ``DATA_STALE`` while its data is stale, in that order (as upsd does).
    """

    def version(self) -> object:
        """What every read answers from now: a new object once any answer may differ.

        A server may keep replies to reads and give them again while this returns
        the same object (compared with ``is``). It changes with each new reading or
        device state, and as soon as :meth:`set_fsd` returns.
        """
        ...

    def names(self) -> Sequence[str]:
        """The served UPS names, in listing order."""
        ...

    def description(self, ups: str) -> str:
        """The ``LIST UPS`` / ``GET UPSDESC`` text; ``Unavailable`` when none is set."""
        ...

    def variables(self, ups: str) -> Mapping[str, str]:
        """Every variable as NUT prints it, ``ups.status`` (with any FSD latch) included."""
        ...

    def writable(self, ups: str) -> Mapping[str, Writable]:
        """The variables ``SET VAR`` may change."""
        ...

    def commands(self, ups: str) -> frozenset[str]:
        """The instant commands ``INSTCMD`` may run."""
        ...

    def run_command(self, ups: str, name: str, value: str | None) -> None:
        """Run an instant command; ``CMD_NOT_SUPPORTED`` or ``INSTCMD_FAILED`` on failure."""
        ...

    def set_variable(self, ups: str, name: str, value: str) -> None:
        """Change a writable variable; ``VAR_NOT_SUPPORTED``, ``READONLY``, ``INVALID_VALUE``
        or ``SET_FAILED`` on failure."""
        ...

    def set_fsd(self, ups: str, by: str) -> None:
        """Latch forced shutdown on the UPS (``by`` names who asked, for the log)."""
        ...
