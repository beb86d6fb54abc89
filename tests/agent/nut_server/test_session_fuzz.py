"""Property tests: whatever a client sends, a session answers with well-formed lines."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from upsight.agent.nut_server import wire
from upsight.agent.nut_server.backend import NutError
from upsight.agent.nut_server.logins import Logins
from upsight.agent.nut_server.session import HELP, PROTOCOL_VERSION, Session
from upsight.agent.nut_server.users import Users

from .fake_backend import PASSWORD, USERS, sample_backend

VERSION = "Upsight 0.1.0 - NUT protocol 1.3"
FUZZ = settings(max_examples=300, deadline=None, database=None)

# Bare names and quoted values exactly as upsd writes them in replies.
NAME = r"[!$-\[\]-~]+"
QUOTED = r'"(?:[ !$-\[\]-~]|\\["#\\])*"'
REPLY = re.compile(
    "|".join(
        [
            r"OK( Goodbye| STARTTLS| FSD-SET| PRIMARY-GRANTED| MASTER-GRANTED)?",
            r"OK TRACKING [0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}",
            rf"(VAR|RW) {NAME} {NAME} {QUOTED}",
            rf"TYPE {NAME} {NAME} (RW )?(ENUM|RANGE|NUMBER|STRING:\d+)",
            rf"(DESC|CMDDESC) {NAME} {NAME} {QUOTED}",
            rf"UPSDESC {NAME} {QUOTED}",
            rf"NUMLOGINS {NAME} \d+",
            rf"(BEGIN|END) LIST (UPS|(VAR|RW|CMD|CLIENT) {NAME}|(ENUM|RANGE) {NAME} {NAME})",
            rf"UPS {NAME} {QUOTED}",
            rf"CMD {NAME} {NAME}",
            rf"ENUM {NAME} {NAME} {QUOTED}",
            rf"RANGE {NAME} {NAME} {QUOTED} {QUOTED}",
            rf"CLIENT {NAME} {NAME}",
            r"ON|OFF|SUCCESS",
            re.escape(PROTOCOL_VERSION),
            re.escape(HELP),
            re.escape(VERSION),
        ]
    )
)
ERROR = re.compile("ERR (" + "|".join(re.escape(code.value) for code in NutError) + ")")


def assert_well_formed(line: str) -> None:
    if line.startswith("ERR "):
        assert ERROR.fullmatch(line), line
    else:
        assert REPLY.fullmatch(line), line


def make_session(logins: Logins, *, anonymous_read: bool, tls: bool) -> Session:
    users = Users(users=USERS.users, anonymous_read=anonymous_read)
    return Session(
        sample_backend(), users, logins, "192.0.2.9", tls_configured=tls, server_version=VERSION
    )


def converse(lines: list[str], *, anonymous_read: bool = True, tls: bool = False) -> None:
    """Send ``lines`` on one session; every reply line must be well formed."""
    logins = Logins()
    session = make_session(logins, anonymous_read=anonymous_read, tls=tls)
    for line in lines:
        reply = session.handle(line)
        assert reply.lines
        for reply_line in reply.lines:
            assert_well_formed(reply_line)
    session.close()
    assert all(logins.count(ups) == 0 for ups in ("ups", "starting", "stale"))


@FUZZ
@given(st.lists(st.text(max_size=200), max_size=6))
def test_any_text(lines: list[str]) -> None:
    converse(lines)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_any_bytes(raws: list[bytes]) -> None:
    converse([wire.decode_line(raw) for raw in raws])


VERBS = st.sampled_from(
    [
        "VER", "NETVER", "PROTVER", "HELP", "STARTTLS", "LOGOUT", "USERNAME", "PASSWORD",
        "LOGIN", "PRIMARY", "MASTER", "FSD", "INSTCMD", "SET", "GET", "LIST", "get", "FROB",
    ]
)  # fmt: skip
WORDS = st.sampled_from(
    [
        "VAR", "TYPE", "DESC", "CMDDESC", "UPSDESC", "NUMLOGINS", "TRACKING", "UPS", "RW",
        "CMD", "CLIENT", "ENUM", "RANGE", "ON", "OFF", "ups", "UPS", "stale", "starting",
        "nope", "ups.status", "ups.id", "input.sensitivity", "ups.delay.shutdown",
        "battery.charge.low", "ups.mfr", "load.off", "beeper.disable", "admin", "primary",
        "secondary", "operator", "stranger", f'"{PASSWORD}"', "15", "high", '""',
    ]
)  # fmt: skip
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20).map(wire.quote)
REQUEST = st.builds(
    lambda verb, words: " ".join([verb, *words]),
    VERBS,
    st.lists(st.one_of(WORDS, WORDS, VALUES), max_size=4),
)
UPSES = st.sampled_from(["ups", "UPS", "stale", "starting", "nope"])
NAMES = st.sampled_from(
    ["ups.status", "ups.id", "input.sensitivity", "ups.delay.shutdown", "battery.charge.low",
     "ups.mfr", "no.such", "load.off", "beeper.disable", "test.battery.start.quick"]
)  # fmt: skip
TEMPLATES = st.sampled_from(
    [
        "GET VAR {u} {n}", "GET TYPE {u} {n}", "GET DESC {u} {n}", "GET CMDDESC {u} {n}",
        "GET UPSDESC {u}", "GET NUMLOGINS {u}", "GET TRACKING", "LIST UPS", "LIST VAR {u}",
        "LIST RW {u}", "LIST CMD {u}", "LIST CLIENT {u}", "LIST ENUM {u} {n}",
        "LIST RANGE {u} {n}", "LOGIN {u}", "PRIMARY {u}", "MASTER {u}", "FSD {u}",
        "INSTCMD {u} {n}", "INSTCMD {u} {n} {v}", "SET VAR {u} {n} {v}", "STARTTLS",
    ]
)  # fmt: skip
SHAPED = st.builds(
    lambda template, ups, name, value: template.format(u=ups, n=name, v=value),
    TEMPLATES,
    UPSES,
    NAMES,
    st.one_of(VALUES, st.sampled_from(["15", "high", "75", "abcdefghijklm"])),
)
LOGIN = st.sampled_from(["admin", "primary", "secondary", "operator"]).map(
    lambda user: [f"USERNAME {user}", f'PASSWORD "{PASSWORD}"']
)


@FUZZ
@given(
    st.one_of(st.just([]), LOGIN),
    st.lists(st.one_of(REQUEST, SHAPED, SHAPED), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_request_like_lines(
    login: list[str], requests: list[str], anonymous_read: bool, tls: bool
) -> None:
    converse([*login, "SET TRACKING ON", *requests], anonymous_read=anonymous_read, tls=tls)
