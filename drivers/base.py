"""The driver contract: what every device driver offers the agent."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from upsight.drivers.errors import UnsupportedCommand
from upsight.drivers.model import Reading, UpsInfo


class VarKind(enum.Enum):
    """What a writable variable accepts, in NUT's terms (``GET TYPE``)."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    ENUM = "ENUM"
    RANGE = "RANGE"


@dataclass(frozen=True)
class WritableVar:
    """A variable a driver lets clients change; its current value is in the readings.

    Attributes:
        kind: how values are checked.
        max_length: for STRING, the longest value accepted; 0 means no stated limit.
        choices: for ENUM, the values accepted.
        ranges: for RANGE, the inclusive (low, high) intervals accepted.
    """

    kind: VarKind = VarKind.STRING
    max_length: int = 0
    choices: tuple[str, ...] = ()
    ranges: tuple[tuple[float, float], ...] = ()


class Driver(Protocol):
    """A connected device.

    Drivers are blocking, used from one thread at a time, and never block longer
    than about a second per call so that a poller can stop promptly. Every
    failure is raised as an ``UpsError`` subclass. Drivers may subclass this
    protocol to inherit the context-manager and no-command defaults.
    """

    def info(self) -> UpsInfo:
        """Identity read when the driver connected."""
        ...

    def read(self) -> Reading:
        """Poll the device once.

        Raises:
            TransportError: the link failed; the caller reconnects.
            ProtocolError: the device answered garbage.
        """
        ...

    def commands(self) -> frozenset[str]:
        """NUT names of the instant commands this device supports."""
        return frozenset()

    def run(self, name: str, value: str | None = None) -> None:
        """Run an instant command such as ``beeper.mute``.

        Raises:
            UnsupportedCommand: the device does not offer ``name``.
        """
        raise UnsupportedCommand(f"{name} is not supported by this device")

    def writable(self) -> Mapping[str, WritableVar]:
        """The variables ``set_variable`` may change, by NUT name."""
        return {}

    def set_variable(self, name: str, value: str) -> None:
        """Change a writable variable; later readings show the new value.

        Raises:
            UnsupportedCommand: the device does not let ``name`` be changed.
            InvalidValue: ``value`` is not one ``name`` can take.
        """
        raise UnsupportedCommand(f"{name} cannot be changed on this device")

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class ChangeNotifier(Driver, Protocol):
    """A driver that can learn between polls that the device has news (HID interrupt reports).

    A poller that finds this method calls it instead of sleeping between reads,
    and reads at once when it returns True.
    """

    def wait_for_change(self, timeout_s: float) -> bool:
        """Block for up to ``timeout_s``; True as soon as the device reported a change.

        Implementations wait the full time when nothing happens, so that a caller
        can loop on short calls and still stop promptly between them.
        """
        ...
