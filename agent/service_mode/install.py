"""Install, remove and inspect the agent service: systemd, launchd, or the Windows SCM.

Each installer turns the request into a list of steps (files to write or remove,
commands to run), so ``--dry-run`` prints exactly what a real run does, and tests
run the steps against a temporary root with a runner that records the commands.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Protocol

from upsight.agent.paths import AppPaths
from upsight.agent.service_mode.units import (
    SERVICE,
    ServiceSpec,
    render_launchd,
    render_polkit,
    render_systemd,
    render_sysusers,
    windows_service,
)
from upsight.drivers.errors import UpsError

COMMAND_TIMEOUT_S: Final = 120.0


class ServiceError(UpsError):
    """The service could not be installed, removed or inspected."""


@dataclass(frozen=True)
class RunResult:
    """How a command ended: its exit code and what it printed (stdout and stderr)."""

    code: int
    output: str


Runner = Callable[[Sequence[str]], RunResult]
"""Runs one command and waits for it."""


def run_process(argv: Sequence[str]) -> RunResult:
    """Run a command of the service manager; a missing program is exit code 127."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return RunResult(127, f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return RunResult(124, f"{argv[0]}: no answer within {COMMAND_TIMEOUT_S:g} s")
    return RunResult(done.returncode, (done.stdout + done.stderr).strip())


@dataclass(frozen=True)
class WriteFile:
    """Write ``content`` to ``path`` (a path on the target system) with ``mode``."""

    path: str
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class RemoveFile:
    """Remove ``path`` if it exists."""

    path: str


@dataclass(frozen=True)
class MakeDir:
    """Create directory ``path`` and its parents, owned by whoever installs."""

    path: str
    mode: int = 0o755


@dataclass(frozen=True)
class Command:
    """Run ``argv``; when not ``required``, a failure is a warning, not the end."""

    argv: tuple[str, ...]
    required: bool = True


@dataclass(frozen=True)
class Call:
    """Call a function of the OS API (pywin32), described for dry runs."""

    what: str
    action: Callable[[], None]


Step = WriteFile | RemoveFile | MakeDir | Command | Call


def describe(step: Step) -> str:
    """One line saying what a step does, as ``--dry-run`` prints it."""
    match step:
        case WriteFile(path, content, mode):
            return f"write {path} ({len(content)} bytes, mode {mode:04o})"
        case RemoveFile(path):
            return f"remove {path}"
        case MakeDir(path, mode):
            return f"create directory {path} (mode {mode:04o})"
        case Command(argv, required):
            return "run " + subprocess.list2cmdline(argv) + ("" if required else " (may fail)")
        case Call(what, _):
            return what


def _on(root: Path, path: str) -> Path:
    return root / path.lstrip("/\\")


def apply(
    steps: Sequence[Step], root: Path, runner: Runner, run_commands: bool = True
) -> list[str]:
    """Carry out ``steps`` in order.

    Args:
        steps: from an installer.
        root: files are written under this directory (``/`` for the running system).
        runner: runs commands.
        run_commands: ``False`` writes the files only, for a staged tree or image whose
            own system must run the commands; they come back as warnings instead.

    Returns:
        Warnings: commands that may fail and did, or commands left to run.

    Raises:
        ServiceError: a file could not be written or a required command failed.
    """
    warnings: list[str] = []
    for step in steps:
        try:
            match step:
                case WriteFile(path, content, mode):
                    target = _on(root, path)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
                    os.chmod(target, mode)
                case RemoveFile(path):
                    _on(root, path).unlink(missing_ok=True)
                case MakeDir(path, mode):
                    _on(root, path).mkdir(parents=True, exist_ok=True)
                    os.chmod(_on(root, path), mode)
                case Command(argv, required) if not run_commands:
                    warnings.append(f"left to run on the target: {subprocess.list2cmdline(argv)}")
                case Command(argv, required):
                    result = runner(argv)
                    if result.code != 0:
                        message = f"{subprocess.list2cmdline(argv)} failed ({result.code})"
                        detail = f": {result.output}" if result.output else ""
                        if required:
                            raise ServiceError(message + detail)
                        warnings.append(message + detail)
                case Call(_, action):
                    action()
        except OSError as exc:
            raise ServiceError(f"{describe(step)}: {exc}") from exc
    return warnings


@dataclass(frozen=True)
class ServiceStatus:
    """Where the service stands.

    Attributes:
        installed: its unit, plist or service entry exists.
        enabled: it starts at boot; ``None`` when that cannot be asked.
        active: it is running now; ``None`` when that cannot be asked.
        detail: what the service manager said, for people.
    """

    installed: bool
    enabled: bool | None
    active: bool | None
    detail: str


