"""Framing of the NUT network protocol: request lines in, quoted reply values out (pure).

Requests are ASCII lines split into words the way NUT's configuration parser
(parseconf) splits them::

    # Recv: SET VAR ups ups.id "Rack \\"A\\" \\\\ main"
    #   -> SET | VAR | ups | ups.id | Rack "A" \\ main

* Words are separated by spaces or tabs.
* A word starting with ``"`` runs to the next unescaped ``"`` and may hold
  spaces; the closing quote also ends the word. A quote inside an unquoted
  word is an ordinary character.
* A backslash takes the next character literally, inside or outside quotes.

Two parseconf features are deliberately not copied, because they belong to
configuration files: ``#`` does not start a comment and ``=`` is not a word of
its own. Both are ordinary characters here, so an unquoted value keeps them
instead of being silently cut.

Unlike upsd, which silently drops control and non-ASCII bytes, a line holding
any is refused with ``ERR INVALID-ARGUMENT``, so a request never means
something other than what was sent. An unterminated quote or a trailing
backslash is refused the same way (upsd would wait for the next line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from upsight.agent.nut_server.backend import NutError, NutServerError

# The longest request line accepted, its terminator not counted. upsd reads
# lines of any length; real requests stay far below this (the longest, SET VAR
# with a quoted value, is a variable name and a value of at most a few hundred
# characters), so a longer line is junk or an attack. Bounding it bounds what
# the server buffers per client.
MAX_LINE_BYTES: Final = 1024

# The characters upsd escapes with a backslash inside quoted reply values
# (parseconf's encoder): a client's parser would otherwise end the value at a
# quote, eat a backslash, or, in a configuration-style parser, start a comment.
_ESCAPED: Final = frozenset('\\"#')
_SEPARATORS: Final = frozenset(" \t")
# Nearly every request is printable ASCII words without quotes or backslashes;
# such a line splits exactly as str.split() splits it, at C speed.
_PLAIN_LINE: Final = re.compile(r"[\t !#-\[\]-~]*")
# Printable ASCII but for a space, a quote, a backslash and ``#``.
_NAME: Final = re.compile(r"[!$-\[\]-~]+")
# What quote() must replace: anything but printable ASCII, and the escaped characters.
_UNQUOTABLE: Final = re.compile(r"[^ !$-\[\]-~]")


def decode_line(raw: bytes) -> str:
    """Turn one received line into text for :meth:`Session.handle`; never raises.

    Drops one trailing ``\\n`` and then one ``\\r`` (some clients end lines with
    CRLF). Every other byte maps to one character (Latin-1), so control and
    non-ASCII bytes survive to be refused by :func:`split_words` rather than
    failing here.
    """
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("latin-1")


def check_length(line: str) -> None:
    """Refuse a request line longer than :data:`MAX_LINE_BYTES`.

    Raises:
        NutServerError: ``TOO_LONG``.
    """
    if len(line) > MAX_LINE_BYTES:
        raise NutServerError(NutError.TOO_LONG, f"request line of {len(line)} characters")


def _printable(char: str) -> bool:
    return " " <= char <= "~"


def split_words(line: str) -> list[str]:
    """Split a request line into words (see the module docstring for the rules).

    Raises:
        NutServerError: ``INVALID_ARGUMENT`` for a control or non-ASCII character
            (a tab between words excepted), an unterminated quote or a trailing
            backslash.
    """
    if _PLAIN_LINE.fullmatch(line):
        return line.split()
    return _split_escaped(line)


def _split_escaped(line: str) -> list[str]:
    """:func:`split_words` character by character: any line, quotes and escapes included."""
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = False
    chars = iter(line)
    for char in chars:
        if not _printable(char) and (quoted or char != "\t"):
            raise NutServerError(NutError.INVALID_ARGUMENT, f"character {ord(char):#04x}")
        if char == "\\":
            escaped = next(chars, "")
            if not _printable(escaped):
                raise NutServerError(NutError.INVALID_ARGUMENT, "dangling backslash")
            current.append(escaped)
            in_word = True
        elif quoted and char == '"':
            words.append("".join(current))
            current, in_word, quoted = [], False, False
        elif not quoted and char in _SEPARATORS:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif char == '"' and not in_word:
            in_word = quoted = True
        else:
            current.append(char)
            in_word = True
    if quoted:
        raise NutServerError(NutError.INVALID_ARGUMENT, "unterminated quote")
    if in_word:
        words.append("".join(current))
    return words


def is_name(word: str) -> bool:
    """Whether ``word`` can stand unquoted in a reply: a UPS, variable or command name.

    Names are echoed back bare (``VAR <ups> <var> "..."``), so one holding a
    space, a quote, a backslash or ``#`` would break the reply line.
    """
    return _NAME.fullmatch(word) is not None


def are_names(words: Iterable[str]) -> bool:
    """Whether every word passes :func:`is_name`."""
    return all(map(_NAME.fullmatch, words))


def quote(value: str) -> str:
    """A reply value as upsd sends it: in double quotes, with ``\\``, ``"`` and ``#`` escaped.

    upsd's values are printable ASCII only (its parser drops everything else on
    the way in from the driver), and clients rely on it: some decode replies as
    ASCII, and a newline would end the reply early. Any other character becomes
    ``?``, so the value stays on one line and its length is kept.
    """
    return '"' + _UNQUOTABLE.sub(_escape, value) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\\" + char if char in _ESCAPED else "?"


def encode_reply(lines: Iterable[str]) -> bytes:
    """The bytes of a reply: each line ASCII-encoded and ended with ``\\n``."""
    return "".join(f"{line}\n" for line in lines).encode("ascii", errors="replace")
