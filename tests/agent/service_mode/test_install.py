"""Installing, removing and inspecting the service against a temporary root."""

from __future__ import annotations

import plistlib
import stat
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from upsight.agent import service_cli
from upsight.agent.service_mode.install import (
    LaunchdInstaller,
    RunResult,
    ServiceError,
    SystemdInstaller,
    WindowsInstaller,
    apply,
)
from upsight.agent.service_mode.units import render_polkit, render_systemd, render_sysusers

PROGRAM = "/opt/upsight/venv/bin/upsight"
UNIT = "etc/systemd/system/upsight.service"


class FakeRunner:
    """Records each command; answers from a table of (argv prefix -> result), else success."""

    def __init__(self, answers: dict[tuple[str, ...], RunResult] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str]) -> RunResult:
        call = tuple(argv)
        self.calls.append(call)
        for prefix, result in self.answers.items():
            if call[: len(prefix)] == prefix:
                return result
        return RunResult(0, "")


def install(root: Path, runner: FakeRunner) -> list[str]:
    installer = SystemdInstaller([PROGRAM], root, runner)
    return apply(installer.install_steps(), root, runner)


def test_systemd_install_writes_the_files_and_runs_exactly_these_commands(
    tmp_path: Path,
) -> None:
    runner = FakeRunner()
    warnings = install(tmp_path, runner)
    assert warnings == []
    assert runner.calls == [
        ("systemd-sysusers", "/etc/sysusers.d/upsight.conf"),
        ("install", "-d", "-m", "0775", "-g", "upsight", "/etc/upsight"),
        ("udevadm", "control", "--reload-rules"),
        ("udevadm", "trigger", "--subsystem-match=usb", "--action=change"),
        ("systemctl", "daemon-reload"),
        ("systemctl", "enable", "--now", "upsight.service"),
    ]
    assert (tmp_path / UNIT).read_text() == render_systemd([PROGRAM])
    assert (tmp_path / "etc/sysusers.d/upsight.conf").read_text() == render_sysusers()
    assert (tmp_path / "etc/polkit-1/rules.d/50-upsight.rules").read_text() == render_polkit()
    rule = resources.files("upsight.resources").joinpath("udev", "99-upsight-hid.rules")
    assert (tmp_path / "etc/udev/rules.d/60-upsight-hid.rules").read_bytes() == rule.read_bytes()
    assert stat.S_IMODE((tmp_path / UNIT).stat().st_mode) == 0o644
    for level in ("managed", "recommended"):
        directory = tmp_path / "etc/upsight/policies" / level
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755


def test_a_failing_required_command_stops_the_install_and_says_why(tmp_path: Path) -> None:
    runner = FakeRunner(
        {("systemctl", "daemon-reload"): RunResult(1, "System has not been booted with systemd")}
    )
    with pytest.raises(ServiceError) as caught:
        install(tmp_path, runner)
    assert str(caught.value) == (
        "systemctl daemon-reload failed (1): System has not been booted with systemd"
    )
    assert ("systemctl", "enable", "--now", "upsight.service") not in runner.calls


def test_udev_missing_is_only_a_warning(tmp_path: Path) -> None:
    runner = FakeRunner({("udevadm",): RunResult(127, "udevadm: command not found")})
    warnings = install(tmp_path, runner)
    assert warnings == [
        "udevadm control --reload-rules failed (127): udevadm: command not found",
        "udevadm trigger --subsystem-match=usb --action=change failed (127): "
        "udevadm: command not found",
    ]
    assert runner.calls[-1] == ("systemctl", "enable", "--now", "upsight.service")


