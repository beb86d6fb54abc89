"""The ``dummy:PATH`` driver: replays a NUT ``.dev`` / ``.seq`` file as dummy-ups does."""

from __future__ import annotations

import bisect
import logging
import os
import re
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from upsight.drivers.base import Driver, VarKind, WritableVar
from upsight.drivers.clock import Clock
from upsight.drivers.errors import (
    Disconnected,
    InvalidValue,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TransportError,
    UnsupportedCommand,
)
from upsight.drivers.model import Reading, Status, UpsInfo, Value, clean_serial
from upsight.drivers.nutdump import Dump, apply_step, parse_dump
from upsight.drivers.spec import DeviceSpec
from upsight.drivers.variables import is_numeric, parse_value

logger = logging.getLogger(__name__)

# dummy-ups sleeps this long at the end of a .seq before starting it again.
LOOP_PAUSE_S: Final = 1.0
# Real dumps are a few KiB; the cap keeps a mistyped path (a log, /dev/zero's
# cousins) from being read whole on every change.
MAX_FILE_BYTES: Final = 1 << 20
# A wrong file can produce a warning per line; beyond this many, summarise.
MAX_LOGGED_PROBLEMS: Final = 20
_HEX_ID: Final = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,4})")
# dummy-ups offers every variable of its file for writing, text ones up to this length.
MAX_TEXT_LENGTH: Final = 32


