"""The NUT server's Backend over a running Agent: its devices, current readings, commands, FSD.

NUT clients see exactly what ``upsight status`` prints: ``Reading.as_nut()`` of
the current reading, nothing added. Drivers already report identity
(``device.mfr``, ``ups.model`` ...) in their readings, so nothing is merged in
from ``UpsInfo``, and upsc and ``upsight status`` can never disagree.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeAlias

from upsight.agent.bus import Message
from upsight.agent.monitor import DeviceState, Link
from upsight.agent.nut_server.backend import NutError, NutServerError, Writable
from upsight.drivers.base import WritableVar
from upsight.drivers.errors import UnsupportedCommand, UpsError
from upsight.drivers.model import Reading, format_value

if TYPE_CHECKING:
    from upsight.agent.config import Config
    from upsight.agent.nut_server.server import NutServer
    from upsight.agent.paths import AppPaths
    from upsight.agent.service import Agent

log = logging.getLogger(__name__)

UNAVAILABLE: Final = "Unavailable"
# A snapshot of the agent's devices answers requests until the bus announces a
# new device state (every poll does) or it is this old. Taking one ticks every
# poller, and busy clients ask thousands of times a second. The age limit only
# matters if the bus falls behind.
SNAPSHOT_MAX_AGE_S: Final = 1.0
# The generation it was taken at, when (monotonic seconds), and each device's state.
_Snapshot: TypeAlias = tuple[int, float, Mapping[str, DeviceState]]


class AgentBackend:
    """Serves an Agent's devices under their short names (``ups``, ``ups2`` ...).

    Args:
        agent: the running agent.
        command_timeout_s: how long a command or a write may wait for its device.
    """

    def __init__(self, agent: Agent, command_timeout_s: float = 10.0) -> None:
        self._agent = agent
        self._timeout_s = command_timeout_s
        # The last reading served per device and its NUT texts: a poll every second
        # against many requests a second, so formatting once per reading pays.
        self._texts: dict[str, tuple[Reading, Mapping[str, str]]] = {}
        self._generation = 0  # device states announced (and FSD latches set) so far
        self._generation_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        # Lives as long as the agent: one counter bump per poll.
        agent.subscribe(self._on_message)

    def version(self) -> object:
        return self._current()

    def names(self) -> Sequence[str]:
        return self._agent.device_names()

    def description(self, ups: str) -> str:
        info = self._state(ups).info
        return info.label() if info is not None else UNAVAILABLE

    def variables(self, ups: str) -> Mapping[str, str]:
        reading = self._reading(ups)
        cached = self._texts.get(ups)
        if cached is not None and cached[0] is reading:
            return cached[1]
        texts = MappingProxyType(reading.as_nut())
        self._texts[ups] = (reading, texts)
        return texts

    def writable(self, ups: str) -> Mapping[str, Writable]:
        values = self.variables(ups)
        try:
            specs = self._agent.writable(ups, self._timeout_s)
        except UpsError as exc:
            # The device went away since the reading above; nothing can be written now.
            log.info("%s: writable variables unavailable: %s", ups, exc)
            return {}
        return {
            name: _writable(spec, values[name]) for name, spec in specs.items() if name in values
        }

    def commands(self, ups: str) -> frozenset[str]:
        self._reading(ups)
        return self._state(ups).commands

    def run_command(self, ups: str, name: str, value: str | None) -> None:
        self._reading(ups)
        try:
            self._agent.run_command(ups, name, value, self._timeout_s)
        except UnsupportedCommand as exc:
            raise NutServerError(NutError.CMD_NOT_SUPPORTED, str(exc)) from exc
        except UpsError as exc:
            raise NutServerError(NutError.INSTCMD_FAILED, str(exc)) from exc

    def set_variable(self, ups: str, name: str, value: str) -> None:
        spec = self.writable(ups).get(name)
        if spec is None:
            code = NutError.READONLY if name in self.variables(ups) else NutError.VAR_NOT_SUPPORTED
            raise NutServerError(code, f"{ups}: {name} cannot be changed")
        try:
            self._agent.set_variable(ups, name, value, self._timeout_s)
        except UnsupportedCommand as exc:
            raise NutServerError(NutError.READONLY, str(exc)) from exc
        except ValueError as exc:
            raise NutServerError(NutError.INVALID_VALUE, str(exc)) from exc
        except UpsError as exc:
            raise NutServerError(NutError.SET_FAILED, str(exc)) from exc

    def set_fsd(self, ups: str, by: str) -> None:
        self._state(ups)
        self._agent.force_shutdown(ups, by)
        # Clients polling right after must see the latch, as with upsd, not only
        # once the bus has announced the new state.
        self._outdate()

    def _on_message(self, message: Message) -> None:
        # On the bus thread, after the poller has updated its state.
        if isinstance(message, DeviceState):
            self._outdate()

    def _outdate(self) -> None:
        # The bus thread and command workers both count.
        with self._generation_lock:
            self._generation += 1

    def _current(self) -> _Snapshot:
        """The snapshot reads answer from; a new object whenever it is retaken."""
        # Read before taking the snapshot, so a state announced meanwhile outdates it.
        generation = self._generation
        now = time.monotonic()
        snapshot = self._snapshot
        if snapshot is None or snapshot[0] != generation or now - snapshot[1] >= SNAPSHOT_MAX_AGE_S:
            states = {state.device: state for state in self._agent.states()}
            snapshot = (generation, now, states)
            self._snapshot = snapshot
        return snapshot

    def _state(self, ups: str) -> DeviceState:
        state = self._current()[2].get(ups)
        if state is None:
            raise NutServerError(NutError.UNKNOWN_UPS, f"no device named {ups!r}")
        return state

    def _reading(self, ups: str) -> Reading:
        """The current reading, or the error upsd gives for a device without one."""
        state = self._state(ups)
        if state.link is Link.CONNECTING:
            raise NutServerError(NutError.DRIVER_NOT_CONNECTED, f"{ups}: no reading yet")
        if state.reading is None:
            raise NutServerError(NutError.DATA_STALE, f"{ups}: {state.error or 'data stale'}")
        return state.reading


def users_file(paths: AppPaths, config: Config) -> Path:
    """The users file the server reads: ``nut_server.users_file``, else beside config.toml."""
    if config.nut_users_file:
        return Path(config.nut_users_file).expanduser()
    return paths.nut_users_file


def serve_agent(agent: Agent) -> NutServer | None:
    """Start a NUT server for ``agent`` as its config says; None (logged) when it cannot start.

    Monitoring goes on without it: a port in use or a bad users file must not
    leave the machine unprotected.
    """
    from upsight.agent.nut_server.server import NutServer, parse_listen
    from upsight.agent.nut_server.users import UsersFileError

    config = agent.config
    host, port = parse_listen(config.nut_listen)
    try:
        server = NutServer(
            AgentBackend(agent),
            users_file(agent.paths, config),
            host,
            port,
            max_clients=config.nut_max_clients,
        )
    except UsersFileError as exc:
        log.error("NUT server not started: %s", exc)
        return None
    try:
        server.start()
    except OSError as exc:
        server.stop()
        log.error("NUT server not started: cannot listen on %s: %s", config.nut_listen, exc)
        return None
    return server


def _writable(spec: WritableVar, value: str) -> Writable:
    return Writable(
        value=value,
        kind=spec.kind,
        max_length=spec.max_length,
        choices=spec.choices,
        ranges=tuple((format_value(low), format_value(high)) for low, high in spec.ranges),
    )
