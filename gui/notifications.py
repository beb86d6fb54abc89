"""Desktop notifications: one per device and situation, replaced as the situation changes.

On Linux they go to ``org.freedesktop.Notifications`` over D-Bus, whose
``replaces_id`` updates a notification in place; elsewhere, or without that
service, to the tray icon's message balloon, of which there is only ever one.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Protocol

from PySide6.QtCore import QObject, Slot
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QSystemTrayIcon

from upsight.agent.events import Event, Severity
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.gui import display
from upsight.gui.bridge import Bridge

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

SERVICE: Final = "org.freedesktop.Notifications"
OBJECT_PATH: Final = "/org/freedesktop/Notifications"
# A hung notification server must not hold notifications back for long.
DBUS_TIMEOUT_MS: Final = 3000
TRAY_MESSAGE_MS: Final = 10_000
ENABLED_KEY: Final = "notifications.enabled"
MIN_SEVERITY_KEY: Final = "notifications.min_severity"
PAUSE_S: Final = 3600.0

_RANK: Final[Mapping[Severity, int]] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
# The spec's urgency levels: low, normal, critical.
_URGENCY: Final[Mapping[Severity, int]] = {
    Severity.INFO: 0,
    Severity.WARNING: 1,
    Severity.CRITICAL: 2,
}


@dataclass(frozen=True)
class Situation:
    """Which notification an event kind updates, and whether it ends that situation."""

    name: str
    resolves: bool = False


# By EventKind value. Kinds not listed (charging, charged, battery no longer low)
# are not worth a notification.
SITUATIONS: Final[Mapping[str, Situation]] = {
    "ONBATT": Situation("power"),
    "LOWBATT": Situation("power"),
    "FSD": Situation("power"),
    "ONLINE": Situation("power", resolves=True),
    "REPLBATT": Situation("battery"),
    "REPLBATT_CLEARED": Situation("battery", resolves=True),
    "OVERLOAD": Situation("overload"),
    "OVERLOAD_CLEARED": Situation("overload", resolves=True),
    "COMMBAD": Situation("communication"),
    "NOCOMM": Situation("communication"),
    "COMMOK": Situation("communication", resolves=True),
    "SHUTDOWN_SCHEDULED": Situation("shutdown"),
    "SHUTDOWN_POSTPONED": Situation("shutdown"),
    "SHUTDOWN_EXECUTING": Situation("shutdown"),
    "SHUTDOWN_FAILED": Situation("shutdown"),
    "SHUTDOWN_CANCELLED": Situation("shutdown", resolves=True),
}


class Sink(Protocol):
    """Where notifications are shown; ``key`` names the one to replace."""

    def show(self, key: str, summary: str, body: str, severity: Severity) -> None: ...

    def close(self) -> None: ...


def _app_icon() -> str:
    path = resources.files("upsight.resources") / "icons" / "upsight.svg"
    return str(path)


class DBusSink:
    """Notifications through ``org.freedesktop.Notifications``, sent from a worker thread.

    The server answers each ``Notify`` with an id; the next notification of the
    same key passes it as ``replaces_id`` so the server updates it in place.
    """

    _names = itertools.count()

    def __init__(self, bus_address: str | None = None) -> None:
        """Start the sender.

        Args:
            bus_address: a D-Bus address; the session bus by default.
        """
        self._address = bus_address
        self._queue: queue.SimpleQueue[tuple[str, str, str, Severity] | None] = queue.SimpleQueue()
        self._ids: dict[str, int] = {}
        self._icon = _app_icon()
        self._thread = threading.Thread(target=self._send_all, name="upsight-notify", daemon=True)
        self._thread.start()

    @staticmethod
    def available(bus_address: str | None = None) -> bool:
        """Whether a notification server runs, or can be started, on the bus."""
        bus = _connect(bus_address, f"upsight-probe-{next(DBusSink._names)}")
        try:
            if not bus.isConnected():
                return False
            # Name lists rather than isServiceRegistered(): PySide mishandles the
            # reference count of the bool that reply carries.
            names = bus.interface()
            running = names.registeredServiceNames().value() or []
            return SERVICE in running or SERVICE in (names.activatableServiceNames().value() or [])
        finally:
            if bus_address is not None:
                QDBusConnection.disconnectFromBus(bus.name())

    def show(self, key: str, summary: str, body: str, severity: Severity) -> None:
        self._queue.put((key, summary, body, severity))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(DBUS_TIMEOUT_MS / 1000 + 1)

    def _send_all(self) -> None:
        # jeepney (pure Python) comes with keyring on Linux, the only place this sink is used.
        from jeepney.io.blocking import open_dbus_connection

        connection: DBusConnection | None = None
        try:
            while (item := self._queue.get()) is not None:
                if connection is None:
                    try:
                        connection = open_dbus_connection(self._address or "SESSION")
                    except (OSError, ValueError, KeyError) as exc:
                        log.warning("no session bus for notifications: %s", exc)
                        continue
                if not self._send(connection, *item):
                    # The server may have restarted: connect again for the next one.
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    def _send(
        self, connection: DBusConnection, key: str, summary: str, body: str, severity: Severity
    ) -> bool:
        """Send one notification; False when the server did not take it."""
        from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg  # type: ignore[import-untyped]

        # Typed as the spec says (urgency is a byte). Qt's D-Bus interface cannot make this
        # call to servers whose introspection lacks Qt's type annotations (dunst, GNOME):
        # it maps their a{sv} hints to a type it cannot marshal.
        hints = {
            "urgency": ("y", _URGENCY[severity]),
            "desktop-entry": ("s", "upsight"),
            "category": ("s", "device" if severity is Severity.INFO else "device.error"),
        }
        # Critical notifications stay until dismissed; the rest follow the server's default.
        expire_ms = 0 if severity is Severity.CRITICAL else -1
        # Send: Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire)
        # Recv: the notification's id (uint32)
        call = new_method_call(
            DBusAddress(OBJECT_PATH, bus_name=SERVICE, interface=SERVICE),
            "Notify",
            "susssasa{sv}i",
            ("Upsight", self._ids.get(key, 0), self._icon, summary, body, [], hints, expire_ms),
        )
        try:
            reply = unwrap_msg(connection.send_and_get_reply(call, timeout=DBUS_TIMEOUT_MS / 1000))
        except (OSError, TimeoutError, DBusErrorResponse) as exc:
            log.warning(
                "the notification server did not take a notification: %s (%s)", summary, exc
            )
            return False
        new_id = reply[0] if reply else 0
        if not isinstance(new_id, int) or new_id <= 0:
            log.warning("the notification server did not take a notification: %s", summary)
            return False
        self._ids[key] = new_id
        return True


def _connect(address: str | None, name: str) -> QDBusConnection:
    if address is None:
        return QDBusConnection.sessionBus()
    return QDBusConnection.connectToBus(address, name)


class TraySink:
    """Notifications as the tray icon's balloon; a new one replaces the one showing."""

    _ICONS: Final = {
        Severity.INFO: QSystemTrayIcon.MessageIcon.Information,
        Severity.WARNING: QSystemTrayIcon.MessageIcon.Warning,
        Severity.CRITICAL: QSystemTrayIcon.MessageIcon.Critical,
    }

    def __init__(self, tray: QSystemTrayIcon) -> None:
        self._tray = tray

    def show(self, key: str, summary: str, body: str, severity: Severity) -> None:
        self._tray.showMessage(summary, body, self._ICONS[severity], TRAY_MESSAGE_MS)

    def close(self) -> None:
        """Nothing to release: the balloon belongs to the tray icon."""


