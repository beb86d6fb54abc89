"""Pure NUT network protocol: quoting, splitting reply lines, and error codes.

Requests and replies are ``\\n``-terminated ASCII lines; multi-word values are
double-quoted with ``\\"`` and ``\\\\`` escaped (nut docs/net-protocol.txt).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from upsight.drivers.errors import (
    DataStale,
    Disconnected,
    NotFound,
    PermissionDenied,
    ProtocolError,
    UnsupportedCommand,
    UpsError,
)


def quote(value: str) -> str:
    """Quote a word for a request, escaping backslashes and double quotes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def split_words(line: str) -> list[str]:
    """Split a reply line into words, honouring double quotes and backslash escapes.

    Raises:
        ProtocolError: an unterminated quote.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = in_word = True
        elif char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if quoted or escaped:
        raise ProtocolError(f"unterminated quote in NUT reply {line[:80]!r}")
    if in_word:
        words.append("".join(current))
    return words


# ERR codes mapped onto the error tree at the edge (nut docs/net-protocol.txt).
_ERRORS: Final[Mapping[str, type[UpsError]]] = {
    "DATA-STALE": DataStale,
    "DRIVER-NOT-CONNECTED": Disconnected,
    "UNKNOWN-UPS": NotFound,
    "ACCESS-DENIED": PermissionDenied,
    "USERNAME-REQUIRED": PermissionDenied,
    "PASSWORD-REQUIRED": PermissionDenied,
    "INVALID-PASSWORD": PermissionDenied,
    "INVALID-USERNAME": PermissionDenied,
    "CMD-NOT-SUPPORTED": UnsupportedCommand,
}

_MEANINGS: Final[Mapping[str, str]] = {
    "DATA-STALE": "the NUT driver's data is stale",
    "DRIVER-NOT-CONNECTED": "upsd is not connected to the UPS driver",
    "UNKNOWN-UPS": "upsd does not know this UPS name",
    "ACCESS-DENIED": "upsd denied access (check the user's rights in upsd.users)",
    "INVALID-PASSWORD": "upsd rejected the password",
    "CMD-NOT-SUPPORTED": "the UPS does not support this command",
}


def error_for(line: str, context: str) -> UpsError:
    """The exception for an ``ERR <CODE> [extra]`` reply, naming the request context."""
    words = line.split()
    code = words[1] if len(words) > 1 else "?"
    meaning = _MEANINGS.get(code, f"upsd answered {line.strip()!r}")
    return _ERRORS.get(code, ProtocolError)(f"{context}: {meaning}")
