"""systemd's readiness protocol: READY=1, STOPPING=1, WATCHDOG=1 and STATUS= over $NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

_ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


@dataclass(frozen=True)
class Notifier:
    """Tells the service manager how the agent is doing; does nothing outside systemd.

    Attributes:
        address: the ``$NOTIFY_SOCKET`` path, ``@name`` for the abstract namespace, or
            ``None`` when not started by systemd with ``Type=notify``.
        watchdog_s: ``WatchdogSec=`` of the unit, or ``None`` when it has none.
    """

    address: str | None = None
    watchdog_s: float | None = None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """Read the notify socket and the watchdog period, then remove them from ``environ``.

        They are removed so that programs the agent starts (shutdown hooks) do not talk
        to systemd in its name, as ``sd_notify(unset_environment=1)`` does.

        Args:
            environ: the process environment (``os.environ`` when ``None``).
        """
        env = os.environ if environ is None else environ
        address, usec, pid = (env.get(name) for name in _ENVIRONMENT)
        for name in _ENVIRONMENT:
            env.pop(name, None)
        watchdog_s = None
        # WATCHDOG_PID names the process meant to ping; another one must stay quiet.
        if usec and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog_s = int(usec) / 1e6
        return cls(address or None, watchdog_s)

    @property
    def ping_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half the period, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_s is None else self.watchdog_s / 2

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram.

        Returns:
            True when a service manager was told; False outside systemd or on error,
            which is logged: a lost notification must never stop the agent.
        """
        if self.address is None:
            return False
        # A leading "@" names a socket in Linux's abstract namespace (a NUL byte).
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        message = "\n".join(assignments).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, target)
        except OSError as exc:
            log.debug("could not notify the service manager at %s: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """The agent is up: systemd considers the unit started."""
        return self.send("READY=1", f"STATUS={_one_line(status)}")

    def stopping(self) -> bool:
        """The agent is shutting down."""
        return self.send("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> bool:
        """The agent's main loop is alive."""
        return self.send("WATCHDOG=1")


def _one_line(text: str) -> str:
    # A newline would start a new assignment.
    return " ".join(text.split())
