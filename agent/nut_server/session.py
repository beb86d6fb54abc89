"""One NUT client connection: its login state, and the reply to each request line.

The server owns the socket; it hands each received line to :meth:`Session.handle`
and sends back the :class:`Reply`. Replies and errors follow upsd (see
protocols.md §3), including the order in which it checks a request:

* a verb that changes something (LOGIN, PRIMARY, FSD, SET, INSTCMD) first needs
  USERNAME and PASSWORD to have been sent, before its arguments are looked at;
* then the UPS name (``UNKNOWN-UPS``), the device's data (``DRIVER-NOT-CONNECTED``,
  ``DATA-STALE``), the variable or command, and the user's rights, in the order
  upsd checks them for that verb.

As in upsd, the password is checked only when a privileged action is attempted
(or a read, when the users file turns anonymous reads off), never on PASSWORD
itself; a wrong one gives ``ACCESS-DENIED`` then.

Tracking (``SET TRACKING ON``) is supported honestly: commands and writes run
to completion before the reply, so ``OK TRACKING <id>`` comes back once the
outcome is known and ``GET TRACKING <id>`` answers ``SUCCESS`` or the error,
never ``PENDING``. Errors found before running (unknown UPS, no rights...) are
answered at once, as upsd does.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, assert_never

from upsight.agent.nut_server import commands, descriptions, wire
from upsight.agent.nut_server.backend import Backend, NutError, NutServerError, Writable
from upsight.agent.nut_server.logins import Logins
from upsight.agent.nut_server.users import User, Users
from upsight.drivers.base import VarKind

log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = "1.3"
HELP: Final = (
    "Commands: HELP VER PROTVER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS"
)
# Outcomes kept per connection for GET TRACKING; a client asks right after the
# command, so only the most recent ones matter.
MAX_TRACKED: Final = 64

_NUMBER: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


@dataclass(frozen=True)
class Reply:
    """What to send back for one request line.

    Attributes:
        lines: Each reply line, without the trailing newline.
        close: Close the connection once the lines are sent (LOGOUT, an over-long line).
        start_tls: Wrap the socket in TLS once the lines are sent (STARTTLS).
        reusable: The lines depend only on the request line and the backend's data,
            not on who asks: while ``Backend.version()`` stays the same, they answer
            the same line from any session whose :attr:`Session.may_read` is true.
    """

    lines: tuple[str, ...]
    close: bool = False
    start_tls: bool = False
    reusable: bool = False


def _reply(*lines: str) -> Reply:
    return Reply(lines)


def _data(*lines: str) -> Reply:
    return Reply(lines, reusable=True)


def _listing(head: str, rows: Iterable[str], *, reusable: bool = False) -> Reply:
    return Reply((f"BEGIN LIST {head}", *rows, f"END LIST {head}"), reusable=reusable)


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def _find(names: Collection[str], wanted: str) -> str | None:
    """``wanted`` as spelled in ``names``: NUT names match without regard to case."""
    # Clients nearly always spell names as served: one lookup, before any scan.
    if wanted in names:
        return wanted
    folded = wanted.lower()
    return next((name for name in names if name.lower() == folded), None)


def _check_value(spec: Writable, value: str) -> None:
    """Refuse a value ``spec`` does not accept, in upsd's order: length, then content."""
    if spec.kind is VarKind.STRING:
        # A zero length means the backend sets no limit.
        if spec.max_length and len(value) > spec.max_length:
            raise NutServerError(NutError.TOO_LONG, f"more than {spec.max_length} characters")
    elif spec.kind is VarKind.ENUM:
        if value not in spec.choices:
            raise NutServerError(NutError.INVALID_VALUE, "not one of the choices")
    else:
        number = _number(value)
        if number is None:
            raise NutServerError(NutError.INVALID_VALUE, "not a number")
        if spec.kind is VarKind.RANGE and not any(
            (low := _number(low_text)) is not None
            and (high := _number(high_text)) is not None
            and low <= number <= high
            for low_text, high_text in spec.ranges
        ):
            raise NutServerError(NutError.INVALID_VALUE, "outside the ranges")


def _read_only_type(value: str) -> str:
    """The ``GET TYPE`` words for a read-only variable.

    upsd calls every read-only variable without a type flag a NUMBER, even
    ``ups.mfr``; we say NUMBER only for values that are numbers and
    ``STRING:<length>`` for the rest.
    """
    return "NUMBER" if _number(value) is not None else f"STRING:{len(value)}"


def _writable_type(spec: Writable) -> str:
    if spec.kind is VarKind.STRING:
        return f"RW STRING:{spec.max_length}"
    return f"RW {spec.kind.value}"