def test_systemd_uninstall_reverses_the_install_and_keeps_config_and_policy(
    tmp_path: Path,
) -> None:
    install(tmp_path, FakeRunner())
    (tmp_path / "etc/upsight/config.toml").write_text("version = 1\n")
    runner = FakeRunner()
    installer = SystemdInstaller([PROGRAM], tmp_path, runner)
    assert apply(installer.uninstall_steps(), tmp_path, runner) == []
    assert runner.calls == [
        ("systemctl", "disable", "--now", "upsight.service"),
        ("systemctl", "daemon-reload"),
        ("udevadm", "control", "--reload-rules"),
    ]
    for gone in (
        UNIT,
        "etc/sysusers.d/upsight.conf",
        "etc/polkit-1/rules.d/50-upsight.rules",
        "etc/udev/rules.d/60-upsight-hid.rules",
    ):
        assert not (tmp_path / gone).exists()
    assert (tmp_path / "etc/upsight/config.toml").exists()
    assert (tmp_path / "etc/upsight/policies/managed").is_dir()


def test_uninstall_of_a_service_that_is_not_there_still_removes_the_files(
    tmp_path: Path,
) -> None:
    install(tmp_path, FakeRunner())
    runner = FakeRunner(
        {("systemctl", "disable"): RunResult(1, "Unit file upsight.service does not exist.")}
    )
    installer = SystemdInstaller([PROGRAM], tmp_path, runner)
    warnings = apply(installer.uninstall_steps(), tmp_path, runner)
    assert len(warnings) == 1
    assert "does not exist" in warnings[0]
    assert not (tmp_path / UNIT).exists()


def test_systemd_status_reads_systemctl_show(tmp_path: Path) -> None:
    install(tmp_path, FakeRunner())
    shown = "LoadState=loaded\nUnitFileState=enabled\nActiveState=active\nSubState=running\n"
    runner = FakeRunner({("systemctl", "show"): RunResult(0, shown)})
    status = SystemdInstaller([PROGRAM], tmp_path, runner).status()
    assert runner.calls == [
        (
            "systemctl",
            "show",
            "upsight.service",
            "--property=LoadState,UnitFileState,ActiveState,SubState",
        )
    ]
    assert (status.installed, status.enabled, status.active) == (True, True, True)
    assert status.detail == "active (running), unit file enabled"


def test_systemd_status_of_a_stopped_disabled_service(tmp_path: Path) -> None:
    shown = "LoadState=not-found\nUnitFileState=\nActiveState=inactive\nSubState=dead\n"
    runner = FakeRunner({("systemctl", "show"): RunResult(0, shown)})
    status = SystemdInstaller([PROGRAM], tmp_path, runner).status()
    assert (status.installed, status.enabled, status.active) == (False, False, False)


def test_systemd_status_without_systemd_is_unknown(tmp_path: Path) -> None:
    message = "System has not been booted with systemd as init system (PID 1). Can't operate."
    runner = FakeRunner({("systemctl",): RunResult(1, message)})
    status = SystemdInstaller([PROGRAM], tmp_path, runner).status()
    assert (status.installed, status.enabled, status.active) == (False, None, None)
    assert status.detail == message


def test_staged_tree_gets_the_files_and_the_commands_as_warnings(tmp_path: Path) -> None:
    runner = FakeRunner()
    installer = SystemdInstaller([PROGRAM], tmp_path, runner)
    warnings = apply(installer.install_steps(), tmp_path, runner, run_commands=False)
    assert runner.calls == []
    assert (tmp_path / UNIT).exists()
    assert "left to run on the target: systemctl enable --now upsight.service" in warnings


def test_launchd_install_uninstall_and_status(tmp_path: Path) -> None:
    runner = FakeRunner()
    installer = LaunchdInstaller(["/usr/local/bin/upsight"], tmp_path, runner)
    apply(installer.install_steps(), tmp_path, runner)
    plist = tmp_path / "Library/LaunchDaemons/com.upsight.agent.plist"
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"][1:] == ["run", "--system"]
    assert (tmp_path / "Library/Application Support/Upsight/policies/recommended").is_dir()
    assert runner.calls == [
        ("launchctl", "enable", "system/com.upsight.agent"),
        ("launchctl", "bootstrap", "system", "/Library/LaunchDaemons/com.upsight.agent.plist"),
    ]
    runner.answers[("launchctl", "print")] = RunResult(0, "state = running\npid = 42")
    status = installer.status()
    assert (status.installed, status.enabled, status.active) == (True, True, True)
    runner.calls.clear()
    apply(installer.uninstall_steps(), tmp_path, runner)
    assert runner.calls == [("launchctl", "bootout", "system/com.upsight.agent")]
    assert not plist.exists()


