"""Which clients are logged in to which UPS, shared by every session of a server.

This is what ``GET NUMLOGINS`` counts and ``LIST CLIENT`` lists: a primary
upsmon waits for the count to fall to one before it powers the UPS off, so a
connection's logins must disappear when it ends. Primary claims (``PRIMARY``)
are kept too, so the server can tell whether a primary monitor is connected.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Login:
    """One client's login to one UPS."""

    client: int
    ups: str
    peer: str
    user: str
    primary: bool = False


class Logins:
    """A thread-safe registry of logins and primary claims, keyed by client id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # Insertion-ordered, so LIST CLIENT shows clients in the order they logged in.
        self._logins: dict[tuple[int, str], Login] = {}
        self._primaries: dict[tuple[int, str], Login] = {}

    def new_client(self) -> int:
        """A fresh id for a connection; ids are never reused."""
        with self._lock:
            return next(self._ids)

    def login(self, client: int, ups: str, peer: str, user: str) -> None:
        """Record that ``client`` (at ``peer``, as ``user``) logged in to ``ups``."""
        with self._lock:
            self._logins[(client, ups)] = Login(client, ups, peer, user)

    def claim_primary(self, client: int, ups: str, peer: str, user: str) -> None:
        """Record that ``client`` was granted primary rights on ``ups``."""
        with self._lock:
            self._primaries[(client, ups)] = Login(client, ups, peer, user, primary=True)

    def drop(self, client: int) -> None:
        """Forget every login and claim of ``client``: its connection ended."""
        with self._lock:
            for table in (self._logins, self._primaries):
                for key in [key for key in table if key[0] == client]:
                    del table[key]

    def count(self, ups: str) -> int:
        """How many clients are logged in to ``ups`` (``GET NUMLOGINS``)."""
        with self._lock:
            return sum(1 for login in self._logins.values() if login.ups == ups)

    def peers(self, ups: str) -> list[str]:
        """The addresses of the clients logged in to ``ups``, oldest first (``LIST CLIENT``)."""
        with self._lock:
            return [login.peer for login in self._logins.values() if login.ups == ups]

    def primaries(self, ups: str) -> list[Login]:
        """The clients holding primary rights on ``ups``, oldest first."""
        with self._lock:
            return [claim for claim in self._primaries.values() if claim.ups == ups]
