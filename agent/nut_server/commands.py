"""NUT protocol requests as typed values, and the parser from a line to one (pure).

Verbs and their sub-keywords (``GET VAR``, ``LIST ENUM``...) are matched without
regard to case, as upsd does. Each request takes an exact number of words;
upsd ignores surplus words after some verbs, we refuse them with
``INVALID-ARGUMENT`` (no client sends them, and a request that says more than
it means is better refused than half obeyed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from upsight.agent.nut_server import wire
from upsight.agent.nut_server.backend import NutError, NutServerError


@dataclass(frozen=True)
class Version:
    """``VER``: the server's banner."""


@dataclass(frozen=True)
class NetVersion:
    """``NETVER`` or ``PROTVER``: the protocol version."""


@dataclass(frozen=True)
class Help:
    """``HELP``: the verbs the server knows."""


@dataclass(frozen=True)
class StartTls:
    """``STARTTLS``: switch the connection to TLS."""


@dataclass(frozen=True)
class Logout:
    """``LOGOUT``: say goodbye and close."""


@dataclass(frozen=True)
class Username:
    """``USERNAME <name>``."""

    name: str


@dataclass(frozen=True)
class Password:
    """``PASSWORD <password>``; the password never appears in a repr."""

    password: str = field(repr=False)


@dataclass(frozen=True)
class Login:
    """``LOGIN <ups>``: count this client among the UPS's clients."""

    ups: str


@dataclass(frozen=True)
class Primary:
    """``PRIMARY <ups>``, or its older name ``MASTER <ups>`` when ``legacy``."""

    ups: str
    legacy: bool = False


@dataclass(frozen=True)
class Fsd:
    """``FSD <ups>``: latch forced shutdown."""

    ups: str


@dataclass(frozen=True)
class InstCmd:
    """``INSTCMD <ups> <command> [<value>]``."""

    ups: str
    command: str
    value: str | None = None


@dataclass(frozen=True)
class SetVar:
    """``SET VAR <ups> <var> <value>``."""

    ups: str
    var: str
    value: str


@dataclass(frozen=True)
class SetTracking:
    """``SET TRACKING ON|OFF``."""

    on: bool


@dataclass(frozen=True)
class GetTracking:
    """``GET TRACKING [<id>]``: whether tracking is on, or one command's outcome."""

    tracking_id: str | None = None


@dataclass(frozen=True)
class GetVar:
    """``GET VAR <ups> <var>``."""

    ups: str
    var: str


@dataclass(frozen=True)
class GetType:
    """``GET TYPE <ups> <var>``."""

    ups: str
    var: str


@dataclass(frozen=True)
class GetDesc:
    """``GET DESC <ups> <var>``."""

    ups: str
    var: str


@dataclass(frozen=True)
class GetCmdDesc:
    """``GET CMDDESC <ups> <command>``."""

    ups: str
    command: str


@dataclass(frozen=True)
class GetUpsDesc:
    """``GET UPSDESC <ups>``."""

    ups: str


@dataclass(frozen=True)
class GetNumLogins:
    """``GET NUMLOGINS <ups>``."""

    ups: str


@dataclass(frozen=True)
class ListUps:
    """``LIST UPS``."""


@dataclass(frozen=True)
class ListVar:
    """``LIST VAR <ups>``."""

    ups: str


@dataclass(frozen=True)
class ListRw:
    """``LIST RW <ups>``."""

    ups: str


@dataclass(frozen=True)
class ListCmd:
    """``LIST CMD <ups>``."""

    ups: str


@dataclass(frozen=True)
class ListClient:
    """``LIST CLIENT <ups>``."""

    ups: str


@dataclass(frozen=True)
class ListEnum:
    """``LIST ENUM <ups> <var>``."""

    ups: str
    var: str


@dataclass(frozen=True)
class ListRange:
    """``LIST RANGE <ups> <var>``."""

    ups: str
    var: str


Request = (
    Version
    | NetVersion
    | Help
    | StartTls
    | Logout
    | Username
    | Password
    | Login
    | Primary
    | Fsd
    | InstCmd
    | SetVar
    | SetTracking
    | GetTracking
    | GetVar
    | GetType
    | GetDesc
    | GetCmdDesc
    | GetUpsDesc
    | GetNumLogins
    | ListUps
    | ListVar
    | ListRw
    | ListCmd
    | ListClient
    | ListEnum
    | ListRange
)

# upsd asks for USERNAME and PASSWORD before looking at these verbs' arguments.
CREDENTIAL_VERBS: Final = frozenset({"LOGIN", "MASTER", "PRIMARY", "FSD", "SET", "INSTCMD"})
# The verbs that only read; a server may demand a login for them.
READ_VERBS: Final = frozenset({"GET", "LIST"})


