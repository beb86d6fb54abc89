"""Tests of NUT request splitting, reply quoting, line decoding and the size limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upsight.agent.nut_server import wire
from upsight.agent.nut_server.backend import NutError, NutServerError
from upsight.drivers.nut import protocol as client_protocol

PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))
QUICK = settings(max_examples=300, deadline=None, database=None)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("GET VAR ups ups.status", ["GET", "VAR", "ups", "ups.status"]),
        ("  GET\tVAR   ups  ", ["GET", "VAR", "ups"]),
        ('SET VAR ups ups.id "two words"', ["SET", "VAR", "ups", "ups.id", "two words"]),
        ('"say \\"hi\\"" \\\\x', ['say "hi"', "\\x"]),
        ("embedded\\ space", ["embedded space"]),
        ('""', [""]),
        ('a "" b', ["a", "", "b"]),
        # A quote inside a word is kept; a closing quote ends the word.
        ('my"ups"', ['my"ups"']),
        ('"ups"x', ["ups", "x"]),
        # Not comments, not separators: ordinary characters here.
        ("SET VAR ups ups.id #1=a", ["SET", "VAR", "ups", "ups.id", "#1=a"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_words(line: str, words: list[str]) -> None:
    assert wire.split_words(line) == words


@QUICK
@given(st.text(st.sampled_from(' \t"\\#=aZ.\x00\r\x7f\xe9'), max_size=30))
def test_split_words_takes_the_quick_way_only_where_it_agrees(line: str) -> None:
    assert _outcome(wire.split_words, line) == _outcome(wire._split_escaped, line)


def _outcome(split: Callable[[str], list[str]], line: str) -> list[str] | NutError:
    try:
        return split(line)
    except NutServerError as exc:
        return exc.code


@pytest.mark.parametrize(
    "line",
    [
        "GET VAR ups\x00",
        "GET VAR ups ups.status\r",
        "GET\x0bVAR",
        "GET VAR ups caf\xe9",
        "GET VAR ups \x7f",
        'GET VAR "ups',
        'GET "a\tb"',
        "trailing\\",
        "escaped\\\x01control",
    ],
)
def test_split_words_refuses_bad_lines(line: str) -> None:
    with pytest.raises(NutServerError) as caught:
        wire.split_words(line)
    assert caught.value.code is NutError.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("OL CHRG", '"OL CHRG"'),
        ("", '""'),
        ('Rack "A"', '"Rack \\"A\\""'),
        ("C:\\ups", '"C:\\\\ups"'),
        ("#1", '"\\#1"'),
        ("two\nlines\x00", '"two?lines?"'),
        ("Zürich", '"Z?rich"'),
    ],
)
def test_quote_escapes_as_upsd_does(value: str, quoted: str) -> None:
    assert wire.quote(value) == quoted


@QUICK
@given(PRINTABLE)
def test_quote_round_trips_through_our_parser_and_our_client(value: str) -> None:
    assert wire.split_words(f"VAR ups x {wire.quote(value)}") == ["VAR", "ups", "x", value]
    assert client_protocol.split_words(f"VAR ups x {wire.quote(value)}")[-1] == value


@QUICK
@given(st.text())
def test_quote_always_gives_one_printable_quoted_word(value: str) -> None:
    quoted = wire.quote(value)
    assert all(" " <= char <= "~" for char in quoted)
    assert len(wire.split_words(quoted)) == 1


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"VER\n", "VER"),
        (b"VER\r\n", "VER"),
        (b"VER", "VER"),
        (b"VER\n\n", "VER\n"),
        (b"\xff\x00", "\xff\x00"),
    ],
)
def test_decode_line(raw: bytes, line: str) -> None:
    assert wire.decode_line(raw) == line


@QUICK
@given(st.binary(max_size=2 * wire.MAX_LINE_BYTES))
def test_decode_line_never_raises_and_keeps_every_byte(raw: bytes) -> None:
    line = wire.decode_line(raw)
    assert len(raw) - 2 <= len(line) <= len(raw)


def test_check_length_allows_exactly_the_limit() -> None:
    wire.check_length("x" * wire.MAX_LINE_BYTES)
    with pytest.raises(NutServerError) as caught:
        wire.check_length("x" * (wire.MAX_LINE_BYTES + 1))
    assert caught.value.code is NutError.TOO_LONG


@pytest.mark.parametrize(
    ("word", "is_name"),
    [
        ("ups.status", True),
        ("UPS-2_b", True),
        ("", False),
        ("a b", False),
        ('a"b', False),
        ("a\\b", False),
        ("#1", False),
        ("caf\xe9", False),
    ],
)
def test_is_name(word: str, is_name: bool) -> None:
    assert wire.is_name(word) is is_name


def test_encode_reply_ends_each_line() -> None:
    assert wire.encode_reply(("BEGIN LIST UPS", "END LIST UPS")) == (
        b"BEGIN LIST UPS\nEND LIST UPS\n"
    )
    assert wire.encode_reply(()) == b""
