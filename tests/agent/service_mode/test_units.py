"""Rendering the service for systemd, launchd and Windows from one description."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from upsight.agent.paths import AppPaths
from upsight.agent.service_mode.units import (
    POWER_ACTIONS,
    SERVICE,
    render_launchd,
    render_polkit,
    render_systemd,
    render_sysusers,
    windows_service,
)

PROGRAM = "/opt/upsight/venv/bin/upsight"


def unit_lines(command: list[str]) -> list[str]:
    return render_systemd(command).splitlines()


def test_unit_starts_the_agent_in_system_mode_as_a_notify_service() -> None:
    lines = unit_lines([PROGRAM])
    for expected in (
        f"ExecStart={PROGRAM} run --system",
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60",
        "Restart=on-failure",
        "RestartSec=5",
        "User=upsight",
        "Group=upsight",
        "WantedBy=multi-user.target",
    ):
        assert expected in lines


def test_unit_carries_the_hardening() -> None:
    lines = unit_lines([PROGRAM])
    for expected in (
        "ProtectSystem=strict",
        "ReadWritePaths=/etc/upsight",
        "ReadOnlyPaths=-/etc/upsight/policies",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "DevicePolicy=closed",
        "DeviceAllow=char-usb_device rw",
        "DeviceAllow=char-hidraw rw",
        "DeviceAllow=char-ttyUSB rw",
        "DeviceAllow=char-ttyS rw",
        "SystemCallFilter=@system-service",
    ):
        assert expected in lines


def test_unit_directories_are_the_system_paths() -> None:
    paths = AppPaths.system("linux")
    lines = unit_lines([PROGRAM])
    assert f"StateDirectory={paths.data_dir.name}" in lines
    assert paths.data_dir == Path("/var/lib") / paths.data_dir.name
    assert f"RuntimeDirectory={paths.runtime_dir.name}" in lines
    assert paths.runtime_dir == Path("/run") / paths.runtime_dir.name
    # Every user's app must reach the socket in the runtime directory.
    assert "RuntimeDirectoryMode=0755" in lines


def test_exec_start_quotes_what_systemd_would_split_or_expand() -> None:
    lines = unit_lines(["/opt/my apps/up%sight$1"])
    assert 'ExecStart="/opt/my apps/up%%sight$$1" run --system' in lines


def test_a_program_in_a_home_directory_stays_reachable() -> None:
    assert "ProtectHome=read-only" in unit_lines(["/home/ann/.venv/bin/upsight"])
    assert "ProtectHome=read-only" in unit_lines(["/root/.venv/bin/upsight"])
    assert "ProtectHome=yes" in unit_lines(["/homely/bin/upsight"])


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (Debian package systemd) is needed"
    unit = tmp_path / "upsight.service"
    unit.write_text(render_systemd(["/bin/true"]))
    # systemd-analyze prints a line for every unknown key or unparsable value.
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [line for line in done.stderr.splitlines() if str(unit) in line]
    assert complaints == []


def test_sysusers_creates_the_account_with_device_groups() -> None:
    lines = render_sysusers().splitlines()
    assert 'u upsight - "Upsight UPS monitor" /var/lib/upsight -' in lines
    assert "m upsight dialout" in lines
    assert "m upsight plugdev" in lines


def test_polkit_rule_allows_power_off_and_hibernate_to_the_service_account_only() -> None:
    rule = render_polkit()
    assert 'subject.user == "upsight"' in rule
    for action in POWER_ACTIONS:
        assert f'action.id == "{action}"' in rule
    assert {a.rsplit(".", 1)[1] for a in POWER_ACTIONS} == {
        "power-off",
        "power-off-multiple-sessions",
        "power-off-ignore-inhibit",
        "hibernate",
        "hibernate-multiple-sessions",
        "hibernate-ignore-inhibit",
    }
    assert rule.count("polkit.Result.YES") == 1


def test_launchd_plist_runs_the_agent_and_restarts_it_after_a_crash() -> None:
    plist = plistlib.loads(render_launchd(["/usr/local/bin/upsight"]))
    assert plist["Label"] == "com.upsight.agent"
    assert plist["ProgramArguments"] == ["/usr/local/bin/upsight", "run", "--system"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] == SERVICE.restart_delay_s


def test_windows_service_description() -> None:
    config = windows_service([r"C:\Program Files\Upsight\upsight-service.exe"])
    assert config.name == "upsight"
    assert config.command == (r"C:\Program Files\Upsight\upsight-service.exe", "run", "--system")
    assert config.auto_start
    assert config.restart_delay_s == 5


@pytest.mark.parametrize(
    ("platform", "config", "data", "runtime"),
    [
        ("linux", "/etc/upsight", "/var/lib/upsight", "/run/upsight"),
        (
            "darwin",
            "/Library/Application Support/Upsight",
            "/Library/Application Support/Upsight/data",
            "/var/run/upsight",
        ),
    ],
)
def test_system_paths(platform: str, config: str, data: str, runtime: str) -> None:
    paths = AppPaths.system(platform)
    assert (paths.config_dir, paths.data_dir, paths.runtime_dir) == (
        Path(config),
        Path(data),
        Path(runtime),
    )
    assert paths.api_socket == Path(runtime) / "agent.sock"


def test_windows_system_paths_are_under_program_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAMDATA", "/pd")
    paths = AppPaths.system("win32")
    assert paths.config_dir == Path("/pd/Upsight")
    assert paths.data_dir == Path("/pd/Upsight/data")
    assert paths.runtime_dir == Path("/pd/Upsight/run")
