"""Pure parser for NUT ``.dev`` / ``.seq`` dumps: variables, TIMER steps, special comments.

The format is an ``upsc`` listing (``var.name: value``) plus the conventions of
nut-ddl (``#CMD:`` / ``#RW:`` comments, inline ``#COMMENT`` after whitespace)
and of dummy-ups (``TIMER <seconds>`` lines, an empty value removes the
variable). Nothing here is fatal: lines that cannot be understood are returned
as problems so the caller can report them with their line numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# NUT names are dotted ASCII words (nut docs/nut-names.txt); driver.parameter.*
# echoes ups.conf keys, which may use upper case or dashes.
_NAME: Final = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
# As upsc prints it: the colon ends the name and is followed by whitespace or nothing.
_ASSIGNMENT: Final = re.compile(rf"(?P<var>{_NAME}):(?P<rest>[ \t].*)?")
_NAME_RE: Final = re.compile(_NAME)
# nut-ddl: an inline comment is a hash preceded by a space or a TAB.
_INLINE_COMMENT: Final = re.compile(r"[ \t]#")
_CMD: Final = "#CMD:"
_RW: Final = "#RW:"
_TIMER: Final = "TIMER"


@dataclass(frozen=True)
class Assignment:
    """One ``var.name: value`` line.

    Attributes:
        var: the NUT variable name.
        value: the text after the colon, comments and quotes removed; None when
            the value is empty, which removes the variable (dummy-ups semantics).
    """

    var: str
    value: str | None


@dataclass(frozen=True)
class Step:
    """Assignments applied together, then a pause before the next step.

    Attributes:
        assignments: in file order; a later one for the same variable wins.
        timer_s: seconds from the ``TIMER`` line that ends this step; 0 when the
            step runs to the end of the file without one.
    """

    assignments: tuple[Assignment, ...]
    timer_s: float = 0.0


@dataclass(frozen=True)
class Problem:
    """A line the parser skipped.

    Attributes:
        line: 1-based line number.
        text: the line as written, without its line ending.
        reason: a short explanation for logs.
    """

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class Dump:
    """A parsed dump file.

    Attributes:
        steps: the replay steps in file order; a ``.dev`` without TIMERs has one.
        commands: names from ``#CMD:`` lines, without duplicates, in file order.
        writable: variable names from ``#RW:`` lines, without duplicates, in file order.
        problems: lines that were skipped.
    """

    steps: tuple[Step, ...] = ()
    commands: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()

    def final_state(self) -> dict[str, str]:
        """The variables after every step has been applied once to an empty state."""
        state: dict[str, str] = {}
        for step in self.steps:
            state = apply_step(state, step)
        return state


def apply_step(state: Mapping[str, str], step: Step) -> dict[str, str]:
    """Return a copy of ``state`` with the step's assignments applied."""
    result = dict(state)
    for assignment in step.assignments:
        if assignment.value is None:
            result.pop(assignment.var, None)
        else:
            result[assignment.var] = assignment.value
    return result


class _LineError(Exception):
    """Why one line was skipped; never leaves this module."""


def _strip_inline_comment(text: str) -> str:
    match = _INLINE_COMMENT.search(text)
    return text if match is None else text[: match.start()]


def _unquote(text: str) -> str:
    """Decode a value that starts with a double quote, honouring ``\\"`` and ``\\\\``.

    Only whitespace or a comment may follow the closing quote.
    """
    chars: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            chars.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            tail = text[index + 1 :].strip()
            if tail and not tail.startswith("#"):
                raise _LineError("text after the closing quote")
            return "".join(chars)
        chars.append(char)
        index += 1
    raise _LineError("unterminated quoted value")


def _parse_value(rest: str) -> str | None:
    body = rest.lstrip(" \t")
    value = _unquote(body) if body.startswith('"') else _strip_inline_comment(rest).strip()
    return value or None


def _parse_timer(rest: str) -> float:
    text = _strip_inline_comment(" " + rest).strip()
    try:
        seconds = float(text)
    except ValueError:
        raise _LineError("TIMER needs a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _LineError("TIMER needs a number of seconds of at least 0")
    return seconds


def _special_name(body: str, stop: str) -> str:
    """The name at the start of a ``#CMD:`` / ``#RW:`` body, up to ``stop`` or a comment."""
    end = len(body)
    for char in stop:
        found = body.find(char)
        if found != -1:
            end = min(end, found)
    name = body[:end].strip()
    if not _NAME_RE.fullmatch(name):
        raise _LineError("missing or malformed name")
    return name


def _split_lines(text: str) -> list[str]:
    # Split on LF only and drop a CR before it, so CRLF files parse and line
    # numbers match what editors show (str.splitlines also breaks on \v, \f, ...).
    return [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]


class _Builder:
    """Accumulates the parts of a Dump while lines are read."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.pending: list[Assignment] = []
        self.commands: dict[str, None] = {}
        self.writable: dict[str, None] = {}
        self.problems: list[Problem] = []

    def line(self, stripped: str) -> None:
        if stripped.startswith(_CMD):
            self.commands[_special_name(stripped[len(_CMD) :], " \t#")] = None
        elif stripped.startswith(_RW):
            self.writable[_special_name(stripped[len(_RW) :], ": \t#")] = None
        elif stripped.startswith("#"):
            return
        else:
            words = stripped.split(maxsplit=1)
            if words[0].upper() == _TIMER:
                rest = words[1] if len(words) > 1 else ""
                self.steps.append(Step(tuple(self.pending), _parse_timer(rest)))
                self.pending = []
                return
            match = _ASSIGNMENT.fullmatch(stripped)
            if match is None:
                raise _LineError("expected 'var.name: value' or 'TIMER <seconds>'")
            self.pending.append(Assignment(match["var"], _parse_value(match["rest"] or "")))

    def build(self) -> Dump:
        steps = list(self.steps)
        if self.pending:
            steps.append(Step(tuple(self.pending)))
        return Dump(tuple(steps), tuple(self.commands), tuple(self.writable), tuple(self.problems))


def parse_dump(text: str) -> Dump:
    """Parse the text of a ``.dev`` or ``.seq`` file.

    Never raises on content: unparseable lines become ``Dump.problems``.

    Args:
        text: the whole file, with LF or CRLF line endings.

    Returns:
        The steps, declared commands and writable variables, and skipped lines.
    """
    builder = _Builder()
    for number, line in enumerate(_split_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            builder.line(stripped)
        except _LineError as exc:
            builder.problems.append(Problem(number, line, str(exc)))
    return builder.build()