def test_windows_without_pywin32_says_so() -> None:
    installer = WindowsInstaller([r"C:\Upsight\upsight-service.exe"])
    with pytest.raises(ServiceError, match="needs pywin32, which is missing: pip install pywin32"):
        installer.install_steps()


class FakePywin32:
    """The few pywin32 calls the installer makes, recorded (the OS API boundary)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.util = SimpleNamespace(
            InstallService=lambda *a, **kw: self.calls.append(("InstallService", a, kw)),
            StartService=lambda name: self.calls.append(("StartService", name)),
            StopService=lambda name: self.calls.append(("StopService", name)),
            RemoveService=lambda name: self.calls.append(("RemoveService", name)),
            QueryServiceStatus=lambda name: (16, 4, 0, 0, 0, 0, 0),
        )
        self.service = SimpleNamespace(
            SERVICE_AUTO_START=2,
            SERVICE_RUNNING=4,
            SC_MANAGER_CONNECT=1,
            SERVICE_QUERY_CONFIG=1,
            OpenSCManager=lambda *a: "manager",
            OpenService=lambda *a: "handle",
            QueryServiceConfig=lambda handle: (16, 2, 1, "path", "", 0, "", "LocalSystem", ""),
        )

    def importer(self, name: str) -> ModuleType:
        return {"win32serviceutil": self.util, "win32service": self.service}[name]  # type: ignore[return-value]


def test_windows_install_registers_starts_and_sets_restart_on_failure() -> None:
    fake = FakePywin32()
    runner = FakeRunner()
    installer = WindowsInstaller(
        [r"C:\Program Files\Upsight\upsight-service.exe"], runner, fake.importer
    )
    apply(installer.install_steps(), Path("/"), runner)
    assert fake.calls == [
        (
            "InstallService",
            (None, "upsight", "Upsight UPS monitor"),
            {
                "startType": 2,
                "exeName": r"C:\Program Files\Upsight\upsight-service.exe",
                "exeArgs": "run --system",
                "description": installer.config.description,
            },
        ),
        ("StartService", "upsight"),
    ]
    assert runner.calls == [
        ("sc.exe", "failure", "upsight", "reset=", "86400", "actions=", "restart/5000")
    ]
    status = installer.status()
    assert (status.installed, status.enabled, status.active) == (True, True, True)
    fake.calls.clear()
    apply(installer.uninstall_steps(), Path("/"), runner)
    assert fake.calls == [("StopService", "upsight"), ("RemoveService", "upsight")]


def test_cli_dry_run_prints_every_step_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = service_cli.main(["install", "--dry-run", "--root", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "write /etc/sysusers.d/upsight.conf (" + out[0].split("(", 1)[1]
    assert "run systemctl enable --now upsight.service" in out
    assert "run udevadm control --reload-rules (may fail)" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_install_into_a_staged_tree_writes_files_and_lists_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service_cli.main(["install", "--root", str(tmp_path), "--exec", PROGRAM]) == 0
    captured = capsys.readouterr()
    assert f"ExecStart={PROGRAM} run --system" in (tmp_path / UNIT).read_text()
    assert "warning: left to run on the target: systemctl daemon-reload" in captured.err
    assert service_cli.main(["status", "--root", str(tmp_path)]) == service_cli.NOT_RUNNING
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["installed: yes", "enabled:   unknown", "running:   unknown"]


def test_cli_render_prints_the_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert service_cli.main(["render", "systemd", "--exec", PROGRAM]) == 0
    assert capsys.readouterr().out == render_systemd([PROGRAM])
