"""The agent as a system service, described once and rendered for systemd, launchd and Windows."""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from upsight.agent.paths import AppPaths


@dataclass(frozen=True)
class ServiceSpec:
    """What the service is, independent of the service manager.

    Attributes:
        name: the systemd unit and Windows service name.
        label: the launchd label.
        display_name: shown by service managers.
        description: one sentence on what it does.
        args: the agent's arguments after the executable.
        user: the account the service runs as on Linux.
        groups: groups giving that account the UPS: serial ports (``dialout``) and the
            USB devices the udev rule hands to ``plugdev``.
        device_groups: kernel device classes the service may open (``/proc/devices``).
        restart_delay_s: wait before restarting after a failure.
        watchdog_s: restart when the main loop has not pinged for this long.
        stop_timeout_s: how long stopping may take (history is flushed on the way out).
    """

    name: str = "upsight"
    label: str = "com.upsight.agent"
    display_name: str = "Upsight UPS monitor"
    description: str = (
        "Reads the UPS, keeps its history and protects the computer when the power fails."
    )
    args: tuple[str, ...] = ("run", "--system")
    user: str = "upsight"
    groups: tuple[str, ...] = ("dialout", "plugdev")
    device_groups: tuple[str, ...] = ("usb_device", "hidraw", "ttyS", "ttyUSB", "ttyACM")
    restart_delay_s: int = 5
    watchdog_s: int = 60
    stop_timeout_s: int = 30


SERVICE: Final = ServiceSpec()
LINUX_PATHS: Final = AppPaths.system("linux")
POLICY_DIR: Final = LINUX_PATHS.config_dir / "policies"

# Why each hardening option is set, written beside it in the unit.
_HARDENING: Final[tuple[tuple[str, str, str], ...]] = (
    ("ProtectSystem", "strict", "the whole file system is read-only except the paths below"),
    ("ReadWritePaths", str(LINUX_PATHS.config_dir), "config.toml, changed through the local API"),
    ("ReadOnlyPaths", f"-{POLICY_DIR}", "admin policy: the agent reads it, never writes it"),
    ("PrivateTmp", "yes", "no shared /tmp"),
    ("NoNewPrivileges", "yes", "no setuid escalation, from the agent or its hooks"),
    ("CapabilityBoundingSet", "", "none: power-off goes through logind, allowed by polkit"),
    ("AmbientCapabilities", "", ""),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK", "API, NUT, cloud, udev"),
    ("DevicePolicy", "closed", "only the UPS device classes below, plus /dev/null and friends"),
    ("ProtectKernelTunables", "yes", ""),
    ("ProtectKernelModules", "yes", ""),
    ("ProtectKernelLogs", "yes", ""),
    ("ProtectControlGroups", "yes", ""),
    ("ProtectClock", "yes", ""),
    ("ProtectHostname", "yes", ""),
    ("RestrictNamespaces", "yes", ""),
    ("RestrictRealtime", "yes", ""),
    ("RestrictSUIDSGID", "yes", ""),
    ("LockPersonality", "yes", ""),
    ("SystemCallArchitectures", "native", ""),
    ("SystemCallFilter", "@system-service", "what ordinary services need, nothing more"),
    ("UMask", "0027", "history and state are not world-readable"),
)


