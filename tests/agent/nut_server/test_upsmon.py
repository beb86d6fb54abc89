"""NUT's upsmon as a secondary of the agent's NUT server: it shuts down on OB LB and on FSD only.

upsmon runs for real with POLLFREQ 1, HOSTSYNC 1, DEADTIME 3 and FINALDELAY 0;
its SHUTDOWNCMD only touches a file in the test's directory. Waits are
bounded: a missing shutdown fails with upsmon's log after 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.nut_server.serving import DUMP, MONITOR, serving_agent, target, write_dump
from tests.peers.upsmon import Upsmon
from upsight.agent.service import Agent

SHUTDOWN_WAIT_S = 30.0
# Three of upsmon's one-second polls: time enough to act on a status it has seen.
QUIET_S = 3.0


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    with serving_agent(tmp_path / "agent") as served:
        yield served


@pytest.fixture
def upsmon(agent: Agent) -> Iterator[Upsmon]:
    monitor = Upsmon(target(agent), MONITOR.name, MONITOR.password)
    monitor.start()
    try:
        assert monitor.wait_for("Logged into UPS", 15), monitor.log()
        yield monitor
    finally:
        monitor.stop()


def _status(tmp_path: Path, status: str) -> None:
    write_dump(
        tmp_path / "agent" / "ups.dev", DUMP.replace("ups.status: OL", f"ups.status: {status}")
    )


def test_secondary_waits_out_a_plain_outage_and_shuts_down_on_low_battery(
    tmp_path: Path, upsmon: Upsmon
) -> None:
    _status(tmp_path, "OB DISCHRG")
    assert upsmon.wait_for("on battery", 15), upsmon.log()
    time.sleep(QUIET_S)
    assert not upsmon.shutdown_flag.exists(), upsmon.log()
    _status(tmp_path, "OB DISCHRG LB")
    assert upsmon.wait_for_shutdown(SHUTDOWN_WAIT_S), upsmon.log()
    # Low battery alone decided it: the agent never forced a shutdown.
    assert "LOWBATT" in upsmon.notifications()
    assert "FSD" not in upsmon.notifications()


def test_secondary_shuts_down_when_the_agent_forces_shutdown(agent: Agent, upsmon: Upsmon) -> None:
    assert not upsmon.shutdown_flag.exists()
    agent.force_shutdown("ups", "test")
    assert upsmon.wait_for_shutdown(SHUTDOWN_WAIT_S), upsmon.log()
    assert "FSD" in upsmon.notifications()
