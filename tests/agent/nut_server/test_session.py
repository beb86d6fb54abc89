"""Tests of one NUT client session: replies, errors and their order, rights, logins, tracking."""

from __future__ import annotations

import re
import threading

import pytest

from upsight.agent.nut_server import wire
from upsight.agent.nut_server.backend import NutError, Writable
from upsight.agent.nut_server.logins import Logins
from upsight.agent.nut_server.session import HELP, MAX_TRACKED, Reply, Session
from upsight.agent.nut_server.users import Users

from .fake_backend import PASSWORD, USERS, FakeBackend, sample_backend

VERSION = "Upsight 0.1.0 - NUT protocol 1.3"


def make_session(
    backend: FakeBackend | None = None,
    *,
    users: Users = USERS,
    logins: Logins | None = None,
    peer: str = "127.0.0.1",
    tls: bool = False,
) -> Session:
    return Session(
        backend or sample_backend(),
        users,
        logins or Logins(),
        peer,
        tls_configured=tls,
        server_version=VERSION,
    )


def ask(session: Session, line: str) -> list[str]:
    return list(session.handle(line).lines)


def identify(session: Session, user: str, password: str = PASSWORD) -> None:
    assert ask(session, f"USERNAME {user}") == ["OK"]
    assert ask(session, f'PASSWORD "{password}"') == ["OK"]


@pytest.mark.parametrize(
    ("request_line", "reply"),
    [
        ("VER", [VERSION]),
        ("NETVER", ["1.3"]),
        ("PROTVER", ["1.3"]),
        ("help", [HELP]),
        (
            "LIST UPS",
            [
                "BEGIN LIST UPS",
                'UPS ups "Rack \\"A\\" \\#1 \\\\ main"',
                'UPS starting "Unavailable"',
                'UPS stale "Unavailable"',
                "END LIST UPS",
            ],
        ),
        (
            "LIST VAR ups",
            [
                "BEGIN LIST VAR ups",
                'VAR ups battery.charge "100"',
                'VAR ups battery.charge.low "10"',
                'VAR ups device.model "Back \\"Pro\\" 650\\\\2"',
                'VAR ups input.sensitivity "medium"',
                'VAR ups ups.delay.shutdown "20"',
                'VAR ups ups.id "rack-a"',
                'VAR ups ups.mfr "Acme Power"',
                'VAR ups ups.status "OL"',
                "END LIST VAR ups",
            ],
        ),
        (
            "LIST RW ups",
            [
                "BEGIN LIST RW ups",
                'RW ups battery.charge.low "10"',
                'RW ups input.sensitivity "medium"',
                'RW ups ups.delay.shutdown "20"',
                'RW ups ups.id "rack-a"',
                "END LIST RW ups",
            ],
        ),
        (
            "LIST CMD ups",
            [
                "BEGIN LIST CMD ups",
                "CMD ups beeper.disable",
                "CMD ups load.off",
                "CMD ups test.battery.start.quick",
                "END LIST CMD ups",
            ],
        ),
        (
            "LIST ENUM ups input.sensitivity",
            [
                "BEGIN LIST ENUM ups input.sensitivity",
                'ENUM ups input.sensitivity "low"',
                'ENUM ups input.sensitivity "medium"',
                'ENUM ups input.sensitivity "high"',
                "END LIST ENUM ups input.sensitivity",
            ],
        ),
        (
            "LIST RANGE ups ups.delay.shutdown",
            [
                "BEGIN LIST RANGE ups ups.delay.shutdown",
                'RANGE ups ups.delay.shutdown "0" "60"',
                'RANGE ups ups.delay.shutdown "90" "120"',
                "END LIST RANGE ups ups.delay.shutdown",
            ],
        ),
        (
            "LIST ENUM ups ups.mfr",
            ["BEGIN LIST ENUM ups ups.mfr", "END LIST ENUM ups ups.mfr"],
        ),
        ("LIST CLIENT ups", ["BEGIN LIST CLIENT ups", "END LIST CLIENT ups"]),
        ("GET VAR ups ups.status", ['VAR ups ups.status "OL"']),
        # Names match without regard to case and are echoed as the client spelled them.
        ("get var UPS UPS.Status", ['VAR UPS UPS.Status "OL"']),
        ('GET VAR "ups" "ups.mfr"', ['VAR ups ups.mfr "Acme Power"']),
        ("GET TYPE ups input.sensitivity", ["TYPE ups input.sensitivity RW ENUM"]),
        ("GET TYPE ups ups.delay.shutdown", ["TYPE ups ups.delay.shutdown RW RANGE"]),
        ("GET TYPE ups ups.id", ["TYPE ups ups.id RW STRING:12"]),
        ("GET TYPE ups battery.charge.low", ["TYPE ups battery.charge.low RW NUMBER"]),
        ("GET TYPE ups battery.charge", ["TYPE ups battery.charge NUMBER"]),
        ("GET TYPE ups ups.mfr", ["TYPE ups ups.mfr STRING:10"]),
        (
            "GET DESC ups battery.charge",
            ['DESC ups battery.charge "Battery charge, in percent of full"'],
        ),
        ("GET DESC ups no.such.var", ['DESC ups no.such.var "Description unavailable"']),
        ("GET CMDDESC ups load.off", ['CMDDESC ups load.off "Cut power to the load now"']),
        ("GET CMDDESC ups no.such", ['CMDDESC ups no.such "Description unavailable"']),
        ("GET UPSDESC ups", ['UPSDESC ups "Rack \\"A\\" \\#1 \\\\ main"']),
        ("GET NUMLOGINS ups", ["NUMLOGINS ups 0"]),
        # upsd answers these from its own records, whatever the device's state.
        ("GET NUMLOGINS stale", ["NUMLOGINS stale 0"]),
        ("GET UPSDESC starting", ['UPSDESC starting "Unavailable"']),
        ("LIST CLIENT stale", ["BEGIN LIST CLIENT stale", "END LIST CLIENT stale"]),
        ("GET TRACKING", ["OFF"]),
        ("GET VAR ups ups.status\r", ["ERR INVALID-ARGUMENT"]),
    ],
)
def test_anonymous_reads(request_line: str, reply: list[str]) -> None:
    assert ask(make_session(), request_line) == reply