def _systemd_word(arg: str) -> str:
    """One ExecStart= word: systemd expands % and $, and splits on unquoted blanks."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if any(c in escaped for c in " \t\"'\\"):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def _protect_home(command: Sequence[str]) -> str:
    # A development install may live in a home directory; the agent must still reach it.
    home = (PurePosixPath("/home"), PurePosixPath("/root"))
    program = PurePosixPath(command[0])
    inside = any(program == h or h in program.parents for h in home)
    return "read-only" if inside else "yes"


def render_systemd(command: Sequence[str], spec: ServiceSpec = SERVICE) -> str:
    """The systemd unit file.

    ``Type=notify`` with a watchdog: the agent says READY=1 once it monitors, pings
    from its main loop and says STOPPING=1 on SIGTERM. It runs as ``spec.user`` with
    no capabilities; the runtime directory is world-readable so that each user's app
    reaches the API socket, whose server checks every caller's uid.

    Args:
        command: the agent executable, e.g. ``["/opt/upsight/venv/bin/upsight"]``.
        spec: the service description.

    Returns:
        The unit's text.
    """
    exec_start = " ".join(_systemd_word(a) for a in (*command, *spec.args))
    state = LINUX_PATHS.data_dir.name
    runtime = LINUX_PATHS.runtime_dir.name
    lines = [
        "# Upsight agent as a system service; written by `upsight service install`.",
        "[Unit]",
        f"Description={spec.display_name}",
        # Ordering only: a NUT server on this machine is up before nut:// devices are read.
        "After=network.target nut-server.service",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={exec_start}",
        f"User={spec.user}",
        f"Group={spec.user}",
        "Restart=on-failure",
        f"RestartSec={spec.restart_delay_s}",
        f"WatchdogSec={spec.watchdog_s}",
        f"TimeoutStopSec={spec.stop_timeout_s}",
        f"StateDirectory={state}",
        "StateDirectoryMode=0750",
        f"RuntimeDirectory={runtime}",
        "RuntimeDirectoryMode=0755",
    ]
    for key, value, why in _HARDENING:
        if why:
            lines.append(f"# {why}")
        lines.append(f"{key}={value}")
    lines.append(f"ProtectHome={_protect_home(command)}")
    lines.append("# the UPS: USB (libusb and hidraw) and serial ports")
    lines += [f"DeviceAllow=char-{group} rw" for group in spec.device_groups]
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def render_sysusers(spec: ServiceSpec = SERVICE) -> str:
    """A sysusers.d(5) file creating the service account and its group memberships."""
    lines = [
        "# Upsight: the account of the agent service; written by `upsight service install`.",
        f'u {spec.user} - "{spec.display_name}" {LINUX_PATHS.data_dir} -',
    ]
    # "m" creates a missing group (plugdev is Debian's; Fedora has none).
    lines += [f"m {spec.user} {group}" for group in spec.groups]
    return "\n".join(lines) + "\n"


POWER_ACTIONS: Final = tuple(
    f"org.freedesktop.login1.{verb}{variant}"
    for verb in ("power-off", "hibernate")
    for variant in ("", "-multiple-sessions", "-ignore-inhibit")
)
"""The logind actions protection takes (``systemctl poweroff`` / ``systemctl hibernate``),
allowed even while users are logged in or an application inhibits them."""


def render_polkit(spec: ServiceSpec = SERVICE) -> str:
    """A polkit rule letting the service account power off or hibernate, and nothing else."""
    actions = " ||\n         ".join(f'action.id == "{a}"' for a in POWER_ACTIONS)
    return (
        "// Upsight: the UPS agent may power off or hibernate the machine before the battery\n"
        "// runs out. Remove this file to take that right away.\n"
        "polkit.addRule(function(action, subject) {\n"
        f'    if (subject.user == "{spec.user}" &&\n'
        f"        ({actions})) {{\n"
        "        return polkit.Result.YES;\n"
        "    }\n"
        "});\n"
    )


def render_launchd(command: Sequence[str], spec: ServiceSpec = SERVICE) -> bytes:
    """The LaunchDaemon property list (runs as root: macOS has no udev to grant devices).

    Args:
        command: the agent executable, e.g. ``["/Applications/Upsight.app/.../upsight"]``.
        spec: the service description.

    Returns:
        The plist as XML bytes.
    """
    plist = {
        "Label": spec.label,
        "ProgramArguments": [*command, *spec.args],
        "RunAtLoad": True,
        # Restart after a crash, not after a clean stop.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": spec.restart_delay_s,
        "ExitTimeOut": spec.stop_timeout_s,
        "ProcessType": "Background",
        "StandardOutPath": "/Library/Logs/Upsight.log",
        "StandardErrorPath": "/Library/Logs/Upsight.log",
    }
    return plistlib.dumps(plist)


@dataclass(frozen=True)
class WindowsServiceConfig:
    """What the Service Control Manager is told about the service.

    Attributes:
        name: the service name (``sc query upsight``).
        display_name: shown in services.msc.
        description: shown in services.msc.
        command: the service executable and its arguments.
        auto_start: start at boot.
        restart_delay_s: the failure action: restart after this long.
    """

    name: str
    display_name: str
    description: str
    command: tuple[str, ...]
    auto_start: bool
    restart_delay_s: int


def windows_service(command: Sequence[str], spec: ServiceSpec = SERVICE) -> WindowsServiceConfig:
    """The Windows service description (runs as LocalSystem, which owns ProgramData)."""
    return WindowsServiceConfig(
        name=spec.name,
        display_name=spec.display_name,
        description=spec.description,
        command=(*command, *spec.args),
        auto_start=True,
        restart_delay_s=spec.restart_delay_s,
    )
