"""Start at login: a freedesktop autostart entry, the Windows Run key, or a macOS LaunchAgent."""

from __future__ import annotations

import importlib
import os
import platform
import plistlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

APP_ID: Final = "upsight"
LAUNCH_AGENT_LABEL: Final = "org.upsight.desktop"
RUN_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE: Final = "Upsight"
# Characters the Desktop Entry spec says must be quoted, and those escaped inside quotes.
_RESERVED: Final = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED: Final = frozenset('"`$\\')


def launch_command() -> list[str]:
    """The command that starts the app minimized, with this interpreter."""
    return [sys.executable, "-m", "upsight.gui.app", "--minimized"]


class Autostart(Protocol):
    """Whether the app starts when this user logs in."""

    def enabled(self) -> bool: ...

    def enable(self, command: Sequence[str]) -> None: ...

    def disable(self) -> None: ...


def _exec_quote(arg: str) -> str:
    """Quote one argument for a desktop entry's ``Exec`` key."""
    if arg and not any(c in _RESERVED for c in arg):
        return arg.replace("%", "%%")
    inner = "".join(f"\\{c}" if c in _ESCAPED else c for c in arg)
    return '"' + inner.replace("%", "%%") + '"'


class DesktopEntry:
    """``~/.config/autostart/upsight.desktop``, as freedesktop session managers read it."""

    def __init__(self, config_home: Path) -> None:
        self.path = config_home / "autostart" / f"{APP_ID}.desktop"

    def enabled(self) -> bool:
        return self.path.is_file()

    def enable(self, command: Sequence[str]) -> None:
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Upsight",
            "Comment=Watch your UPS and protect this computer during power cuts",
            f"Exec={' '.join(_exec_quote(a) for a in command)}",
            f"Icon={APP_ID}",
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


class LaunchAgent:
    """``~/Library/LaunchAgents/org.upsight.desktop.plist``, loaded by launchd at login."""

    def __init__(self, home: Path) -> None:
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"

    def enabled(self) -> bool:
        return self.path.is_file()

    def enable(self, command: Sequence[str]) -> None:
        plist = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(plistlib.dumps(plist))

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


class RunKey:
    """The ``Upsight`` value under HKCU's Run key, which Windows starts at login."""

    def __init__(self, winreg: Any = None) -> None:
        # Looked up at run time: the module exists only on Windows.
        self._winreg = winreg if winreg is not None else importlib.import_module("winreg")

    def enabled(self) -> bool:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                reg.QueryValueEx(key, RUN_VALUE)
        except OSError:
            return False
        return True

    def enable(self, command: Sequence[str]) -> None:
        reg = self._winreg
        line = " ".join(f'"{arg}"' if " " in arg else arg for arg in command)
        with reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
            reg.SetValueEx(key, RUN_VALUE, 0, reg.REG_SZ, line)

    def disable(self) -> None:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            return


def for_this_system(
    system: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Autostart:
    """The autostart mechanism of this (or the named) operating system.

    Args:
        system: ``platform.system()`` by default.
        home: the user's home directory; ``Path.home()`` by default.
        environ: where ``XDG_CONFIG_HOME`` is looked up.
    """
    system = system or platform.system()
    home = home or Path.home()
    if system == "Windows":
        return RunKey()
    if system == "Darwin":
        return LaunchAgent(home)
    config_home = environ.get("XDG_CONFIG_HOME")
    return DesktopEntry(Path(config_home) if config_home else home / ".config")