class Installer(Protocol):
    """One service manager's way of installing the agent."""

    def install_steps(self) -> list[Step]:
        """Everything ``install`` does, in order."""
        ...

    def uninstall_steps(self) -> list[Step]:
        """Everything ``uninstall`` does, in order."""
        ...

    def status(self) -> ServiceStatus:
        """Ask the service manager."""
        ...


def _resource(*parts: str) -> bytes:
    return resources.files("upsight.resources").joinpath(*parts).read_bytes()


UDEV_RULE: Final = "99-upsight-hid.rules"
# Installed as 60-: before NUT's 62-nut-usbups.rules, so that where NUT is installed it keeps
# the UPS (Upsight then reads it through nut://) instead of both fighting over the device.
UDEV_TARGET: Final = "/etc/udev/rules.d/60-upsight-hid.rules"


class SystemdInstaller:
    """A systemd system service running as a dedicated account (Linux).

    Install writes the unit, the account (sysusers.d), the polkit rule that lets the
    account power the machine off, and the udev rule that gives it USB UPSes; then
    reloads udev and systemd and enables and starts the unit. Uninstall stops and
    removes all of that but keeps the account, ``/etc/upsight`` (config, admin policy)
    and ``/var/lib/upsight`` (history), as removing a Debian package does.
    """

    unit = "/etc/systemd/system/upsight.service"
    sysusers = "/etc/sysusers.d/upsight.conf"
    polkit = "/etc/polkit-1/rules.d/50-upsight.rules"
    udev = UDEV_TARGET

    def __init__(
        self,
        command: Sequence[str],
        root: Path = Path("/"),
        runner: Runner = run_process,
        spec: ServiceSpec = SERVICE,
    ) -> None:
        self.command = tuple(command)
        self.root = root
        self.runner = runner
        self.spec = spec

    @property
    def _unit_name(self) -> str:
        return f"{self.spec.name}.service"

    def install_steps(self) -> list[Step]:
        paths = AppPaths.system("linux")
        policies = paths.config_dir / "policies"
        return [
            WriteFile(self.sysusers, render_sysusers(self.spec).encode()),
            Command(("systemd-sysusers", self.sysusers)),
            # The agent saves config.toml here; the policies below stay root's alone.
            Command(("install", "-d", "-m", "0775", "-g", self.spec.user, str(paths.config_dir))),
            MakeDir(str(policies / "managed")),
            MakeDir(str(policies / "recommended")),
            WriteFile(self.polkit, render_polkit(self.spec).encode()),
            WriteFile(self.udev, _resource("udev", UDEV_RULE)),
            # udev is absent in containers; USB access then needs the host's rule.
            Command(("udevadm", "control", "--reload-rules"), required=False),
            Command(("udevadm", "trigger", "--subsystem-match=usb", "--action=change"), False),
            WriteFile(self.unit, render_systemd(self.command, self.spec).encode()),
            Command(("systemctl", "daemon-reload")),
            Command(("systemctl", "enable", "--now", self._unit_name)),
        ]

    def uninstall_steps(self) -> list[Step]:
        return [
            Command(("systemctl", "disable", "--now", self._unit_name), required=False),
            RemoveFile(self.unit),
            RemoveFile(self.polkit),
            RemoveFile(self.udev),
            RemoveFile(self.sysusers),
            Command(("systemctl", "daemon-reload"), required=False),
            Command(("udevadm", "control", "--reload-rules"), required=False),
        ]

    def status(self) -> ServiceStatus:
        installed = _on(self.root, self.unit).exists()
        shown = self.runner(
            (
                "systemctl",
                "show",
                self._unit_name,
                "--property=LoadState,UnitFileState,ActiveState,SubState",
            )
        )
        if shown.code != 0:
            return ServiceStatus(installed, None, None, shown.output or "systemctl show failed")
        props = dict(line.split("=", 1) for line in shown.output.splitlines() if "=" in line)
        active = props.get("ActiveState", "")
        enabled = props.get("UnitFileState", "")
        detail = f"{active or 'unknown'} ({props.get('SubState', '')}), unit file {enabled or '-'}"
        return ServiceStatus(installed, enabled == "enabled", active == "active", detail)