class Session:
    """The state of one client connection; used by one thread at a time.

    Args:
        backend: The devices served.
        users: Who may log in, and whether reads need a login.
        logins: The server-wide registry of logged-in clients.
        peer: The client's address, as ``LIST CLIENT`` shows it.
        tls_configured: Whether the server can honour STARTTLS.
        server_version: The ``VER`` reply, e.g. ``Upsight 0.1.0 - NUT protocol 1.3``.
    """

    def __init__(
        self,
        backend: Backend,
        users: Users,
        logins: Logins,
        peer: str,
        *,
        tls_configured: bool = False,
        server_version: str,
    ) -> None:
        self._backend = backend
        self._users = users
        self._logins = logins
        self._peer = peer
        self._tls_configured = tls_configured
        self._server_version = server_version
        self._client = logins.new_client()
        self._username: str | None = None
        self._password: str | None = None
        # Authentication costs tens of milliseconds and the pair cannot change
        # once sent, so it is checked once, at the first privileged request.
        self._authenticated: User | None = None
        self._checked = False
        self._login_ups: str | None = None
        self._tls = False
        self._tracking = False
        self._outcomes: OrderedDict[str, NutError | None] = OrderedDict()

    def handle(self, line: str) -> Reply:
        """The reply to one request line (without its terminator); never raises for input."""
        try:
            wire.check_length(line)
        except NutServerError as exc:
            # The rest of an over-long line cannot be framed reliably: say why, then hang up.
            return Reply((f"ERR {exc.code}",), close=True)
        try:
            verb, args = commands.split_request(line)
            if verb in commands.CREDENTIAL_VERBS:
                self._credentials()
            elif verb in commands.READ_VERBS and not self._users.anonymous_read:
                self._user()
            return self._dispatch(commands.build(verb, args))
        except NutServerError as exc:
            return _reply(f"ERR {exc.code}")

    @property
    def may_read(self) -> bool:
        """Whether reads need no password check: reads are anonymous, or the login is good."""
        return self._users.anonymous_read or self._authenticated is not None

    def close(self) -> None:
        """The connection ended: its logins and primary claims are dropped."""
        self._logins.drop(self._client)

    def _dispatch(self, request: commands.Request) -> Reply:
        # Cases are tried in order: the polls clients repeat (upsmon, upsc, Home
        # Assistant) come first.
        match request:
            case commands.GetVar(ups=ups, var=var):
                return self._get_var(ups, var)
            case commands.ListVar(ups=ups):
                return self._list_var(ups)
            case commands.Version():
                return _reply(self._server_version)
            case commands.NetVersion():
                return _reply(PROTOCOL_VERSION)
            case commands.Help():
                return _reply(HELP)
            case commands.StartTls():
                return self._start_tls()
            case commands.Logout():
                self.close()
                return Reply(("OK Goodbye",), close=True)
            case commands.Username(name=name):
                return self._username_given(name)
            case commands.Password(password=password):
                return self._password_given(password)
            case commands.Login(ups=ups):
                return self._login(ups)
            case commands.Primary(ups=ups, legacy=legacy):
                return self._primary(ups, legacy)
            case commands.Fsd(ups=ups):
                return self._fsd(ups)
            case commands.InstCmd(ups=ups, command=command, value=value):
                return self._instcmd(ups, command, value)
            case commands.SetVar(ups=ups, var=var, value=value):
                return self._set_var(ups, var, value)
            case commands.SetTracking(on=on):
                self._tracking = on
                return _reply("OK")
            case commands.GetTracking(tracking_id=tracking_id):
                return self._get_tracking(tracking_id)
            case commands.GetType(ups=ups, var=var):
                return self._get_type(ups, var)
            case commands.GetDesc(ups=ups, var=var):
                self._values(self._ups(ups))
                return _data(f"DESC {ups} {var} {wire.quote(descriptions.variable(var))}")
            case commands.GetCmdDesc(ups=ups, command=command):
                self._values(self._ups(ups))
                text = wire.quote(descriptions.command(command))
                return _data(f"CMDDESC {ups} {command} {text}")
            case commands.GetUpsDesc(ups=ups):
                text = wire.quote(self._backend.description(self._ups(ups)))
                return _data(f"UPSDESC {ups} {text}")
            case commands.GetNumLogins(ups=ups):
                return _reply(f"NUMLOGINS {ups} {self._logins.count(self._ups(ups))}")
            case commands.ListUps():
                return self._list_ups()
            case commands.ListRw(ups=ups):
                return self._list_rw(ups)
            case commands.ListCmd(ups=ups):
                name = self._ups(ups)
                self._values(name)
                rows = (f"CMD {ups} {cmd}" for cmd in sorted(self._backend.commands(name)))
                return _listing(f"CMD {ups}", rows, reusable=True)
            case commands.ListClient(ups=ups):
                rows = (f"CLIENT {ups} {peer}" for peer in self._logins.peers(self._ups(ups)))
                return _listing(f"CLIENT {ups}", rows)
            case commands.ListEnum(ups=ups, var=var):
                spec = self._spec(ups, var)
                choices = spec.choices if spec else ()
                rows = (f"ENUM {ups} {var} {wire.quote(choice)}" for choice in choices)
                return _listing(f"ENUM {ups} {var}", rows)
            case commands.ListRange(ups=ups, var=var):
                spec = self._spec(ups, var)
                ranges = spec.ranges if spec else ()
                rows = (
                    f"RANGE {ups} {var} {wire.quote(low)} {wire.quote(high)}"
                    for low, high in ranges
                )
                return _listing(f"RANGE {ups} {var}", rows)
            case _:
                assert_never(request)

    # --- identity and rights -------------------------------------------------

    def _credentials(self) -> tuple[str, str]:
        if self._username is None:
            raise NutServerError(NutError.USERNAME_REQUIRED)
        if self._password is None:
            raise NutServerError(NutError.PASSWORD_REQUIRED)
        return self._username, self._password

    def _user(self) -> User:
        """The user the client's USERNAME and PASSWORD name, or ``ACCESS-DENIED``."""
        name, password = self._credentials()
        if not self._checked:
            self._authenticated = self._users.authenticate(name, password)
            self._checked = True
            if self._authenticated is None:
                log.info("NUT client at %s: wrong user name or password", self._peer)
        if self._authenticated is None:
            raise NutServerError(NutError.ACCESS_DENIED, "wrong user name or password")
        return self._authenticated

    def _allowed(self, allowed: Callable[[User], bool], what: str) -> User:
        user = self._user()
        if not allowed(user):
            log.info("NUT client %s@%s may not %s", user.name, self._peer, what)
            raise NutServerError(NutError.ACCESS_DENIED, f"{user.name} may not {what}")
        return user

    def _username_given(self, name: str) -> Reply:
        if self._username is not None:
            raise NutServerError(NutError.ALREADY_SET_USERNAME)
        self._username = name
        return _reply("OK")

    def _password_given(self, password: str) -> Reply:
        if self._password is not None:
            raise NutServerError(NutError.ALREADY_SET_PASSWORD)
        self._password = password
        return _reply("OK")

    def _start_tls(self) -> Reply:
        if self._tls:
            raise NutServerError(NutError.ALREADY_SSL_MODE)
        if not self._tls_configured:
            raise NutServerError(NutError.FEATURE_NOT_CONFIGURED)
        self._tls = True
        return Reply(("OK STARTTLS",), start_tls=True)

    # --- privileged requests -------------------------------------------------

    def _login(self, ups: str) -> Reply:
        if self._login_ups is not None:
            raise NutServerError(NutError.ALREADY_LOGGED_IN)
        name = self._ups(ups)
        user = self._allowed(lambda user: user.may_login(primary=False), f"log in to {name}")
        self._logins.login(self._client, name, self._peer, user.name)
        self._login_ups = name
        log.info("NUT client %s@%s logged in to %s", user.name, self._peer, name)
        return _reply("OK")

    def _primary(self, ups: str, legacy: bool) -> Reply:
        name = self._ups(ups)
        user = self._allowed(lambda user: user.may_login(primary=True), f"be primary on {name}")
        self._logins.claim_primary(self._client, name, self._peer, user.name)
        return _reply("OK MASTER-GRANTED" if legacy else "OK PRIMARY-GRANTED")

    def _fsd(self, ups: str) -> Reply:
        name = self._ups(ups)
        user = self._allowed(User.may_fsd, f"force shutdown of {name}")
        log.warning("NUT client %s@%s set forced shutdown on %s", user.name, self._peer, name)
        self._backend.set_fsd(name, f"{user.name}@{self._peer}")
        return _reply("OK FSD-SET")

    def _instcmd(self, ups: str, command: str, value: str | None) -> Reply:
        name = self._ups(ups)
        self._values(name)
        cmd = _find(self._backend.commands(name), command)
        if cmd is None:
            raise NutServerError(NutError.CMD_NOT_SUPPORTED, f"{name} has no command {command}")
        user = self._allowed(lambda user: user.may_run(cmd), f"run {cmd} on {name}")
        log.info("NUT client %s@%s runs %s on %s", user.name, self._peer, cmd, name)
        return self._run(lambda: self._backend.run_command(name, cmd, value))

    def _set_var(self, ups: str, var: str, value: str) -> Reply:
        name = self._ups(ups)
        values = self._values(name)
        user = self._allowed(User.may_set, f"change variables of {name}")
        writable = self._backend.writable(name)
        key = _find(writable, var)
        if key is None:
            code = NutError.VAR_NOT_SUPPORTED if _find(values, var) is None else NutError.READONLY
            raise NutServerError(code, f"{name} cannot change {var}")
        _check_value(writable[key], value)
        log.info("NUT client %s@%s sets %s on %s", user.name, self._peer, key, name)
        return self._run(lambda: self._backend.set_variable(name, key, value))

    def _run(self, action: Callable[[], None]) -> Reply:
        """Run a command or a write; with tracking on, its outcome is kept under a new id."""
        if not self._tracking:
            action()
            return _reply("OK")
        tracking_id = str(uuid.uuid4()).upper()
        outcome: NutError | None = None
        try:
            action()
        except NutServerError as exc:
            outcome = exc.code
        self._outcomes[tracking_id] = outcome
        while len(self._outcomes) > MAX_TRACKED:
            self._outcomes.popitem(last=False)
        return _reply(f"OK TRACKING {tracking_id}")

    def _get_tracking(self, tracking_id: str | None) -> Reply:
        if tracking_id is None:
            return _reply("ON" if self._tracking else "OFF")
        if not self._tracking:
            raise NutServerError(NutError.FEATURE_NOT_CONFIGURED, "tracking is off")
        key = tracking_id.upper()
        if key not in self._outcomes:
            # upsd answers "ERR UNKNOWN", which is no protocol error name; an id this
            # connection never got is an invalid argument.
            raise NutServerError(NutError.INVALID_ARGUMENT, "unknown tracking id")
        outcome = self._outcomes[key]
        return _reply("SUCCESS" if outcome is None else f"ERR {outcome}")

    # --- reads ---------------------------------------------------------------

    def _ups(self, ups: str) -> str:
        """The served name ``ups`` refers to, or ``UNKNOWN-UPS``."""
        name = _find(self._backend.names(), ups)
        if name is None:
            raise NutServerError(NutError.UNKNOWN_UPS, f"no UPS named {ups}")
        return name

    def _values(self, name: str) -> Mapping[str, str]:
        """The UPS's variables; raises ``DRIVER-NOT-CONNECTED`` or ``DATA-STALE`` first."""
        return self._backend.variables(name)

    def _get_var(self, ups: str, var: str) -> Reply:
        values = self._values(self._ups(ups))
        key = _find(values, var)
        if key is None:
            raise NutServerError(NutError.VAR_NOT_SUPPORTED, f"{ups} has no {var}")
        return _data(f"VAR {ups} {var} {wire.quote(values[key])}")

    def _get_type(self, ups: str, var: str) -> Reply:
        name = self._ups(ups)
        values = self._values(name)
        writable = self._backend.writable(name)
        key = _find(writable, var)
        if key is not None:
            return _reply(f"TYPE {ups} {var} {_writable_type(writable[key])}")
        key = _find(values, var)
        if key is None:
            raise NutServerError(NutError.VAR_NOT_SUPPORTED, f"{ups} has no {var}")
        return _reply(f"TYPE {ups} {var} {_read_only_type(values[key])}")

    def _spec(self, ups: str, var: str) -> Writable | None:
        """What ``var`` accepts (None when read-only), for LIST ENUM and LIST RANGE."""
        name = self._ups(ups)
        values = self._values(name)
        writable = self._backend.writable(name)
        key = _find(writable, var)
        if key is not None:
            return writable[key]
        if _find(values, var) is None:
            raise NutServerError(NutError.VAR_NOT_SUPPORTED, f"{ups} has no {var}")
        return None

    def _list_ups(self) -> Reply:
        names = self._backend.names()
        rows = (f"UPS {name} {wire.quote(self._backend.description(name))}" for name in names)
        return _listing("UPS", rows, reusable=True)

    def _list_var(self, ups: str) -> Reply:
        values = self._values(self._ups(ups))
        rows = (
            f"VAR {ups} {var} {wire.quote(values[var])}" for var in sorted(values, key=str.lower)
        )
        return _listing(f"VAR {ups}", rows, reusable=True)

    def _list_rw(self, ups: str) -> Reply:
        name = self._ups(ups)
        self._values(name)
        writable = self._backend.writable(name)
        rows = (
            f"RW {ups} {var} {wire.quote(writable[var].value)}"
            for var in sorted(writable, key=str.lower)
        )
        return _listing(f"RW {ups}", rows)
