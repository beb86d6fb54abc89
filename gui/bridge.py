"""The one object between the desktop app and an agent, in-process or behind the local API."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from upsight.agent.api.errors import AgentNotRunning, ApiError, BadRequest, UnknownMethod
from upsight.agent.api.server import Route, call_route
from upsight.agent.codec import event_from_json, state_from_json
from upsight.agent.events import Event
from upsight.agent.monitor import DeviceState

if TYPE_CHECKING:
    from upsight.agent.api.client import ApiClient
    from upsight.agent.bus import Message
    from upsight.agent.paths import AppPaths
    from upsight.agent.service import Agent

log = logging.getLogger(__name__)

# The reader waits this long before resubscribing after losing the service, doubling
# up to the maximum, so a restarting agent is found quickly without busy looping.
RETRY_FIRST_S: Final = 0.5
RETRY_MAX_S: Final = 5.0


class Bridge(QObject):
    """Turns an agent's callbacks or pushes into Qt signals, and its routes into calls.

    Build one with ``Bridge.in_process(agent)`` (personal mode: the agent runs in
    this process), ``Bridge.starting(paths)`` and later ``attach(agent)`` (personal
    mode while the agent is still being built), or ``Bridge.over_api(client,
    paths)`` (service mode: a running agent behind the local API).
    Every signal is emitted on the thread the bridge lives in, the GUI thread, so
    receivers need no locking.

    Signals:
        state_changed(DeviceState): a device's latest state (frozen).
        event_raised(Event): an event on a device (frozen).
        link_changed(bool, str): whether the agent is reachable, and a sentence
            saying so for the user.
    """

    state_changed = Signal(object)
    event_raised = Signal(object)
    link_changed = Signal(bool, str)

    # Carry messages from agent threads to the bridge's own thread.
    _delivered = Signal(object)
    _linked = Signal(bool)

    def __init__(
        self,
        paths: AppPaths,
        *,
        agent: Agent | None = None,
        client: ApiClient | None = None,
        parent: QObject | None = None,
    ) -> None:
        """Use ``in_process()``, ``starting()`` or ``over_api()``; not both agent and client."""
        super().__init__(parent)
        if agent is not None and client is not None:
            raise ValueError("a bridge talks to an agent or to an API client, not both")
        self._paths = paths
        self._agent = agent
        self._client = client
        self._states: dict[str, DeviceState] = {}
        self._connected = False
        self._closed = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._reader: threading.Thread | None = None
        self._routes: Mapping[str, Route] = {}
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)
        self._linked.connect(self._on_linked, Qt.ConnectionType.QueuedConnection)

    @classmethod
    def in_process(cls, agent: Agent, parent: QObject | None = None) -> Bridge:
        """A bridge to an agent running in this process; subscribes at once.

        The caller starts and stops the agent; ``close()`` only unsubscribes.
        """
        bridge = cls(agent.paths, parent=parent)
        bridge._adopt(agent)
        return bridge

    @classmethod
    def starting(cls, paths: AppPaths, parent: QObject | None = None) -> Bridge:
        """A personal-mode bridge whose agent is still being built; see ``attach()``.

        Until then it knows no devices, ``connected`` is False and ``call`` raises
        AgentNotRunning, so a window can be shown while the agent starts.
        """
        return cls(paths, parent=parent)

    def attach(self, agent: Agent) -> None:
        """Follow the agent of a ``starting()`` bridge; announces its devices and the link.

        Raises:
            ValueError: this bridge already has an agent or a client.
        """
        if self._agent is not None or self._client is not None:
            raise ValueError("this bridge already follows an agent")
        self._adopt(agent)
        for state in self.states():
            self.state_changed.emit(state)
        self.link_changed.emit(True, QCoreApplication.translate("Bridge", "Monitoring in this app"))

    def _adopt(self, agent: Agent) -> None:
        from upsight.agent.api.routes import routes

        self._agent = agent
        self._routes = routes(agent)
        self._unsubscribe = agent.subscribe(self._delivered.emit)
        for state in agent.states():
            self._states[state.device] = state
        self._connected = True

    @classmethod
    def over_api(cls, client: ApiClient, paths: AppPaths, parent: QObject | None = None) -> Bridge:
        """A bridge to a running agent's API; a reader thread follows its pushes.

        The bridge owns ``client`` and closes it in ``close()``. Until the first
        subscription succeeds, ``connected`` is False; ``link_changed`` tells when
        that changes, and the reader keeps retrying while the agent is away.

        Args:
            client: A client of the agent's socket.
            paths: This user's files (consent store, ledger).
            parent: The Qt parent.
        """
        bridge = cls(paths, client=client, parent=parent)
        bridge._reader = threading.Thread(
            target=bridge._follow, args=(client,), name="upsight-gui-reader", daemon=True
        )
        bridge._reader.start()
        return bridge

    @property
    def personal(self) -> bool:
        """True when the agent runs (or is starting) inside this process."""
        return self._client is None

    @property
    def connected(self) -> bool:
        """Whether the agent is reachable, as last announced by ``link_changed``."""
        return self._connected

    @property
    def agent(self) -> Agent | None:
        """The in-process agent in personal mode, else None."""
        return self._agent

    def paths(self) -> AppPaths:
        """This user's files: the privacy page builds its PrivacyCenter from them."""
        return self._paths

    def states(self) -> list[DeviceState]:
        """The latest state of every device known so far, in device order."""
        return list(self._states.values())

    def state(self, device: str) -> DeviceState | None:
        """The latest state of one device, if known."""
        return self._states.get(device)

    def call(self, method: str, /, **params: Any) -> Any:
        """Call one of the agent's API routes and return its JSON-shaped result.

        Both modes return the same shapes: in personal mode, parameters and
        results go through JSON just as they would on the socket.

        Raises:
            UnknownMethod: The agent has no such route.
            BadRequest: The parameters were rejected.
            ApiError: The call failed, or the service is unreachable.
        """
        if self._client is not None:
            return self._client.call(method, **params)
        if self._agent is None:
            raise AgentNotRunning(QCoreApplication.translate("Bridge", "Upsight is still starting"))
        route = self._routes.get(method)
        if route is None:
            raise UnknownMethod(f"unknown method {method!r}")
        # A JSON round trip both ways, so in-process callers see exactly what a socket gives.
        try:
            decoded = json.loads(json.dumps(params))
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"{method}: {exc}") from exc
        return json.loads(json.dumps(call_route(route, method, decoded)))

    def run_command(self, device: str, name: str, value: str | None = None) -> None:
        """Run an instant command such as ``beeper.mute`` on a device; blocks until done.

        In service mode this is the API's ``command`` route. Call it from a worker
        thread (gui/background.py): the agent runs it between polls.

        Raises:
            UnsupportedCommand: the device does not offer the command.
            UpsError: the device is not connected, or the command or the call failed.
        """
        if self._agent is not None:
            try:
                self._agent.run_command(device, name, value)
            except KeyError as exc:
                raise BadRequest(f"no device named {device!r}") from exc
            return
        if self._client is None:
            raise AgentNotRunning(QCoreApplication.translate("Bridge", "Upsight is still starting"))
        params: dict[str, Any] = {"device": device, "name": name}
        if value is not None:
            params["value"] = value
        self.call("command", **params)

    def close(self) -> None:
        """Stop following the agent; safe to call twice. Signals stop soon after."""
        self._closed.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._client is not None:
            self._client.close()
        if self._reader is not None:
            self._reader.join(RETRY_MAX_S + 1.0)
            self._reader = None

    def _follow(self, client: ApiClient) -> None:
        """Reader thread: subscribe, relay pushes, and resubscribe when the agent goes away."""
        delay_s = RETRY_FIRST_S
        while not self._closed.is_set():
            try:
                pushes = self._subscribe(client)
            except ApiError as exc:
                log.debug("agent not reachable: %s", exc)
                if self._closed.wait(delay_s):
                    return
                delay_s = min(delay_s * 2, RETRY_MAX_S)
                continue
            delay_s = RETRY_FIRST_S
            self._linked.emit(True)
            for kind, data in pushes:
                self._relay(kind, data)
            if self._closed.is_set():
                return
            self._linked.emit(False)

    def _subscribe(self, client: ApiClient) -> Iterator[tuple[str, Any]]:
        """Subscribe first, then fetch the snapshot, so no change falls in between."""
        pushes = client.subscribe()
        for data in client.call("status")["devices"]:
            self._delivered.emit(state_from_json(data))
        return pushes

    def _relay(self, kind: str, data: Any) -> None:
        try:
            if kind == "state":
                self._delivered.emit(state_from_json(data))
            elif kind == "event":
                self._delivered.emit(event_from_json(data))
        except (KeyError, ValueError, TypeError):
            log.exception("ignoring a malformed %s push", kind)

    @Slot(object)
    def _on_delivered(self, message: Message) -> None:
        if self._closed.is_set():
            return
        if isinstance(message, Event):
            self.event_raised.emit(message)
            return
        self._states[message.device] = message
        self.state_changed.emit(message)

    @Slot(bool)
    def _on_linked(self, connected: bool) -> None:
        if self._closed.is_set() or connected == self._connected:
            return
        self._connected = connected
        if connected:
            text = QCoreApplication.translate("Bridge", "Connected to the Upsight service")
        else:
            text = QCoreApplication.translate(
                "Bridge", "Lost the connection to the service; retrying"
            )
        self.link_changed.emit(connected, text)
