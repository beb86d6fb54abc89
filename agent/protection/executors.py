"""Executors: shutdown and hibernate on Linux, Windows and macOS, the protection command, dry runs.

``platform_executor()`` is the one place that picks a real executor. It hands
out a CapturingExecutor instead when ``UPSIGHT_POWER_ACTIONS=off`` is set, and
the real executors refuse to be built at all then. The test suite sets it for
itself and every process it starts, so no test can power off its machine.
"""

from __future__ import annotations

import logging
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from upsight.agent.protection.actions import Action, ActionKind, Outcome, Plan

log = logging.getLogger(__name__)

POWER_ACTIONS_ENV: Final = "UPSIGHT_POWER_ACTIONS"
# Output kept per stream of a command, for the log; the rest is counted, not stored.
MAX_OUTPUT_BYTES: Final = 4096
# systemctl, shutdown and pmset return as soon as the request is queued; longer means stuck.
SYSTEM_TIMEOUT_S: Final = 30.0
PROBE_TIMEOUT_S: Final = 5.0
# After SIGTERM at a timeout, a command's process group gets this long before SIGKILL.
KILL_GRACE_S: Final = 2.0
# Readers of a killed command's pipes are abandoned after this long: a grandchild that
# escaped the process group may hold them open.
READER_JOIN_S: Final = 2.0

_LINUX_SHUTDOWN: Final = ("systemctl", "poweroff")
_LINUX_HIBERNATE: Final = ("systemctl", "hibernate")
_SYSV_SHUTDOWN: Final = ("shutdown", "-h", "now")
_WINDOWS_SHUTDOWN: Final = ("shutdown.exe", "/s", "/t", "0")
_WINDOWS_HIBERNATE: Final = "SetSuspendState (hibernate)"
_MAC_SHUTDOWN: Final = ("shutdown", "-h", "now")
_MAC_SLEEP: Final = ("pmset", "sleepnow")
# macOS hibernatemode values that write memory to disk, so that sleep survives power loss.
_MAC_HIBERNATE_MODES: Final = frozenset({3, 25})


class PowerActionsDisabled(RuntimeError):
    """A real power executor was about to be built where power actions are switched off."""


def power_actions_disabled() -> bool:
    """Whether this process must never run real power actions."""
    return os.environ.get(POWER_ACTIONS_ENV, "").strip().lower() == "off"


@dataclass(frozen=True)
class ProgramResult:
    """How a program run went, with the start of its output.

    Attributes:
        returncode: its exit status; None when it could not start or was killed.
        stdout: the first MAX_OUTPUT_BYTES of its standard output.
        stderr: the first MAX_OUTPUT_BYTES of its standard error.
        dropped: bytes of output not kept.
        timed_out: it was killed at its timeout.
        error: why it could not start, if it did not.
    """

    returncode: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    dropped: int = 0
    timed_out: bool = False
    error: str | None = None


class _BoundedReader(threading.Thread):
    """Drains one pipe, keeping its first bytes, so a chatty program never blocks or bloats us."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(name="upsight-command-output", daemon=True)
        self._pipe = pipe
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        with self._pipe:
            while chunk := self._pipe.read(65536):
                room = MAX_OUTPUT_BYTES - len(self.kept)
                self.kept += chunk[:room]
                self.dropped += max(len(chunk) - room, 0)


def _group_options() -> dict[str, Any]:
    # Its own process group (session), so a timeout can kill the command and its children.
    if sys.platform == "win32":
        options = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        options = {"start_new_session": True}
    return options


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False
        )
    else:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_program(argv: Sequence[str], timeout_s: float) -> ProgramResult:
    """Run a program without a shell; kill its process group at the timeout.

    Args:
        argv: the program and its arguments, each passed on exactly as given.
        timeout_s: how long it may run.

    Returns:
        The exit status and the start of its output; never raises for the program's sake.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **_group_options(),
        )
    except OSError as exc:
        return ProgramResult(None, error=f"cannot start {argv[0]}: {exc.strerror or exc}")
    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [_BoundedReader(proc.stdout), _BoundedReader(proc.stderr)]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        proc.wait()
    for reader in readers:
        reader.join(READER_JOIN_S)
    out, err = readers
    return ProgramResult(
        None if timed_out else proc.returncode,
        bytes(out.kept),
        bytes(err.kept),
        out.dropped + err.dropped,
        timed_out,
    )