def _tracking(state: str) -> SetTracking:
    if state.upper() not in ("ON", "OFF"):
        raise NutServerError(NutError.INVALID_ARGUMENT, "SET TRACKING takes ON or OFF")
    return SetTracking(on=state.upper() == "ON")


@dataclass(frozen=True)
class _Shape:
    """How one request is built: its constructor, how many words it takes, which are names."""

    build: Callable[..., Request]
    min_args: int
    max_args: int
    names: int = 0  # the first this many arguments must be bare names (see wire.is_name)


def _shape(
    build: Callable[..., Request], args: int, *, optional: int = 0, names: int = 0
) -> _Shape:
    return _Shape(build, args, args + optional, names)


# Keyed by verb and sub-keyword (None for verbs that have none).
_SHAPES: Final[dict[tuple[str, str | None], _Shape]] = {
    ("VER", None): _shape(Version, 0),
    ("NETVER", None): _shape(NetVersion, 0),
    ("PROTVER", None): _shape(NetVersion, 0),
    ("HELP", None): _shape(Help, 0),
    ("STARTTLS", None): _shape(StartTls, 0),
    ("LOGOUT", None): _shape(Logout, 0),
    ("USERNAME", None): _shape(Username, 1),
    ("PASSWORD", None): _shape(Password, 1),
    ("LOGIN", None): _shape(Login, 1, names=1),
    ("PRIMARY", None): _shape(Primary, 1, names=1),
    ("MASTER", None): _shape(lambda ups: Primary(ups, legacy=True), 1, names=1),
    ("FSD", None): _shape(Fsd, 1, names=1),
    ("INSTCMD", None): _shape(InstCmd, 2, optional=1, names=2),
    ("SET", "VAR"): _shape(SetVar, 3, names=2),
    ("SET", "TRACKING"): _shape(_tracking, 1),
    ("GET", "TRACKING"): _shape(GetTracking, 0, optional=1, names=1),
    ("GET", "VAR"): _shape(GetVar, 2, names=2),
    ("GET", "TYPE"): _shape(GetType, 2, names=2),
    ("GET", "DESC"): _shape(GetDesc, 2, names=2),
    ("GET", "CMDDESC"): _shape(GetCmdDesc, 2, names=2),
    ("GET", "UPSDESC"): _shape(GetUpsDesc, 1, names=1),
    ("GET", "NUMLOGINS"): _shape(GetNumLogins, 1, names=1),
    ("LIST", "UPS"): _shape(ListUps, 0),
    ("LIST", "VAR"): _shape(ListVar, 1, names=1),
    ("LIST", "RW"): _shape(ListRw, 1, names=1),
    ("LIST", "CMD"): _shape(ListCmd, 1, names=1),
    ("LIST", "CLIENT"): _shape(ListClient, 1, names=1),
    ("LIST", "ENUM"): _shape(ListEnum, 2, names=2),
    ("LIST", "RANGE"): _shape(ListRange, 2, names=2),
}

VERBS: Final = frozenset(verb for verb, _ in _SHAPES)
_WITH_KEYWORD: Final = frozenset(verb for verb, keyword in _SHAPES if keyword is not None)


def split_request(line: str) -> tuple[str, list[str]]:
    """The verb (upper-cased) and the remaining words of a request line.

    Raises:
        NutServerError: ``INVALID_ARGUMENT`` for a line :func:`wire.split_words`
            refuses; ``UNKNOWN_COMMAND`` for an empty line or an unknown verb.
    """
    words = wire.split_words(line)
    if not words or words[0].upper() not in VERBS:
        raise NutServerError(NutError.UNKNOWN_COMMAND, words[0] if words else "empty line")
    return words[0].upper(), words[1:]


def build(verb: str, args: list[str]) -> Request:
    """The request a verb from :func:`split_request` and its arguments make.

    Raises:
        NutServerError: ``INVALID_ARGUMENT`` for an unknown sub-keyword, a wrong
            number of arguments, or a name that is not a bare word.
    """
    keyword: str | None = None
    if verb in _WITH_KEYWORD:
        if not args:
            raise NutServerError(NutError.INVALID_ARGUMENT, f"{verb} needs a keyword")
        keyword, args = args[0].upper(), args[1:]
    shape = _SHAPES.get((verb, keyword))
    if shape is None:
        raise NutServerError(NutError.INVALID_ARGUMENT, f"unknown {verb} {keyword}")
    if not shape.min_args <= len(args) <= shape.max_args:
        raise NutServerError(NutError.INVALID_ARGUMENT, f"{verb} given {len(args)} arguments")
    if not wire.are_names(args[: shape.names]):
        raise NutServerError(NutError.INVALID_ARGUMENT, f"{verb} given a malformed name")
    return shape.build(*args)


def parse(line: str) -> Request:
    """Parse one request line (without its terminator).

    Raises:
        NutServerError: As :func:`split_request` and :func:`build` do.
    """
    return build(*split_request(line))
