"""One emulated Megatec/Q1 UPS served on several pty pairs at once, one per watching stack.

A serial port has a single reader, so each stack gets its own socat pair and
``EmulatorServer``; every pair answers from the same unit, so a change of state
reaches all of them in the same instant.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.drivers.serial.emulators import CR, MegatecEmulator
from tests.peers.pty import EmulatorServer, PtyPair


class _Port:
    """One pair's view of the shared unit: its own line buffer, the unit's answers."""

    def __init__(self, twin: TwinUps) -> None:
        self._twin = twin
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        # Each port frames its own CR-terminated commands; bytes of two ports never mix.
        self._partial += data
        *commands, self._partial = self._partial.split(CR)
        with self._twin.lock:
            return b"".join(self._twin.unit.handle(command) for command in commands)


class TwinUps:
    """A Megatec unit under ``root``; ``serve(name)`` gives each reader a port of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.unit = MegatecEmulator()
        self.lock = threading.Lock()
        self._pairs: list[PtyPair] = []
        self._servers: list[EmulatorServer] = []

    def serve(self, name: str) -> Path:
        """Start a new pty pair answering as the unit; returns the port a driver opens."""
        pair = PtyPair(self.root, name).start()
        self._pairs.append(pair)
        self._servers.append(EmulatorServer(pair, _Port(self)).start())
        return pair.ups

    def change(self, **changes: Any) -> float:
        """Change the unit's state (e.g. ``mains=False``); returns the wall time it flipped."""
        with self.lock:
            self.unit.update(**changes)
            # Drop the command log as it goes: a long run would otherwise grow it for ever.
            self.unit.received.clear()
            return time.time()

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for pair in self._pairs:
            pair.stop()
        self._servers.clear()
        self._pairs.clear()