def log_output(description: str, result: ProgramResult) -> None:
    """Log what a program printed, line by line, bounded."""
    for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        for line in data.decode("utf-8", errors="replace").splitlines():
            if line.strip():
                log.info("%s %s: %s", description, name, line)
    if result.dropped:
        log.info("%s: %d more bytes of output not logged", description, result.dropped)


def outcome_of(result: ProgramResult, timeout_s: float) -> Outcome:
    """An Outcome in words: exit status 0 is success, anything else a failure."""
    if result.error is not None:
        return Outcome(False, result.error)
    if result.timed_out:
        return Outcome(False, f"killed after {timeout_s:g} s (its timeout)")
    if result.returncode == 0:
        return Outcome(True, "exit status 0")
    first = next(
        (
            line.strip()
            for line in result.stderr.decode("utf-8", errors="replace").splitlines()
            if line.strip()
        ),
        "",
    )
    return Outcome(False, f"exit status {result.returncode}" + (f": {first}" if first else ""))


def run_plan_program(plan: Plan) -> Outcome:
    """Run a plan's program, log its output and say how it went."""
    timeout_s = plan.action.timeout_s if plan.kind is ActionKind.COMMAND else SYSTEM_TIMEOUT_S
    log.warning("protection: running %s", plan.description)
    result = run_program(plan.argv, timeout_s)
    log_output(plan.description, result)
    outcome = outcome_of(result, timeout_s)
    log.log(
        logging.INFO if outcome.ok else logging.ERROR,
        "protection: %s: %s",
        plan.description,
        outcome.detail,
    )
    return outcome


def command_plan(action: Action) -> Plan:
    """The plan for a COMMAND action: its argument list, shown shell-quoted for reading only."""
    return Plan(action, ActionKind.COMMAND, action.argv, shlex.join(action.argv))


def planned(action: Action, system: str) -> Plan:
    """What ``system`` (``platform.system()``) would run, without probing the machine."""
    if action.kind is ActionKind.COMMAND:
        return command_plan(action)
    argv: tuple[str, ...]
    if system == "Windows":
        argv = _WINDOWS_SHUTDOWN if action.kind is ActionKind.SHUTDOWN else ()
        description = shlex.join(argv) if argv else _WINDOWS_HIBERNATE
        return Plan(action, action.kind, argv, description)
    if system == "Darwin":
        argv = _MAC_SHUTDOWN if action.kind is ActionKind.SHUTDOWN else _MAC_SLEEP
    else:
        argv = _LINUX_SHUTDOWN if action.kind is ActionKind.SHUTDOWN else _LINUX_HIBERNATE
    return Plan(action, action.kind, argv, shlex.join(argv))


def _fallback(action: Action, shutdown: tuple[str, ...], why: str) -> Plan:
    return Plan(
        action,
        ActionKind.SHUTDOWN,
        shutdown,
        shlex.join(shutdown),
        f"hibernation is not available ({why}); shutting down instead",
    )


class CapturingExecutor:
    """Records what would run instead of running it: ``run --dry-run``, simulations and tests."""

    def __init__(self, system: str | None = None) -> None:
        self._system = system or platform.system()
        self._lock = threading.Lock()
        self._plans: list[Plan] = []

    @property
    def dry_run(self) -> bool:
        return True

    @property
    def plans(self) -> tuple[Plan, ...]:
        """Every plan run so far, oldest first."""
        with self._lock:
            return tuple(self._plans)

    def plan(self, action: Action) -> Plan:
        return planned(action, self._system)

    def run(self, plan: Plan) -> Outcome:
        with self._lock:
            self._plans.append(plan)
        log.warning("protection (dry run): would run %s", plan.description)
        return Outcome(True, f"dry run: {plan.description} not run")


def hibernate_unavailable_linux(
    logind_answer: str | None, power_states: str | None, swaps: str | None
) -> str | None:
    """Why Linux cannot hibernate, or None if it can.

    Args:
        logind_answer: logind's CanHibernate answer (``yes``, ``no``, ``na``,
            ``challenge``), or None when logind could not be asked.
        power_states: the text of /sys/power/state, or None if unreadable.
        swaps: the text of /proc/swaps, or None if unreadable.
    """
    if logind_answer is not None:
        # "challenge" needs someone to authenticate; nobody will, mid-outage.
        return None if logind_answer == "yes" else f"logind CanHibernate says {logind_answer}"
    if power_states is None or "disk" not in power_states.split():
        return "the kernel offers no hibernation (no 'disk' in /sys/power/state)"
    if swaps is None or len([line for line in swaps.splitlines() if line.strip()]) < 2:
        return "there is no swap space to hibernate into"
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