@pytest.mark.parametrize(
    ("request_line", "error"),
    [
        ("", NutError.UNKNOWN_COMMAND),
        ("   ", NutError.UNKNOWN_COMMAND),
        ("FROB ups", NutError.UNKNOWN_COMMAND),
        ("GET", NutError.INVALID_ARGUMENT),
        ("GET FROB ups x", NutError.INVALID_ARGUMENT),
        ("GET VAR ups", NutError.INVALID_ARGUMENT),
        ("GET VAR ups ups.status extra", NutError.INVALID_ARGUMENT),
        ("LIST", NutError.INVALID_ARGUMENT),
        ("LIST VAR", NutError.INVALID_ARGUMENT),
        ("VER now", NutError.INVALID_ARGUMENT),
        ("USERNAME", NutError.INVALID_ARGUMENT),
        ("USERNAME a b", NutError.INVALID_ARGUMENT),
        ('GET VAR ups "ups status"', NutError.INVALID_ARGUMENT),
        ('GET VAR ups "ups.status', NutError.INVALID_ARGUMENT),
        ("GET VAR ups ups.status\x00", NutError.INVALID_ARGUMENT),
        ("GET VAR ups ups.st\xe4tus", NutError.INVALID_ARGUMENT),
        # upsd's order: UNKNOWN-UPS, DRIVER-NOT-CONNECTED, DATA-STALE, VAR-NOT-SUPPORTED.
        ("GET VAR nope nope", NutError.UNKNOWN_UPS),
        ("GET VAR starting nope", NutError.DRIVER_NOT_CONNECTED),
        ("GET VAR stale nope", NutError.DATA_STALE),
        ("GET VAR stale ups.status", NutError.DATA_STALE),
        ("GET VAR ups nope", NutError.VAR_NOT_SUPPORTED),
        ("LIST VAR nope", NutError.UNKNOWN_UPS),
        ("LIST VAR starting", NutError.DRIVER_NOT_CONNECTED),
        ("LIST VAR stale", NutError.DATA_STALE),
        ("LIST RW stale", NutError.DATA_STALE),
        ("LIST CMD stale", NutError.DATA_STALE),
        ("LIST ENUM stale x", NutError.DATA_STALE),
        ("LIST ENUM ups nope", NutError.VAR_NOT_SUPPORTED),
        ("LIST RANGE ups nope", NutError.VAR_NOT_SUPPORTED),
        ("GET TYPE nope x", NutError.UNKNOWN_UPS),
        ("GET TYPE stale x", NutError.DATA_STALE),
        ("GET TYPE ups nope", NutError.VAR_NOT_SUPPORTED),
        ("GET DESC nope x", NutError.UNKNOWN_UPS),
        ("GET DESC starting x", NutError.DRIVER_NOT_CONNECTED),
        ("GET CMDDESC stale x", NutError.DATA_STALE),
        ("GET UPSDESC nope", NutError.UNKNOWN_UPS),
        ("GET NUMLOGINS nope", NutError.UNKNOWN_UPS),
        ("LIST CLIENT nope", NutError.UNKNOWN_UPS),
        ("GET TRACKING 1234", NutError.FEATURE_NOT_CONFIGURED),
        ("STARTTLS", NutError.FEATURE_NOT_CONFIGURED),
        # Privileged verbs ask for USERNAME before anything else, even their arguments.
        ("LOGIN ups", NutError.USERNAME_REQUIRED),
        ("LOGIN", NutError.USERNAME_REQUIRED),
        ("PRIMARY ups", NutError.USERNAME_REQUIRED),
        ("MASTER ups", NutError.USERNAME_REQUIRED),
        ("FSD nope", NutError.USERNAME_REQUIRED),
        ("INSTCMD ups load.off", NutError.USERNAME_REQUIRED),
        ("SET VAR ups ups.id x", NutError.USERNAME_REQUIRED),
        ("SET TRACKING ON", NutError.USERNAME_REQUIRED),
    ],
)
def test_errors_and_their_order(request_line: str, error: NutError) -> None:
    assert ask(make_session(), request_line) == [f"ERR {error}"]


