"""``upsight protect simulate``: the real engine against the simulator, in simulated time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upsight.agent.config import Config, LoadResult
from upsight.agent.protect_cli import main as protect_main
from upsight.drivers.errors import DeviceSpecError

UPSIGHT = Path(sys.executable).with_name("upsight")


def simulate(capsys: pytest.CaptureFixture[str], *argv: str, config: Config | None = None) -> str:
    def no_agent() -> None:
        raise AssertionError("simulate must not need an agent")

    chosen = config or Config()
    code = protect_main(
        ["simulate", *argv, "--platform", "Linux"], lambda: LoadResult(chosen), no_agent
    )
    assert code == 0
    return capsys.readouterr().out


def timeline(output: str) -> list[str]:
    """The timeline lines, stripped: ``T+0:00  mains lost ...``."""
    return [line.strip() for line in output.splitlines() if line.strip().startswith("T")]


def test_an_outage_with_the_default_settings(capsys: pytest.CaptureFixture[str]) -> None:
    output = simulate(capsys, "outage")
    lines = timeline(output)
    assert lines[0].startswith("T+0:00  mains lost (")
    assert lines[1:4] == [
        "T+0:00  warning shown: This computer shuts down in 1 min: about 4 min 53 s of battery "
        "left, below 5 min (ups)",
        "T+1:00  systemctl poweroff would run",
        "T+1:00  FSD set on ups: NUT secondaries served by this computer shut down too",
    ]
    assert lines[4].split("  ")[1].startswith("the UPS reports a low battery")
    assert lines[-1].split("  ")[1].startswith("mains back")
    assert "  Action: systemctl poweroff" in output
    assert "  On battery, act 1 min after a warning when: runtime below 5 min" in output
    assert output.rstrip().splitlines()[-1] == (
        "Result: this computer would shut down 1:00 after mains was lost, with about 4 min 5 s "
        "of battery left."
    )


def test_mains_blips_do_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    output = simulate(capsys, "flicker", "--minutes", "1")
    assert timeline(output) == [
        "T+0:00  mains lost for 1 s",
        "T+0:20  mains lost for 2 s",
        "T+0:40  mains lost for 3 s",
    ]
    assert output.rstrip().endswith("Result: no action in 1 min: protection never needed to act.")


def test_a_setting_change_moves_and_changes_the_action(capsys: pytest.CaptureFixture[str]) -> None:
    output = simulate(
        capsys, "outage", "--set", "protection.delay_s=30", "--set", 'protection.action="hibernate"'
    )
    lines = timeline(output)
    assert lines[1].startswith("T+0:00  warning shown: This computer hibernates in 30 s:")
    assert lines[2] == "T+0:30  systemctl hibernate would run"
    assert not any("FSD" in line for line in lines)
    assert "Result: this computer would hibernate 0:30 after mains was lost" in output


def test_ups_power_off_shows_the_output_going_off_and_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = Config(protection_ups_power_off=True, protection_ups_power_off_delay_s=90.0)
    lines = timeline(simulate(capsys, "outage", config=config))
    assert lines[4:] == [
        "T+1:00  the UPS is told to turn its output off in 1 min 30 s and back on when mains "
        "returns (shutdown.return)",
        "T+2:30  the UPS turns its output off",
        "T+3:30  mains back (13 %)",
        "T+4:00  UPS output back on",
    ]


def test_monitor_only_warns_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    output = simulate(capsys, "outage", config=Config(protection_action="none"))
    lines = timeline(output)
    assert lines[1].startswith("T+0:00  warning shown: Monitor only, no action is taken:")
    assert lines[2] == "T+1:00  monitor only: nothing runs"
    assert not any("would run" in line for line in lines)
    assert "Result: monitor only: nothing would run, but protection would have acted 1:00" in output


def test_a_ups_without_runtime_is_judged_by_charge_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = simulate(capsys, "sim://outage?profile=ippon-850")
    assert "Note: judged by charge, as the UPS reports no runtime: 47 % (acts below 20 %)" in output
    assert output.rstrip().endswith("mains was lost: the UPS reports a low battery.")


def test_json_output_has_times_from_the_mains_loss(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(simulate(capsys, "outage", "--json"))
    acted = [item for item in data["timeline"] if item["kind"] == "act"]
    assert acted == [{"t": 60.0, "kind": "act", "text": "systemctl poweroff would run"}]
    assert data["runs"] == "systemctl poweroff"
    assert data["scenario"] == "sim://outage"


def test_only_simulator_scenarios_can_be_played(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DeviceSpecError, match="choose one of: normal, outage"):
        simulate(capsys, "blackout")
    with pytest.raises(DeviceSpecError, match="only simulator scenarios"):
        simulate(capsys, "nut://localhost/ups")


def test_a_bad_trial_setting_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = protect_main(
        ["simulate", "outage", "--set", "protection.delay_s=soon"],
        lambda: LoadResult(Config()),
        lambda: None,
    )
    assert code == 2
    assert "expected a number of seconds of warning" in capsys.readouterr().err


def test_the_command_reads_the_settings_file(tmp_path: Path) -> None:
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"UPSIGHT_{name}_DIR"] = str(tmp_path / name.lower())
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        "version = 1\n[protection]\ndelay_s = 45\nruntime_below_s = 240\n"
    )
    result = subprocess.run(
        [str(UPSIGHT), "protect", "simulate", "outage", "--platform", "Darwin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "shutdown -h now would run" in result.stdout
    assert "This computer shuts down in 45 s:" in result.stdout
    assert "runtime below 4 min" in result.stdout