class _SystemExecutor:
    """Shared by the real executors: command actions, running plans."""

    def __init__(self) -> None:
        if power_actions_disabled():
            raise PowerActionsDisabled(
                f"{POWER_ACTIONS_ENV}=off: real power actions may not run in this process"
            )

    @property
    def dry_run(self) -> bool:
        return False

    def plan(self, action: Action) -> Plan:
        if action.kind is ActionKind.COMMAND:
            return command_plan(action)
        if action.kind is ActionKind.HIBERNATE:
            return self._hibernate_plan(action)
        return self._shutdown_plan(action)

    def run(self, plan: Plan) -> Outcome:
        return run_plan_program(plan)

    def _shutdown_plan(self, action: Action) -> Plan:
        raise NotImplementedError

    def _hibernate_plan(self, action: Action) -> Plan:
        raise NotImplementedError


class LinuxExecutor(_SystemExecutor):
    """systemctl poweroff / hibernate under systemd; ``shutdown -h now`` without it."""

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self._root = root

    def _systemd(self) -> bool:
        # The check sd_booted() makes: systemd is PID 1 exactly when this directory exists.
        booted = (self._root / "run/systemd/system").is_dir()
        return booted and shutil.which("systemctl") is not None

    def _shutdown_plan(self, action: Action) -> Plan:
        argv = _LINUX_SHUTDOWN if self._systemd() else _SYSV_SHUTDOWN
        return Plan(action, ActionKind.SHUTDOWN, argv, shlex.join(argv))

    def _hibernate_plan(self, action: Action) -> Plan:
        shutdown = self._shutdown_plan(action).argv
        if not self._systemd():
            return _fallback(action, shutdown, "systemd is not running")
        why = hibernate_unavailable_linux(
            self._logind_can_hibernate(),
            _read(self._root / "sys/power/state"),
            _read(self._root / "proc/swaps"),
        )
        if why is not None:
            return _fallback(action, shutdown, why)
        return Plan(action, ActionKind.HIBERNATE, _LINUX_HIBERNATE, shlex.join(_LINUX_HIBERNATE))

    def _logind_can_hibernate(self) -> str | None:
        # Send: busctl call org.freedesktop.login1 /org/freedesktop/login1
        #       org.freedesktop.login1.Manager CanHibernate
        # Recv: s "yes"
        if shutil.which("busctl") is None:
            return None
        result = run_program(
            [
                "busctl",
                "call",
                "org.freedesktop.login1",
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "CanHibernate",
            ],
            PROBE_TIMEOUT_S,
        )
        words = result.stdout.decode("utf-8", errors="replace").split()
        if result.returncode != 0 or len(words) != 2 or words[0] != "s":
            return None
        return words[1].strip('"')


class MacExecutor(_SystemExecutor):
    """``shutdown -h now``; ``pmset sleepnow`` when sleep writes a hibernation image."""

    def _shutdown_plan(self, action: Action) -> Plan:
        return Plan(action, ActionKind.SHUTDOWN, _MAC_SHUTDOWN, shlex.join(_MAC_SHUTDOWN))

    def _hibernate_plan(self, action: Action) -> Plan:
        # Recv (pmset -g): lines such as " hibernatemode        3"
        result = run_program(["pmset", "-g"], PROBE_TIMEOUT_S)
        mode = mac_hibernate_mode(result.stdout.decode("utf-8", errors="replace"))
        if mode not in _MAC_HIBERNATE_MODES:
            why = "this Mac's sleep keeps no copy of memory on disk (pmset hibernatemode is "
            why += f"{'unknown' if mode is None else mode})"
            return _fallback(action, _MAC_SHUTDOWN, why)
        return Plan(
            action,
            ActionKind.HIBERNATE,
            _MAC_SLEEP,
            f"{shlex.join(_MAC_SLEEP)} (hibernatemode {mode})",
        )