def test_credentials_are_each_set_once_and_checked_only_when_used() -> None:
    session = make_session()
    assert ask(session, "LOGIN ups") == ["ERR USERNAME-REQUIRED"]
    assert ask(session, "USERNAME secondary") == ["OK"]
    assert ask(session, "USERNAME primary") == ["ERR ALREADY-SET-USERNAME"]
    assert ask(session, "LOGIN ups") == ["ERR PASSWORD-REQUIRED"]
    # A wrong password is accepted here, as upsd does; it fails at the first privileged verb.
    assert ask(session, "PASSWORD wrong") == ["OK"]
    assert ask(session, f'PASSWORD "{PASSWORD}"') == ["ERR ALREADY-SET-PASSWORD"]
    assert ask(session, "LOGIN nope") == ["ERR UNKNOWN-UPS"]
    assert ask(session, "LOGIN ups") == ["ERR ACCESS-DENIED"]
    assert ask(session, "GET VAR ups ups.status") == ['VAR ups ups.status "OL"']


def test_login_twice_is_refused_and_counted_once() -> None:
    logins = Logins()
    session = make_session(logins=logins)
    identify(session, "secondary")
    assert ask(session, "LOGIN UPS") == ["OK"]
    assert ask(session, "LOGIN ups") == ["ERR ALREADY-LOGGED-IN"]
    assert ask(session, "LOGIN stale") == ["ERR ALREADY-LOGGED-IN"]
    assert logins.count("ups") == 1


# Each verb, and its reply when it succeeds.
PRIVILEGED = {
    "LOGIN ups": "OK",
    "PRIMARY ups": "OK PRIMARY-GRANTED",
    "MASTER ups": "OK MASTER-GRANTED",
    "FSD ups": "OK FSD-SET",
    "INSTCMD ups beeper.disable": "OK",
    "INSTCMD ups load.off": "OK",
    "SET VAR ups ups.id rack-b": "OK",
}
# Which of PRIVILEGED each kind of user may do.
RIGHTS = {
    "secondary": {"LOGIN ups"},
    "primary": {"LOGIN ups", "PRIMARY ups", "MASTER ups", "FSD ups"},
    "admin": {
        "FSD ups",
        "INSTCMD ups beeper.disable",
        "INSTCMD ups load.off",
        "SET VAR ups ups.id rack-b",
    },
    "operator": {"INSTCMD ups beeper.disable"},
    "stranger": set(),
}


