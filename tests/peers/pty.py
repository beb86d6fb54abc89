"""Serial test peers: a socat pseudo-terminal pair, and a thread serving an emulated UPS on it.

The driver (Upsight's or NUT's) opens the UPS side; ``EmulatorServer`` answers
on the EMU side as tests/drivers/serial/emulators.py's units do, and can also
misbehave: pull the cable, go silent, echo, answer garbage or half lines.
Follows test-peers.md section 2: socat started as its own process and waited
for, one pair per peer.
"""

from __future__ import annotations

import contextlib
import enum
import os
import select
import shutil
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

SOCAT = "socat"


def socat_available() -> bool:
    """Whether socat is installed."""
    return shutil.which(SOCAT) is not None


class PtyPair:
    """Two linked pseudo-terminals made by socat: ``ups`` for the driver, ``emu`` for the UPS.

    ``stop()`` makes both ports vanish, like a USB-serial adapter pulled out;
    ``start()`` again brings them back under the same paths.
    """

    def __init__(self, root: Path, name: str = "tty") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.ups = root / f"{name}UPS"
        self.emu = root / f"{name}EMU"
        self._log = root / f"socat-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 5.0) -> PtyPair:
        """Start socat and wait until both links exist."""
        log = self._log.open("ab")
        self.process = subprocess.Popen(
            [
                SOCAT,
                "-d",
                "-d",
                f"pty,raw,echo=0,link={self.ups}",
                f"pty,raw,echo=0,link={self.emu}",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not (self.ups.exists() and self.emu.exists()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"socat did not make its ptys; see {self._log}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """End socat; its links disappear and open ports read EIO."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # socat removes its links on exit; make sure, so a restart recreates them.
        for link in (self.ups, self.emu):
            link.unlink(missing_ok=True)


class Responder(Protocol):
    """An emulated UPS: bytes from the host in, reply bytes out."""

    def feed(self, data: bytes) -> bytes: ...


class Fault(enum.Enum):
    """How the served unit misbehaves."""

    NONE = "none"  # answer as the emulator does
    SILENT = "silent"  # take commands, never answer
    ECHO = "echo"  # send every command back, as a unit that knows none
    GARBAGE = "garbage"  # answer line noise that ends like a reply
    HALF = "half"  # answer the first half of each reply, without its terminator
    UNPLUG = "unplug"  # the next command pulls the cable instead of being answered


# Noise for Fault.GARBAGE: no alert characters, so APC status stays untouched.
GARBAGE = b"\xfe\x80~~\x7f@@\r\n"


class EmulatorServer:
    """Serves ``responder`` on the EMU side of ``pair`` from a thread.

    Change the emulator only inside ``with server.lock:`` (or via ``call``),
    since the thread uses it between reads.
    """

    def __init__(self, pair: PtyPair, responder: Responder) -> None:
        self.pair = pair
        self.responder = responder
        self.fault = Fault.NONE
        self.lock = threading.RLock()
        self._fd: int | None = None
        # Counts plugs, so the thread never closes an fd number reused by a later plug.
        self._generation = 0
        self._plugged = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        self.plug()
        self._thread = threading.Thread(target=self._serve, name="emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.unplug()

    def call(self, action: Callable[[], object]) -> None:
        """Run ``action`` (e.g. ``lambda: emulator.update(mains=False)``) under the lock."""
        with self.lock:
            action()

    def plug(self) -> None:
        """Open the EMU side afresh (the cable goes in); bytes sent meanwhile are lost."""
        with self.lock:
            self.unplug()
            fd = os.open(self.pair.emu, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            # While unplugged nothing reaches a real unit; the pty kept it, so drop it.
            termios.tcflush(fd, termios.TCIFLUSH)
            self._fd = fd
            self._generation += 1
            self._plugged.set()

    def unplug(self) -> None:
        """Close the EMU side (the cable comes out): the driver hears nothing."""
        with self.lock:
            fd, self._fd = self._fd, None
            self._plugged.clear()
            if fd is not None:
                os.close(fd)

    def send(self, data: bytes) -> None:
        """Write bytes to the driver now, unprompted (alerts, noise)."""
        with self.lock:
            if self._fd is not None:
                os.write(self._fd, data)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._plugged.wait(0.05):
                continue
            with self.lock:
                fd, generation = self._fd, self._generation
            if fd is None:
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                data = os.read(fd, 4096) if ready else None
            except (OSError, ValueError):
                data = b""
            if data:
                self._answer(data)
            elif data is not None:
                # unplug() closed the fd, or socat ended (EIO or end of file): wait for a plug.
                with self.lock:
                    if self._generation == generation:
                        self.unplug()

    def _answer(self, data: bytes) -> None:
        with self.lock:
            fault = self.fault
            if fault is Fault.UNPLUG:
                self.fault = Fault.NONE
                self.unplug()
                return
            reply = self.responder.feed(data)
            if fault is Fault.SILENT:
                return
            if fault is Fault.ECHO:
                reply = data
            elif fault is Fault.GARBAGE:
                reply = GARBAGE
            elif fault is Fault.HALF and reply:
                reply = reply[: max(1, len(reply) // 2)]
            if reply and self._fd is not None:
                try:
                    os.write(self._fd, reply)
                except OSError:
                    self.unplug()


@contextlib.contextmanager
def served(root: Path, responder: Responder, name: str = "tty") -> Iterator[EmulatorServer]:
    """A started pty pair with ``responder`` served on it; both end on exit."""
    pair = PtyPair(root, name).start()
    server = EmulatorServer(pair, responder)
    try:
        yield server.start()
    finally:
        server.stop()
        pair.stop()