class Notifier(QObject):
    """Decides which events to show, and shows them through a sink.

    Honours ``notifications.enabled`` and ``notifications.min_severity`` when the
    agent's config has them, and a pause. Critical events are shown even while
    paused: a low battery or a shutdown must never go unannounced. An event that
    ends a situation (power restored) is shown whenever the situation's own
    notification was, whatever its severity, so that it replaces it.
    """

    def __init__(
        self,
        bridge: Bridge,
        sink: Sink,
        *,
        clock: Clock = SYSTEM_CLOCK,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._sink = sink
        self._clock = clock
        self.enabled = True
        self.min_severity = Severity.INFO
        self._paused_until: float | None = None
        self._open: set[str] = set()
        bridge.event_raised.connect(self.on_event_raised)

    def apply_config(self, table: Mapping[str, Any]) -> None:
        """Take the notification settings from a ``config.get`` table, where present."""
        enabled = table.get(ENABLED_KEY)
        if isinstance(enabled, bool):
            self.enabled = enabled
        level = table.get(MIN_SEVERITY_KEY)
        if isinstance(level, str):
            try:
                self.min_severity = Severity(level.lower())
            except ValueError:
                log.warning("%s = %r is not a severity; ignored", MIN_SEVERITY_KEY, level)

    @property
    def paused(self) -> bool:
        until = self._paused_until
        return until is not None and self._clock.monotonic() < until

    def pause(self, duration_s: float = PAUSE_S) -> None:
        """Hold back all but critical notifications for ``duration_s``."""
        self._paused_until = self._clock.monotonic() + duration_s

    def resume(self) -> None:
        self._paused_until = None

    def close(self) -> None:
        self._sink.close()

    @Slot(object)
    def on_event_raised(self, event: Event) -> None:
        situation = SITUATIONS.get(event.kind.value)
        if situation is None or not self.enabled:
            return
        key = f"{event.device}:{situation.name}"
        severity = event.severity
        if self.paused and severity is not Severity.CRITICAL:
            return
        wanted = _RANK[severity] >= _RANK[self.min_severity]
        if situation.resolves:
            if not (wanted or key in self._open):
                return
            self._open.discard(key)
        elif wanted:
            self._open.add(key)
        else:
            return
        self._sink.show(key, display.event_title(event), self._body(event), severity)

    def _body(self, event: Event) -> str:
        state = self._bridge.state(event.device)
        label = display.device_label(state) if state is not None else event.device
        return self.tr("{message}\n{device} ({name})").format(
            message=event.message, device=label, name=event.device
        )