@pytest.mark.parametrize("user", sorted(RIGHTS))
@pytest.mark.parametrize("verb", sorted(PRIVILEGED))
def test_rights_matrix(user: str, verb: str) -> None:
    backend = sample_backend()
    session = make_session(backend)
    identify(session, user)
    expected = PRIVILEGED[verb] if verb in RIGHTS[user] else "ERR ACCESS-DENIED"
    assert ask(session, verb) == [expected]
    device = backend.devices["ups"]
    acts = verb.split(maxsplit=1)[0] in ("FSD", "INSTCMD", "SET")
    assert bool(device.fsd_by or device.ran or device.sets) == (acts and verb in RIGHTS[user])


@pytest.mark.parametrize("verb", sorted(PRIVILEGED))
def test_wrong_password_is_denied_everything(verb: str) -> None:
    session = make_session()
    identify(session, "admin", "not the password")
    assert ask(session, verb) == ["ERR ACCESS-DENIED"]


def test_fsd_latch_is_visible_to_every_client() -> None:
    backend = sample_backend()
    logins = Logins()
    primary = make_session(backend, logins=logins, peer="192.0.2.7")
    reader = make_session(backend, logins=logins)
    identify(primary, "primary")
    assert ask(primary, "FSD ups") == ["OK FSD-SET"]
    assert backend.devices["ups"].fsd_by == ["primary@192.0.2.7"]
    assert ask(reader, "GET VAR ups ups.status") == ['VAR ups ups.status "FSD OL"']
    assert 'VAR ups ups.status "FSD OL"' in ask(reader, "LIST VAR ups")


def test_fsd_is_not_checked_against_stale_data() -> None:
    backend = sample_backend()
    session = make_session(backend)
    identify(session, "primary")
    assert ask(session, "FSD stale") == ["OK FSD-SET"]
    assert ask(session, "FSD nope") == ["ERR UNKNOWN-UPS"]
    assert backend.devices["stale"].fsd_by == ["primary@127.0.0.1"]


def test_instcmd_order_value_and_failure() -> None:
    backend = sample_backend()
    session = make_session(backend)
    identify(session, "operator")
    # upsd: unknown UPS, stale data, unknown command, and only then the user's rights.
    assert ask(session, "INSTCMD nope load.off") == ["ERR UNKNOWN-UPS"]
    assert ask(session, "INSTCMD stale load.off") == ["ERR DATA-STALE"]
    assert ask(session, "INSTCMD ups no.such") == ["ERR CMD-NOT-SUPPORTED"]
    assert ask(session, "INSTCMD ups load.off") == ["ERR ACCESS-DENIED"]
    assert ask(session, 'INSTCMD ups BEEPER.Disable "in 5 s"') == ["OK"]
    assert backend.devices["ups"].ran == [("beeper.disable", "in 5 s")]
    backend.devices["ups"].fail_commands_with = NutError.INSTCMD_FAILED
    assert ask(session, "INSTCMD ups beeper.disable") == ["ERR INSTCMD-FAILED"]
    assert ask(session, "INSTCMD ups beeper.disable a b") == ["ERR INVALID-ARGUMENT"]


