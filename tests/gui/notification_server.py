"""A small org.freedesktop.Notifications server for tests: prints each Notify as a JSON line.

Run as ``python -m tests.gui.notification_server`` with DBUS_SESSION_BUS_ADDRESS set;
it prints ``ready`` once it owns the name, and answers as a desktop's daemon does:
the id it was asked to replace, or a new one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusConnection

SERVICE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"


class NotificationServer(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._last_id = 0

    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(  # noqa: N802, PLR0917 - the D-Bus method
        self,
        app_name: str,
        replaces_id: int,
        app_icon: str,
        summary: str,
        body: str,
        actions: list[str],
        hints: dict[str, Any],
        expire_ms: int,
    ) -> int:
        if replaces_id:
            new_id = replaces_id
        else:
            self._last_id += 1
            new_id = self._last_id
        shown = {
            "app_name": app_name,
            "replaces_id": replaces_id,
            "app_icon": app_icon,
            "summary": summary,
            "body": body,
            "hints": dict(hints),
            "expire_ms": expire_ms,
            "new_id": new_id,
        }
        print(json.dumps(shown), flush=True)
        return new_id


def main() -> int:
    app = QCoreApplication(sys.argv)
    bus = QDBusConnection.sessionBus()
    server = NotificationServer()
    exported = bus.registerObject(
        OBJECT_PATH, SERVICE, server, QDBusConnection.RegisterOption.ExportAllSlots
    )
    if not (exported and bus.registerService(SERVICE)):
        print("failed", flush=True)
        return 1
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
