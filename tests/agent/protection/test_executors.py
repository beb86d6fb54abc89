"""Executors: the protection command run for real, platform plans, and the test-run interlock."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from upsight.agent.protection.actions import Action, ActionKind
from upsight.agent.protection.executors import (
    MAX_OUTPUT_BYTES,
    CapturingExecutor,
    LinuxExecutor,
    MacExecutor,
    PowerActionsDisabled,
    WindowsExecutor,
    command_plan,
    hibernate_unavailable_linux,
    mac_hibernate_mode,
    planned,
    platform_executor,
    run_plan_program,
    run_program,
)

ARGV_TO_JSON = "import json, sys\nopen(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))\n"
# Starts a child that would outlive it, writes the child's pid, then hangs.
HANG_WITH_CHILD = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(60)
"""


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_arguments_reach_the_program_verbatim_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    pwned = tmp_path / "pwned"
    tricky = [
        "with space",
        "'single quotes'",
        '"double quotes"',
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        f"; touch {pwned}",
        "a | b",
        "*",
        "$HOME",
        "back\\slash",
        "",
    ]
    script = _script(tmp_path, "argv.py", ARGV_TO_JSON)
    action = Action(ActionKind.COMMAND, (sys.executable, script, str(out), *tricky), 30.0)
    outcome = run_plan_program(command_plan(action))
    assert outcome.ok, outcome.detail
    assert json.loads(out.read_text()) == tricky
    assert not pwned.exists()


def _gone(pid: int) -> bool:
    """Whether a process no longer runs (a zombie nobody reaped counts as gone)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


def test_a_hanging_command_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = _script(tmp_path, "hang.py", HANG_WITH_CHILD)
    action = Action(ActionKind.COMMAND, (sys.executable, script, str(pid_file)), 1.0)
    outcome = run_plan_program(command_plan(action))
    assert not outcome.ok
    assert outcome.detail == "killed after 1 s (its timeout)"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


def test_output_is_logged_but_bounded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = _script(
        tmp_path,
        "chatty.py",
        "import sys\nprint('first line')\nsys.stdout.write('x' * 100000)\n"
        "print('trouble', file=sys.stderr)\n",
    )
    result = run_program([sys.executable, script], 30.0)
    assert result.returncode == 0
    assert len(result.stdout) == MAX_OUTPUT_BYTES
    assert result.dropped == len("first line\n") + 100000 - MAX_OUTPUT_BYTES
    assert result.stderr == b"trouble\n"
    action = Action(ActionKind.COMMAND, (sys.executable, script), 30.0)
    with caplog.at_level(logging.INFO, logger="upsight.agent.protection.executors"):
        assert run_plan_program(command_plan(action)).ok
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.endswith("stdout: first line") for m in logged)
    assert any(m.endswith("stderr: trouble") for m in logged)
    assert any("more bytes of output not logged" in m for m in logged)
    assert sum(len(m) for m in logged) < 3 * MAX_OUTPUT_BYTES


def test_a_failing_command_reports_its_status_and_first_error_line(tmp_path: Path) -> None:
    script = _script(tmp_path, "fail.py", "import sys\nsys.exit('no VMs to stop')\n")
    action = Action(ActionKind.COMMAND, (sys.executable, script), 30.0)
    outcome = run_plan_program(command_plan(action))
    assert not outcome.ok
    assert outcome.detail == "exit status 1: no VMs to stop"


def test_a_missing_program_is_reported(tmp_path: Path) -> None:
    action = Action(ActionKind.COMMAND, (str(tmp_path / "absent"),), 30.0)
    outcome = run_plan_program(command_plan(action))
    assert not outcome.ok
    assert outcome.detail.startswith(f"cannot start {tmp_path / 'absent'}")


@pytest.mark.parametrize(
    ("system", "kind", "description"),
    [
        ("Linux", ActionKind.SHUTDOWN, "systemctl poweroff"),
        ("Linux", ActionKind.HIBERNATE, "systemctl hibernate"),
        ("Windows", ActionKind.SHUTDOWN, "shutdown.exe /s /t 0"),
        ("Windows", ActionKind.HIBERNATE, "SetSuspendState (hibernate)"),
        ("Darwin", ActionKind.SHUTDOWN, "shutdown -h now"),
        ("Darwin", ActionKind.HIBERNATE, "pmset sleepnow"),
    ],
)
def test_what_each_platform_runs(system: str, kind: ActionKind, description: str) -> None:
    plan = planned(Action(kind), system)
    assert plan.description == description
    assert plan.kind is kind


def test_a_command_is_shown_quoted_but_kept_as_a_list() -> None:
    plan = planned(Action(ActionKind.COMMAND, ("/opt/ups down", "--now; rm")), "Linux")
    assert plan.argv == ("/opt/ups down", "--now; rm")
    assert plan.description == "'/opt/ups down' '--now; rm'"


@pytest.mark.parametrize(
    ("logind", "states", "swaps", "reason"),
    [
        ("yes", None, None, None),
        ("na", "freeze mem disk", "header\n/dev/sda2 partition\n", "logind CanHibernate says na"),
        ("challenge", None, None, "logind CanHibernate says challenge"),
        (None, "freeze mem disk\n", "Filename Type\n/swapfile file 1 0 -2\n", None),
        (None, "freeze mem\n", "Filename Type\n/swapfile file\n", "no 'disk' in /sys/power/state"),
        (None, "freeze mem disk\n", "Filename Type Size Used Priority\n", "no swap space"),
        (None, None, None, "no 'disk' in /sys/power/state"),
    ],
)
def test_linux_hibernation_needs_logind_or_kernel_support_and_swap(
    logind: str | None, states: str | None, swaps: str | None, reason: str | None
) -> None:
    found = hibernate_unavailable_linux(logind, states, swaps)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_mac_hibernate_mode_is_read_from_pmset() -> None:
    output = "System-wide power settings:\nCurrently in use:\n standby  1\n hibernatemode  3\n"
    assert mac_hibernate_mode(output) == 3
    assert mac_hibernate_mode(" standby 1\n") is None


def test_the_capturing_executor_records_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    executor = CapturingExecutor("Linux")
    action = Action(ActionKind.COMMAND, (sys.executable, "-c", f"open({str(marker)!r}, 'w')"))
    outcome = executor.run(executor.plan(action))
    assert outcome.ok
    assert executor.dry_run
    assert [p.argv for p in executor.plans] == [action.argv]
    assert not marker.exists()


def test_with_power_actions_off_only_a_capturing_executor_can_be_had() -> None:
    # tests/conftest.py switches power actions off for the whole suite.
    assert os.environ["UPSIGHT_POWER_ACTIONS"] == "off"
    assert isinstance(platform_executor(), CapturingExecutor)
    for real in (LinuxExecutor, MacExecutor, WindowsExecutor):
        with pytest.raises(PowerActionsDisabled, match="UPSIGHT_POWER_ACTIONS=off"):
            real()