@pytest.mark.parametrize(
    ("request_line", "reply"),
    [
        ("SET VAR stale ups.id x", "ERR DATA-STALE"),
        ("SET VAR ups no.such x", "ERR VAR-NOT-SUPPORTED"),
        ("SET VAR ups ups.mfr x", "ERR READONLY"),
        ("SET VAR ups ups.id abcdefghijklm", "ERR TOO-LONG"),
        ("SET VAR ups ups.id abcdefghijkl", "OK"),
        ("SET VAR ups input.sensitivity extreme", "ERR INVALID-VALUE"),
        ("SET VAR ups input.sensitivity high", "OK"),
        ("SET VAR ups ups.delay.shutdown 75", "ERR INVALID-VALUE"),
        ("SET VAR ups ups.delay.shutdown soon", "ERR INVALID-VALUE"),
        ("SET VAR ups ups.delay.shutdown 120", "OK"),
        ("SET VAR ups battery.charge.low lots", "ERR INVALID-VALUE"),
        ("SET VAR ups BATTERY.CHARGE.LOW 15.5", "OK"),
        ("SET VAR ups ups.id", "ERR INVALID-ARGUMENT"),
    ],
)
def test_set_var_checks(request_line: str, reply: str) -> None:
    backend = sample_backend()
    session = make_session(backend)
    identify(session, "admin")
    assert ask(session, request_line) == [reply]
    words = wire.split_words(request_line)
    expected_sets = [(words[3].lower(), words[4])] if reply == "OK" else []
    assert backend.devices["ups"].sets == expected_sets


def test_set_var_rights_come_before_the_variable() -> None:
    session = make_session()
    identify(session, "operator")
    assert ask(session, "SET VAR ups no.such x") == ["ERR ACCESS-DENIED"]
    assert ask(session, "SET VAR nope no.such x") == ["ERR UNKNOWN-UPS"]


@pytest.mark.parametrize("value", ['Rack "A"', "back\\slash", "#1 spot", "", "a  b"])
def test_values_round_trip_through_quoting(value: str) -> None:
    backend = sample_backend()
    backend.devices["ups"].writable["ups.id"] = Writable("rack-a", max_length=40)
    session = make_session(backend)
    identify(session, "admin")
    assert ask(session, f"SET VAR ups ups.id {wire.quote(value)}") == ["OK"]
    assert backend.devices["ups"].sets == [("ups.id", value)]
    (reply,) = ask(session, "GET VAR ups ups.id")
    assert wire.split_words(reply) == ["VAR", "ups", "ups.id", value]


def test_tracking_reports_each_outcome() -> None:
    backend = sample_backend()
    session = make_session(backend)
    identify(session, "admin")
    assert ask(session, "SET TRACKING maybe") == ["ERR INVALID-ARGUMENT"]
    assert ask(session, "SET TRACKING ON") == ["OK"]
    assert ask(session, "GET TRACKING") == ["ON"]
    (ok,) = ask(session, "INSTCMD ups load.off")
    assert re.fullmatch(r"OK TRACKING [0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", ok)
    first = ok.split()[2]
    backend.devices["ups"].fail_commands_with = NutError.INSTCMD_FAILED
    second = ask(session, "INSTCMD ups load.off")[0].split()[2]
    assert ask(session, f"GET TRACKING {first}") == ["SUCCESS"]
    assert ask(session, f"GET TRACKING {first.lower()}") == ["SUCCESS"]
    assert ask(session, f"GET TRACKING {second}") == ["ERR INSTCMD-FAILED"]
    (set_ok,) = ask(session, "SET VAR ups ups.id rack-c")
    assert ask(session, f"GET TRACKING {set_ok.split()[2]}") == ["SUCCESS"]
    # Checks made before running are answered at once, not tracked.
    assert ask(session, "INSTCMD ups no.such") == ["ERR CMD-NOT-SUPPORTED"]
    assert ask(session, "GET TRACKING 00000000-0000-0000-0000-000000000000") == [
        "ERR INVALID-ARGUMENT"
    ]
    assert ask(session, "SET TRACKING OFF") == ["OK"]
    assert ask(session, f"GET TRACKING {first}") == ["ERR FEATURE-NOT-CONFIGURED"]
    assert ask(session, "INSTCMD ups beeper.disable") == ["ERR INSTCMD-FAILED"]


def test_tracking_keeps_only_recent_outcomes() -> None:
    session = make_session()
    identify(session, "admin")
    ask(session, "SET TRACKING ON")
    ids = [ask(session, "INSTCMD ups load.off")[0].split()[2] for _ in range(MAX_TRACKED + 1)]
    assert ask(session, f"GET TRACKING {ids[0]}") == ["ERR INVALID-ARGUMENT"]
    assert ask(session, f"GET TRACKING {ids[-1]}") == ["SUCCESS"]


