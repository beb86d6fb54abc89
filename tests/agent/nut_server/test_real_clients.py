"""NUT's own clients (upsc, upscmd, upsrw) and aionut against the agent's NUT server.

Every client is the real program, talking TCP to an Agent that polls a
``dummy:`` device. NUT's clients print "Init SSL without certificate
database" on stderr, so stderr is only searched, never compared.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from pathlib import Path
from typing import Final

import pytest
from aionut import AIONUTClient

from tests.agent.nut_server.serving import ADMIN, VIEWER, serving_agent, target, wait_until
from upsight.agent.service import Agent
from upsight.drivers.variables import is_numeric

DDL: Final = Path(__file__).parents[2] / "fixtures" / "ddl"
DDL_FILES: Final = sorted(path.name for path in DDL.glob("*.dev"))
# Voltronic-style "unknown" readings, which the driver drops (protocols.md §1.7).
PLACEHOLDERS: Final = "input.voltage.fault: ---.-\nbattery.runtime: ---\n"
_INLINE_COMMENT: Final = re.compile(r"[ \t]#")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)


def _upsc(agent: Agent) -> dict[str, str]:
    result = _run("upsc", target(agent))
    assert result.returncode == 0, result.stderr
    pairs = (line.split(": ", 1) for line in result.stdout.splitlines())
    return {name: value for name, value in pairs}


def _file_values(text: str) -> dict[str, str]:
    """The variables of a dump as written: ``name: value``, inline comments and blanks cut."""
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        values[name.strip()] = _INLINE_COMMENT.split(rest)[0].strip()
    return values


def _held(agent: Agent) -> dict[str, str]:
    reading = agent.states()[0].reading
    assert reading is not None
    return reading.as_nut()


def test_upsc_prints_exactly_what_the_agent_holds(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        served = _upsc(agent)
        held = _held(agent)
        single = _run("upsc", target(agent), "battery.voltage")
    assert served == held
    assert single.stdout == "13.6\n"


def test_upsc_lists_the_devices(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        assert agent.nut_server is not None
        host, port = agent.nut_server.address
        names = _run("upsc", "-l", f"{host}:{port}")
        described = _run("upsc", "-L", f"{host}:{port}")
        unknown = _run("upsc", f"nope@{host}:{port}")
    assert names.stdout == "ups\n"
    assert described.stdout == "ups: Test Power Test UPS 1000\n"
    assert unknown.returncode != 0
    assert "Unknown UPS" in unknown.stderr


@pytest.mark.parametrize("name", [*DDL_FILES, "with-placeholders"])
def test_ddl_dump_comes_back_through_upsc_value_for_value(tmp_path: Path, name: str) -> None:
    """Text comes back identical; numbers are kept as floats, so "13.60" may come back "13.6"."""
    if name == "with-placeholders":
        text = (DDL / DDL_FILES[-1]).read_text() + PLACEHOLDERS
    else:
        text = (DDL / name).read_text()
    written = _file_values(text)
    with serving_agent(tmp_path, text) as agent:
        served = _upsc(agent)
        held = _held(agent)
    assert served == held
    dropped = {var for var, value in written.items() if value in ("---.-", "---")}
    assert dropped == (
        {"input.voltage.fault", "battery.runtime"} if name == "with-placeholders" else set()
    )
    assert set(served) == set(written) - dropped
    for var, value in served.items():
        if value != written[var]:
            assert is_numeric(var), f"{var}: {written[var]!r} came back as {value!r}"
            assert float(value) == float(written[var]), var


def test_upscmd_lists_and_runs_commands(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving_agent(tmp_path) as agent:
        listed = _run("upscmd", "-l", target(agent))
        with caplog.at_level(logging.INFO, logger="upsight.drivers.dummy"):
            denied = _run(
                "upscmd", "-u", VIEWER.name, "-p", VIEWER.password, target(agent), "beeper.mute"
            )
            assert "beeper.mute" not in caplog.text
            ran = _run(
                "upscmd", "-u", ADMIN.name, "-p", ADMIN.password, target(agent), "beeper.mute"
            )
            unknown = _run(
                "upscmd", "-u", ADMIN.name, "-p", ADMIN.password, target(agent), "load.off"
            )
    assert "beeper.mute - " in listed.stdout
    assert "test.battery.start.quick - " in listed.stdout
    assert denied.returncode != 0
    assert "ERR ACCESS-DENIED" in denied.stderr
    assert ran.returncode == 0, ran.stderr
    assert "command beeper.mute accepted" in caplog.text
    assert unknown.returncode != 0
    assert "ERR CMD-NOT-SUPPORTED" in unknown.stderr


def test_upsrw_lists_and_sets_a_variable(tmp_path: Path) -> None:
    with serving_agent(tmp_path) as agent:
        listed = _run("upsrw", target(agent))
        denied = _run(
            "upsrw",
            "-s",
            "battery.charge=41",
            "-u",
            VIEWER.name,
            "-p",
            VIEWER.password,
            target(agent),
        )
        changed = _run(
            "upsrw",
            "-s",
            "battery.charge=42",
            "-u",
            ADMIN.name,
            "-p",
            ADMIN.password,
            target(agent),
        )
        # The next poll shows it; the agent holds it no later than clients see it.
        assert wait_until(lambda: _upsc(agent)["battery.charge"] == "42")
        assert _held(agent)["battery.charge"] == "42"
    assert "[battery.charge]\n" in listed.stdout
    assert "Type: NUMBER\nValue: 100\n" in listed.stdout
    assert "[ups.model]\n" in listed.stdout
    assert "Maximum length: 32\nValue: Test UPS 1000\n" in listed.stdout
    assert denied.returncode != 0
    assert "ERR ACCESS-DENIED" in denied.stderr
    assert changed.returncode == 0, changed.stderr


def test_aionut_lists_devices_and_variables(tmp_path: Path) -> None:
    async def query(host: str, port: int) -> tuple[dict[str, str], dict[str, str], str]:
        client = AIONUTClient(host, port)
        try:
            return (
                await client.list_ups(),
                await client.list_vars("ups"),
                await client.description("ups"),
            )
        finally:
            client.shutdown()

    with serving_agent(tmp_path) as agent:
        assert agent.nut_server is not None
        devices, variables, description = asyncio.run(query(*agent.nut_server.address))
        held = _held(agent)
    assert devices == {"ups": "Test Power Test UPS 1000"}
    assert variables == held
    assert description == "Test Power Test UPS 1000"
