"""The command line and discovery: devices lists what is found, run and status pick the one UPS."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from upsight.agent import cli
from upsight.drivers import discovery
from upsight.drivers.discovery import BATTERY, NUT, PORT, USB, Found

HID = Found("hid://051d:0002", "American Power Conversion Back-UPS ES 850G2 (USB 051d:0002)", USB)
SIM = Found("sim://normal", "a UPS that happens to be simulated", USB)
PORT_S0 = Found("megatec:/dev/ttyS0", "/dev/ttyS0: not probed", PORT)
OS_BATTERY = Found("battery:", "the operating system's battery (87 %, on mains)", BATTERY)


@pytest.fixture(autouse=True)
def no_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "DATA", "RUNTIME"):
        monkeypatch.setenv(f"UPSIGHT_{name}_DIR", str(tmp_path / name.lower()))


def finds(monkeypatch: pytest.MonkeyPatch, *found: Found) -> list[bool]:
    """Make discovery find ``found``; returns the probe flags it was called with."""
    calls: list[bool] = []

    def fake_discover(*, probe: bool = False, **_: object) -> list[Found]:
        calls.append(probe)
        return list(found)

    monkeypatch.setattr(discovery, "discover", fake_discover)
    return calls


def test_devices_prints_what_is_found_with_its_spec(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = finds(monkeypatch, HID, PORT_S0, OS_BATTERY)
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Found on this machine")
    assert any(line.split()[:1] == ["hid://051d:0002"] and "Back-UPS" in line for line in lines)
    assert any(line.strip().startswith("battery:") for line in lines)
    assert "upsight devices --probe" in out
    assert "sim://normal  (built-in simulated UPS)" in out, "the simulators are still listed"
    assert calls == [False]


def test_devices_probe_asks_the_serial_ports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = finds(monkeypatch)
    assert cli.main(["devices", "--probe"]) == 0
    assert calls == [True]
    assert capsys.readouterr().out.startswith("No UPS found on this machine")


def test_status_reads_the_one_ups_found_and_says_which(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    finds(monkeypatch, SIM, PORT_S0, OS_BATTERY)
    assert cli.main(["status"]) == 0
    captured = capsys.readouterr()
    assert "ups.status: OL" in captured.out
    assert "reading sim://normal, the one UPS found" in captured.err


def test_status_with_several_ups_names_them_and_reads_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    finds(monkeypatch, HID, Found("nut://127.0.0.1/myups", "desk UPS", NUT))
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert "found 2 UPSes (hid://051d:0002, nut://127.0.0.1/myups)" in err
    assert "upsight status --device sim://normal" in err


def test_run_monitors_the_one_ups_found(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    finds(monkeypatch, HID, OS_BATTERY)
    log = logging.getLogger("upsight-test")
    with caplog.at_level(logging.INFO, logger="upsight-test"):
        assert cli._unconfigured_devices(log, "config.toml") == ["hid://051d:0002"]
    assert "monitoring hid://051d:0002, the one UPS found" in caplog.text


@pytest.mark.parametrize(
    "found",
    [(), (PORT_S0, OS_BATTERY), (HID, Found("hid://0764:0501", "CyberPower", USB))],
)
def test_run_falls_back_to_the_simulator_unless_exactly_one_ups(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, found: tuple[Found, ...]
) -> None:
    finds(monkeypatch, *found)
    log = logging.getLogger("upsight-test")
    with caplog.at_level(logging.INFO, logger="upsight-test"):
        assert cli._unconfigured_devices(log, "config.toml") == [cli.FALLBACK_DEVICE]
    assert "simulated UPS" in caplog.text