def test_starttls_when_configured() -> None:
    session = make_session(tls=True)
    assert session.handle("STARTTLS") == Reply(("OK STARTTLS",), start_tls=True)
    assert session.handle("STARTTLS") == Reply(("ERR ALREADY-SSL-MODE",))


def test_logout_closes_and_drops_the_login() -> None:
    logins = Logins()
    session = make_session(logins=logins)
    identify(session, "secondary")
    ask(session, "LOGIN ups")
    assert session.handle("LOGOUT") == Reply(("OK Goodbye",), close=True)
    assert logins.count("ups") == 0
    assert ask(session, "LOGOUT now") == ["ERR INVALID-ARGUMENT"]


def test_logins_registry_counts_lists_and_forgets_clients() -> None:
    backend = sample_backend()
    logins = Logins()
    first = make_session(backend, logins=logins, peer="192.0.2.1")
    second = make_session(backend, logins=logins, peer="2001:db8::2")
    reader = make_session(backend, logins=logins, peer="192.0.2.3")
    for session, user in ((first, "primary"), (second, "secondary")):
        identify(session, user)
        assert ask(session, "LOGIN ups") == ["OK"]
    assert ask(first, "PRIMARY ups") == ["OK PRIMARY-GRANTED"]
    assert ask(reader, "GET NUMLOGINS ups") == ["NUMLOGINS ups 2"]
    assert ask(reader, "GET NUMLOGINS stale") == ["NUMLOGINS stale 0"]
    assert ask(reader, "LIST CLIENT Ups") == [
        "BEGIN LIST CLIENT Ups",
        "CLIENT Ups 192.0.2.1",
        "CLIENT Ups 2001:db8::2",
        "END LIST CLIENT Ups",
    ]
    assert [(c.peer, c.user) for c in logins.primaries("ups")] == [("192.0.2.1", "primary")]
    first.close()
    assert ask(reader, "GET NUMLOGINS ups") == ["NUMLOGINS ups 1"]
    assert logins.primaries("ups") == []
    second.close()
    second.close()
    assert ask(reader, "LIST CLIENT ups") == ["BEGIN LIST CLIENT ups", "END LIST CLIENT ups"]


def test_logins_registry_is_thread_safe() -> None:
    logins = Logins()
    clients = [logins.new_client() for _ in range(400)]
    assert len(set(clients)) == len(clients)

    def work(chunk: list[int]) -> None:
        for client in chunk:
            logins.login(client, "ups", f"peer-{client}", "secondary")
        for client in chunk[::2]:
            logins.drop(client)

    threads = [threading.Thread(target=work, args=(clients[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logins.count("ups") == 200
    assert len(logins.peers("ups")) == 200


@pytest.mark.parametrize(
    ("lines", "reply"),
    [
        (["GET VAR ups ups.status"], "ERR USERNAME-REQUIRED"),
        (["LIST UPS"], "ERR USERNAME-REQUIRED"),
        (["USERNAME operator", "GET VAR ups ups.status"], "ERR PASSWORD-REQUIRED"),
        (["USERNAME operator", "PASSWORD wrong", "LIST VAR ups"], "ERR ACCESS-DENIED"),
        (
            ["USERNAME operator", f'PASSWORD "{PASSWORD}"', "GET VAR ups ups.status"],
            'VAR ups ups.status "OL"',
        ),
        (["VER"], VERSION),
    ],
)
def test_reads_need_a_login_when_anonymous_reads_are_off(lines: list[str], reply: str) -> None:
    session = make_session(users=Users(users=USERS.users, anonymous_read=False))
    for line in lines[:-1]:
        assert ask(session, line) == ["OK"]
    assert ask(session, lines[-1]) == [reply]


def test_over_long_line_is_refused_and_closes() -> None:
    session = make_session()
    longest = "GET VAR ups " + "x" * (wire.MAX_LINE_BYTES - len("GET VAR ups "))
    assert ask(session, longest) == ["ERR VAR-NOT-SUPPORTED"]
    assert session.handle(longest + "x") == Reply(("ERR TOO-LONG",), close=True)