def mac_hibernate_mode(pmset_output: str) -> int | None:
    """The ``hibernatemode`` in ``pmset -g`` output, if present."""
    for line in pmset_output.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "hibernatemode" and words[1].isdecimal():
            return int(words[1])
    return None


class WindowsExecutor(_SystemExecutor):
    """``shutdown.exe /s /t 0``; hibernation through powrprof's SetSuspendState."""

    def _shutdown_plan(self, action: Action) -> Plan:
        return Plan(action, ActionKind.SHUTDOWN, _WINDOWS_SHUTDOWN, shlex.join(_WINDOWS_SHUTDOWN))

    def _hibernate_plan(self, action: Action) -> Plan:
        if not _windows_hibernate_allowed():
            why = "it is turned off in Windows; powercfg /hibernate on turns it on"
            return _fallback(action, _WINDOWS_SHUTDOWN, why)
        return Plan(action, ActionKind.HIBERNATE, (), _WINDOWS_HIBERNATE)

    def run(self, plan: Plan) -> Outcome:
        if plan.kind is not ActionKind.HIBERNATE:
            return run_plan_program(plan)
        log.warning("protection: hibernating with SetSuspendState")
        error = _windows_hibernate()
        if error is None:
            return Outcome(True, "hibernation requested")
        # Staying up on a failing battery loses more than a shutdown does.
        log.error("protection: hibernation failed (%s); shutting down instead", error)
        outcome = run_plan_program(self._shutdown_plan(plan.action))
        return Outcome(outcome.ok, f"hibernation failed ({error}); shutdown: {outcome.detail}")


def _windows_hibernate_allowed() -> bool:
    if sys.platform == "win32":
        import ctypes

        allowed = bool(ctypes.WinDLL("powrprof").IsPwrHibernateAllowed())
    else:
        allowed = False
    return allowed


def _windows_hibernate() -> str | None:
    """Hibernate now; returns why it failed, or None once Windows accepted."""
    if sys.platform == "win32":
        import ctypes
        from ctypes import wintypes

        class _Luid(ctypes.Structure):
            _fields_ = (("low", wintypes.DWORD), ("high", wintypes.LONG))

        class _Privileges(ctypes.Structure):
            _fields_ = (("count", wintypes.DWORD), ("luid", _Luid), ("attributes", wintypes.DWORD))

        token_adjust, token_query, enabled = 0x20, 0x8, 0x2
        advapi = ctypes.WinDLL("advapi32", use_last_error=True)
        kernel = ctypes.WinDLL("kernel32", use_last_error=True)
        # SetSuspendState needs SeShutdownPrivilege enabled in our token, not just held.
        token = wintypes.HANDLE()
        if not advapi.OpenProcessToken(
            kernel.GetCurrentProcess(), token_adjust | token_query, ctypes.byref(token)
        ):
            return f"OpenProcessToken error {ctypes.get_last_error()}"
        try:
            privileges = _Privileges(1, _Luid(), enabled)
            if not advapi.LookupPrivilegeValueW(
                None, "SeShutdownPrivilege", ctypes.byref(privileges.luid)
            ):
                return f"LookupPrivilegeValue error {ctypes.get_last_error()}"
            advapi.AdjustTokenPrivileges(token, False, ctypes.byref(privileges), 0, None, None)
            if ctypes.get_last_error():
                return f"AdjustTokenPrivileges error {ctypes.get_last_error()}"
        finally:
            kernel.CloseHandle(token)
        powrprof = ctypes.WinDLL("powrprof", use_last_error=True)
        # SetSuspendState(Hibernate, ForceCritical (ignored since Vista), DisableWakeEvent)
        if not powrprof.SetSuspendState(True, True, False):
            return f"SetSuspendState error {ctypes.get_last_error()}"
        failure = None
    else:
        failure = "not Windows"
    return failure


def platform_executor() -> CapturingExecutor | LinuxExecutor | MacExecutor | WindowsExecutor:
    """The executor for this computer; a dry-run one when power actions are disabled."""
    if power_actions_disabled():
        log.warning(
            "power actions are disabled (%s=off): protection only logs what it would run",
            POWER_ACTIONS_ENV,
        )
        return CapturingExecutor()
    system = platform.system()
    if system == "Windows":
        return WindowsExecutor()
    if system == "Darwin":
        return MacExecutor()
    return LinuxExecutor()
