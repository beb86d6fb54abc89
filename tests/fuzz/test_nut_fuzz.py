"""Fuzzing both ends of the NUT protocol: a real driver against a scripted peer, and the server.

Session-level fuzzing of request words lives in tests/agent/nut_server; here the server
gets raw byte lines with escapes and control bytes, and the client gets whole replies.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeClock
from tests.fuzz.seeds import NUT_REQUESTS, NUT_SCRIPT
from tests.fuzz.strategies import FUZZ, mutated, run
from tests.fuzz.targets import _upsd, nut_client, nut_server
from upsight.drivers.errors import ProtocolError
from upsight.drivers.nut.driver import NutDriver
from upsight.drivers.spec import parse_spec

REPLY_LINES = NUT_SCRIPT.splitlines(keepends=True)


@st.composite
def reply_scripts(draw: st.DrawFn) -> bytes:
    """The seed conversation with lines dropped, repeated, reordered or replaced."""
    lines = list(REPLY_LINES)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "dup", "swap", "blank", "err", "words", "junk"]))
        if edit == "drop":
            del lines[index]
        elif edit == "dup":
            lines.insert(index, lines[index])
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif edit == "blank":
            lines[index] = draw(st.sampled_from([b"\n", b" \n", b"\r\n", b'""\n']))
        elif edit == "err":
            lines[index] = b"ERR " + draw(st.sampled_from([b"DATA-STALE", b"X", b""])) + b"\n"
        elif edit == "words":
            words = draw(
                st.lists(st.sampled_from(["VAR", "CMD", "ups", '"', "\\", "x"]), max_size=5)
            )
            lines[index] = " ".join(words).encode() + b"\n"
        else:
            lines[index] = draw(st.binary(max_size=30)) + b"\n"
        if not lines:
            break
    return b"".join(lines)


ESCAPED_WORDS = st.sampled_from(
    ["ups", '"ups"', '"a \\" b"', '"\\\\"', '"unterminated', "\\", "\t", "ups.status", '""']
)
SERVER_LINES = st.lists(
    st.tuples(
        st.sampled_from(["GET VAR", "SET VAR", "LIST ENUM", "INSTCMD", "USERNAME", "LOGIN"]),
        st.lists(st.one_of(ESCAPED_WORDS, st.binary(max_size=6).map(bytes.hex)), max_size=4),
        st.sampled_from([b"", b"\r", b"\x00", b"\xff", b"\x7f"]),
    ).map(lambda t: " ".join([t[0], *t[1]]).encode() + t[2]),
    max_size=8,
).map(b"\n".join)


@FUZZ
@given(st.binary(max_size=400))
def test_client_random_replies(data: bytes) -> None:
    run(nut_client, data)


@FUZZ
@given(reply_scripts())
def test_client_mangled_conversations(data: bytes) -> None:
    run(nut_client, data)


@FUZZ
@given(mutated([NUT_SCRIPT]))
def test_client_mutated_conversation(data: bytes) -> None:
    run(nut_client, data)


@FUZZ
@given(SERVER_LINES)
def test_server_escaped_and_control_bytes(data: bytes) -> None:
    run(nut_server, data)


@FUZZ
@given(mutated([NUT_REQUESTS]))
def test_server_mutated_requests(data: bytes) -> None:
    run(nut_server, data)


@pytest.mark.parametrize("line", [b"\n", b"CMD\n", b"CMD other load.off\n"])
def test_a_malformed_cmd_line_is_a_protocol_error(line: bytes) -> None:
    # Finding: a blank line in LIST CMD made the driver fail with IndexError.
    upsd = _upsd()
    upsd.script = b"BEGIN LIST VAR ups\nEND LIST VAR ups\nBEGIN LIST CMD ups\n" + line
    upsd.script += b"END LIST CMD ups\n"
    spec = parse_spec(f"nut://127.0.0.1:{upsd.port}/ups")
    with pytest.raises(ProtocolError, match="ups: unexpected line in LIST CMD"):
        NutDriver(spec, FakeClock())