@dataclass(frozen=True)
class _Signature:
    """What identifies one version of the file; any difference means it changed."""

    mtime_ns: int
    size: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Signature:
        return cls(st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class _Frame:
    """The device as seen after one step: its status and converted values."""

    status: Status
    values: Mapping[str, Value]

    @classmethod
    def of(cls, state: Mapping[str, str]) -> _Frame:
        values: dict[str, Value] = {}
        for var, text in state.items():
            if var == "ups.status":
                continue
            value = parse_value(var, text)
            if value is not None:
                values[var] = value
        return cls(Status.parse(state.get("ups.status", "")), MappingProxyType(values))

    def changed(self, texts: Mapping[str, str]) -> _Frame:
        """This frame with variables replaced by already validated texts."""
        values = dict(self.values)
        status = self.status
        for var, text in texts.items():
            if var == "ups.status":
                status = Status.parse(text)
            else:
                value = parse_value(var, text)
                if value is not None:
                    values[var] = value
        return _Frame(status, MappingProxyType(values))


_EMPTY_FRAME: Final = _Frame(Status(), MappingProxyType({}))


@dataclass(frozen=True)
class _Replay:
    """A parsed file turned into a timeline of frames.

    Attributes:
        starts_s: offset into a pass at which each step is applied.
        first_pass: frames of the first pass, which starts from an empty state.
        later_passes: frames of later passes, which start from the state the
            previous pass left (dummy-ups never clears variables between passes).
        cycle_s: length of one pass including the pause, or None to play once.
    """

    starts_s: tuple[float, ...]
    first_pass: tuple[_Frame, ...]
    later_passes: tuple[_Frame, ...]
    cycle_s: float | None

    @classmethod
    def build(cls, dump: Dump, loop: bool) -> _Replay:
        starts: list[float] = []
        first: list[_Frame] = []
        later: list[_Frame] = []
        offset = 0.0
        state: dict[str, str] = {}
        again = dump.final_state()
        for step in dump.steps:
            starts.append(offset)
            offset += step.timer_s
            state = apply_step(state, step)
            again = apply_step(again, step)
            first.append(_Frame.of(state))
            later.append(_Frame.of(again))
        cycle = offset + LOOP_PAUSE_S if loop else None
        return cls(tuple(starts), tuple(first), tuple(later), cycle)

    def frame_at(self, elapsed_s: float) -> _Frame:
        """The frame showing ``elapsed_s`` seconds after the replay started."""
        if not self.starts_s:
            return _EMPTY_FRAME
        frames = self.first_pass
        offset = max(elapsed_s, 0.0)
        if self.cycle_s is not None:
            passes, offset = divmod(offset, self.cycle_s)
            if passes >= 1:
                frames = self.later_passes
        return frames[bisect.bisect_right(self.starts_s, offset) - 1]


@contextmanager
def _mapped_errors(path: Path, in_session: bool) -> Iterator[None]:
    """Map OSErrors onto the UpsError tree; a file gone mid-session is a disconnect."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError) as exc:
        if in_session:
            raise Disconnected(f"dummy file {path} disappeared") from exc
        raise NotFound(f"dummy file {path} does not exist") from exc
    except PermissionError as exc:
        raise PermissionDenied(f"no permission to read dummy file {path}") from exc
    except OSError as exc:
        lost = Disconnected if in_session else TransportError
        raise lost(f"cannot read dummy file {path}: {exc.strerror or exc}") from exc


def _load(path: Path) -> tuple[_Signature, Dump]:
    """Read and parse the file; OSError propagates for the caller to map."""
    # Checked before opening: opening a FIFO or a terminal would block.
    if not stat.S_ISREG(path.stat().st_mode):
        raise NotFound(f"dummy file {path} is not a regular file")
    with path.open("rb") as file:
        signature = _Signature.of(os.fstat(file.fileno()))
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ProtocolError(f"dummy file {path} is over {MAX_FILE_BYTES} bytes; not a NUT dump")
    # utf-8-sig drops a BOM left by Windows editors; bad bytes must not be fatal.
    dump = parse_dump(data.decode("utf-8-sig", errors="replace"))
    _log_problems(path, dump)
    return signature, dump


def _log_problems(path: Path, dump: Dump) -> None:
    for problem in dump.problems[:MAX_LOGGED_PROBLEMS]:
        logger.warning(
            "%s line %d: %s, skipped: %.80r", path, problem.line, problem.reason, problem.text
        )
    hidden = len(dump.problems) - MAX_LOGGED_PROBLEMS
    if hidden > 0:
        logger.warning("%s: %d more lines skipped", path, hidden)


def _first_text(state: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        text = state.get(name, "").strip()
        if text:
            return text
    return None


def _usb_id(text: str | None) -> int | None:
    """``ups.vendorid`` / ``ups.productid`` are hex without ``0x`` (e.g. ``051d``)."""
    match = _HEX_ID.fullmatch(text or "")
    return int(match.group(1), 16) if match else None


def _info(dump: Dump) -> UpsInfo:
    # Every variable the file mentions, whichever step sets it.
    state = dump.final_state()
    serials = (clean_serial(state.get(name)) for name in ("ups.serial", "device.serial"))
    return UpsInfo(
        mfr=_first_text(state, "device.mfr", "ups.mfr"),
        model=_first_text(state, "device.model", "ups.model"),
        serial=next((s for s in serials if s is not None), None),
        firmware=_first_text(state, "ups.firmware"),
        vid=_usb_id(_first_text(state, "ups.vendorid")),
        pid=_usb_id(_first_text(state, "ups.productid")),
        driver="dummy",
    )


class DummyDriver(Driver):
    """A replay of a dump file.

    ``.seq`` files loop for ever (dummy-loop); other files play once and then
    hold their last state (dummy-once). Time comes only from the clock, so the
    replay position is computed at each read and nothing sleeps. When the file
    changes, the replay restarts from its top with a fresh state.

    Like dummy-ups, every variable of the file can be changed with
    ``set_variable``; a change holds until the file changes.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        """Open ``path``.

        Raises:
            NotFound: the file does not exist or is not a regular file.
            PermissionDenied: the file cannot be read.
            ProtocolError: the file is far too large to be a dump.
        """
        self._path = path
        self._clock = clock
        self._loop = path.suffix.lower() == ".seq"
        self._closed = False
        with _mapped_errors(path, in_session=False):
            self._use(*_load(path))

    def _use(self, signature: _Signature, dump: Dump) -> None:
        self._signature = signature
        self._replay = _Replay.build(dump, self._loop)
        self._info = _info(dump)
        self._commands = frozenset(dump.commands)
        self._started_s = self._clock.monotonic()
        self._changes: dict[str, str] = {}

    def _refresh(self) -> None:
        with _mapped_errors(self._path, in_session=True):
            if _Signature.of(self._path.stat()) != self._signature:
                logger.info("dummy file %s changed; replaying it from the top", self._path)
                self._use(*_load(self._path))

    @property
    def path(self) -> Path:
        """The file being replayed."""
        return self._path

    @property
    def looping(self) -> bool:
        """True for ``.seq`` files, which restart after their last step."""
        return self._loop

    def info(self) -> UpsInfo:
        """Identity from the ``device.*`` / ``ups.*`` variables of the current file version."""
        return self._info

    def read(self) -> Reading:
        """The variables at the current replay position.

        Raises:
            Disconnected: the file disappeared, or the driver was closed.
            PermissionDenied: the file can no longer be read.
        """
        if self._closed:
            raise Disconnected(f"dummy file {self._path} is closed")
        self._refresh()
        frame = self._frame()
        return Reading(at=self._clock.time(), status=frame.status, values=frame.values)

    def _frame(self) -> _Frame:
        frame = self._replay.frame_at(self._clock.monotonic() - self._started_s)
        return frame.changed(self._changes) if self._changes else frame

    def commands(self) -> frozenset[str]:
        """The ``#CMD:`` names of the current file version."""
        return self._commands

    def run(self, name: str, value: str | None = None) -> None:
        """Accept a command the file declares; a replay has nothing to act on.

        Raises:
            UnsupportedCommand: the file has no ``#CMD:`` line for ``name``.
        """
        if name not in self._commands:
            raise UnsupportedCommand(f"{name} is not supported by dummy file {self._path}")
        logger.info("dummy file %s: command %s accepted (no effect on a replay)", self._path, name)

    def writable(self) -> Mapping[str, WritableVar]:
        """Every variable the replay shows now, ``ups.status`` included."""
        frame = self._frame()
        names = sorted([*frame.values, "ups.status"])
        return {name: _writable(name) for name in names}

    def set_variable(self, name: str, value: str) -> None:
        """Show ``value`` for ``name`` in later readings, until the file changes.

        Raises:
            UnsupportedCommand: the replay does not show ``name``.
            InvalidValue: ``value`` is empty, too long, or not a number for a numeric variable.
        """
        spec = self.writable().get(name)
        if spec is None:
            raise UnsupportedCommand(f"{name} is not a variable of dummy file {self._path}")
        text = value.strip()
        if not text or len(text) > MAX_TEXT_LENGTH or parse_value(name, text) is None:
            raise InvalidValue(f"{value!r} is not a value {name} can take")
        self._changes[name] = text
        logger.info("dummy file %s: %s set to %r until the file changes", self._path, name, text)

    def close(self) -> None:
        """Stop serving reads; the file is not held open, so there is nothing to release."""
        self._closed = True


def _writable(name: str) -> WritableVar:
    if is_numeric(name):
        return WritableVar(VarKind.NUMBER)
    return WritableVar(VarKind.STRING, max_length=MAX_TEXT_LENGTH)


def open_dummy(spec: DeviceSpec, clock: Clock) -> DummyDriver:
    """Open the file a ``dummy:PATH`` spec names.

    Raises:
        NotFound: the file does not exist or is not a regular file.
        PermissionDenied: the file cannot be read.
        ProtocolError: the file is far too large to be a dump.
    """
    return DummyDriver(Path(spec.target).expanduser(), clock)
