"""The upsight command as a user runs it: real processes, a real agent, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from upsight.agent.api.client import ApiClient
from upsight.agent.cli import main
from upsight.drivers.variables import is_numeric

UPSIGHT = Path(sys.executable).with_name("upsight")
DDL = Path(__file__).resolve().parents[1] / "fixtures" / "ddl"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        out[f"UPSIGHT_{name}_DIR"] = str(tmp_path / name.lower())
    return out


def upsight(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UPSIGHT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_status_of_a_device_prints_sorted_var_lines(env: dict[str, str]) -> None:
    result = upsight(env, "status", "--device", "sim://normal")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    names = [line.split(": ", 1)[0] for line in lines]
    assert names == sorted(names)
    values = dict(line.split(": ", 1) for line in lines)
    assert values["ups.status"] == "OL"
    assert values["device.model"] == "Simulated UPS"
    assert 0 <= float(values["battery.charge"]) <= 100


def test_status_json_is_one_object_with_numbers(env: dict[str, str]) -> None:
    result = upsight(env, "status", "--device", "sim://outage?speed=1000", "--json")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert isinstance(values["battery.charge"], float)
    assert isinstance(values["ups.status"], str)


@pytest.mark.parametrize("dump", sorted(DDL.glob("*.dev")), ids=lambda p: p.name)
def test_status_of_a_dump_equals_the_file(env: dict[str, str], dump: Path) -> None:
    result = upsight(env, "status", "--device", f"dummy:{dump}", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    for line in dump.read_text().splitlines():
        if line.startswith("#") or ": " not in line:
            continue
        name, value = line.split(": ", 1)
        value = value.split("\t#", 1)[0].strip()
        if name == "ups.status":
            assert set(shown[name].split()) == set(value.split())
        elif is_numeric(name):
            assert shown[name] == float(value), name
        else:
            assert shown[name] == value, name


def test_bad_spec_is_one_clear_line_and_exit_2(env: dict[str, str]) -> None:
    result = upsight(env, "status", "--device", "usb:thing")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "expected one of sim://SCENARIO" in result.stderr


def test_unreachable_device_fails_clearly(env: dict[str, str], tmp_path: Path) -> None:
    result = upsight(env, "status", "--device", f"dummy:{tmp_path / 'missing.dev'}")
    assert result.returncode == 2
    assert "missing.dev" in result.stderr


def test_no_agent_no_device_suggests_the_simulator(env: dict[str, str]) -> None:
    result = upsight(env, "status")
    assert result.returncode == 1
    assert "no running agent" in result.stderr
    assert "upsight status --device sim://normal" in result.stderr


def test_the_cli_module_without_a_command_shows_its_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `upsight` alone starts the desktop app (tests/gui/test_launcher.py).
    assert main([]) == 2
    assert "usage: upsight" in capsys.readouterr().err


def test_config_set_and_show_without_agent(env: dict[str, str]) -> None:
    assert upsight(env, "config", "set", "agent.poll_interval_s", "2.5").returncode == 0
    shown = upsight(env, "config", "show").stdout
    assert "agent.poll_interval_s = 2.5" in shown
    bad = upsight(env, "config", "set", "agent.poll_interval_s", "fast")
    assert bad.returncode == 2
    assert "expected a number of seconds from 0.2 to 60" in bad.stderr


@pytest.fixture
def running_agent(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    Path(env["UPSIGHT_CONFIG_DIR"]).mkdir(parents=True)
    Path(env["UPSIGHT_CONFIG_DIR"], "config.toml").write_text(
        "version = 1\n[agent]\npoll_interval_s = 0.2\n"
    )
    proc = subprocess.Popen(
        [str(UPSIGHT), "run", "--device", "sim://outage?speed=100"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    socket = Path(env["UPSIGHT_RUNTIME_DIR"]) / "agent.sock"
    deadline = time.monotonic() + 20
    while not ApiClient.is_running(socket):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "agent did not start"
        time.sleep(0.1)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for_event(env: dict[str, str], kind: str, timeout_s: float = 30) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = upsight(env, "events", "--json")
        events = json.loads(result.stdout) if result.returncode == 0 else []
        if any(e["kind"] == kind for e in events):
            return events
        time.sleep(0.3)
    raise AssertionError(f"no {kind} event")


def test_agent_round_trip(env: dict[str, str], running_agent: subprocess.Popen[str]) -> None:
    status = upsight(env, "status")
    assert status.returncode == 0, status.stderr
    assert "ups.status: " in status.stdout
    events = wait_for_event(env, "ONLINE")
    assert [e["kind"] for e in events][:3] == ["ONBATT", "LOWBATT", "ONLINE"]
    devices = upsight(env, "devices")
    assert "ups: sim://outage?speed=100" in devices.stdout
    changed = upsight(env, "config", "set", "agent.onbatt_debounce_s", "3")
    assert changed.returncode == 0, changed.stderr
    running_agent.send_signal(signal.SIGTERM)
    assert running_agent.wait(10) == 0
    after = upsight(env, "events", "--json")
    assert after.returncode == 0, after.stderr
    assert [e["kind"] for e in json.loads(after.stdout)][:3] == ["ONBATT", "LOWBATT", "ONLINE"]
    assert "agent.onbatt_debounce_s = 3.0" in upsight(env, "config", "show").stdout
    # Raw readings are written in 10 s chunks; stopping the agent writes the last one.
    history = upsight(
        env, "history", "--var", "battery.charge", "--since", "10m", "--points", "5000", "--json"
    )
    assert history.returncode == 0, history.stderr
    points = json.loads(history.stdout)
    assert len(points) > 5
    charges = [p["avg"] for p in points]
    assert min(charges) < max(charges), "the outage drained the battery"
    assert all(p["min"] <= p["avg"] <= p["max"] for p in points)