class LaunchdInstaller:
    """A LaunchDaemon (macOS); written from the launchd documentation, untested on a Mac."""

    def __init__(
        self,
        command: Sequence[str],
        root: Path = Path("/"),
        runner: Runner = run_process,
        spec: ServiceSpec = SERVICE,
    ) -> None:
        self.command = tuple(command)
        self.root = root
        self.runner = runner
        self.spec = spec
        self.plist = f"/Library/LaunchDaemons/{spec.label}.plist"

    @property
    def _target(self) -> str:
        return f"system/{self.spec.label}"

    def install_steps(self) -> list[Step]:
        policies = AppPaths.system("darwin").config_dir / "policies"
        return [
            MakeDir(str(policies / "recommended")),
            WriteFile(self.plist, render_launchd(self.command, self.spec)),
            # A service once disabled stays disabled across bootstrap until enabled.
            Command(("launchctl", "enable", self._target)),
            Command(("launchctl", "bootstrap", "system", self.plist)),
        ]

    def uninstall_steps(self) -> list[Step]:
        return [
            Command(("launchctl", "bootout", self._target), required=False),
            RemoveFile(self.plist),
        ]

    def status(self) -> ServiceStatus:
        installed = _on(self.root, self.plist).exists()
        shown = self.runner(("launchctl", "print", self._target))
        if shown.code != 0:
            return ServiceStatus(installed, False, False, "not loaded")
        running = "state = running" in shown.output
        return ServiceStatus(installed, True, running, "running" if running else "loaded")


Importer = Callable[[str], ModuleType]


class WindowsInstaller:
    """A Windows service through pywin32, imported only when used. Untested on Windows.

    ``command`` must be a program that speaks the Service Control Manager's protocol:
    the frozen service host the MSI installs (``docs/deploy.md``).
    """

    def __init__(
        self,
        command: Sequence[str],
        runner: Runner = run_process,
        importer: Importer = importlib.import_module,
        spec: ServiceSpec = SERVICE,
    ) -> None:
        self.config = windows_service(command, spec)
        self.runner = runner
        self.importer = importer

    def _pywin32(self) -> tuple[Any, Any]:
        try:
            return self.importer("win32serviceutil"), self.importer("win32service")
        except ImportError:
            raise ServiceError(
                "installing the Windows service needs pywin32, which is missing: "
                "pip install pywin32, or install Upsight with its MSI"
            ) from None

    def install_steps(self) -> list[Step]:
        util, service = self._pywin32()
        config = self.config
        program, *args = config.command

        def install() -> None:
            util.InstallService(
                None,
                config.name,
                config.display_name,
                startType=service.SERVICE_AUTO_START,
                exeName=program,
                exeArgs=subprocess.list2cmdline(args),
                description=config.description,
            )

        delay_ms = config.restart_delay_s * 1000
        return [
            Call(
                f"register service {config.name}: {subprocess.list2cmdline(config.command)}",
                install,
            ),
            # Restart after a crash, as systemd's Restart=on-failure does.
            Command(
                (
                    "sc.exe",
                    "failure",
                    config.name,
                    "reset=",
                    "86400",
                    "actions=",
                    f"restart/{delay_ms}",
                )
            ),
            Call(f"start service {config.name}", lambda: util.StartService(config.name)),
        ]

    def uninstall_steps(self) -> list[Step]:
        util, _ = self._pywin32()
        name = self.config.name

        def stop() -> None:
            try:
                util.StopService(name)
            except Exception:  # pywintypes.error: it was not running; removal goes on.
                return

        return [
            Call(f"stop service {name}", stop),
            Call(f"remove service {name}", lambda: util.RemoveService(name)),
        ]

    def status(self) -> ServiceStatus:
        util, service = self._pywin32()
        name = self.config.name
        try:
            state = util.QueryServiceStatus(name)[1]
        except Exception as exc:  # pywintypes.error 1060: no such service.
            return ServiceStatus(False, False, False, str(exc))
        manager = service.OpenSCManager(None, None, service.SC_MANAGER_CONNECT)
        handle = service.OpenService(manager, name, service.SERVICE_QUERY_CONFIG)
        start_type = service.QueryServiceConfig(handle)[1]
        running = state == service.SERVICE_RUNNING
        return ServiceStatus(
            True,
            start_type == service.SERVICE_AUTO_START,
            running,
            "running" if running else f"state {state}",
        )


def default_command() -> tuple[str, ...]:
    """How the service starts this installation of the agent."""
    if getattr(sys, "frozen", False):
        return (sys.executable,)
    script = Path(sys.executable).with_name("upsight.exe" if os.name == "nt" else "upsight")
    if script.exists():
        return (str(script),)
    return (sys.executable, "-m", "upsight.agent.cli")


def installer_for(
    platform: str = sys.platform,
    command: Sequence[str] | None = None,
    root: Path = Path("/"),
    runner: Runner = run_process,
) -> Installer:
    """The installer of this OS's service manager.

    Args:
        platform: a ``sys.platform`` value.
        command: the agent program; :func:`default_command` when ``None``.
        root: where files go (``/`` for the running system).
        runner: runs the service manager's commands.

    Raises:
        ServiceError: the platform has no supported service manager.
    """
    program = command or default_command()
    if platform == "win32":
        return WindowsInstaller(program, runner)
    if platform == "darwin":
        return LaunchdInstaller(program, root, runner)
    if platform.startswith("linux"):
        return SystemdInstaller(program, root, runner)
    raise ServiceError(f"no service manager supported on {platform}")
