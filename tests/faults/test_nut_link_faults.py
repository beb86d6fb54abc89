"""Fault campaign: the link to a NUT server (real upsd + dummy-ups) failing again and again.

A real ``nut://`` driver and poller read the server; every fresh reading and
event goes to a real history store. Each injection must turn the device STALE
with NUT's reason, and after recovery a value changed on the UPS must reach
the history: one that does not is data lost.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.campaign import Campaign
from tests.faults.link_helpers import Watch, start_poller
from tests.peers.nut import NutServer, nut_available
from upsight.agent.events import EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.poller import Poller

pytestmark = pytest.mark.skipif(not nut_available(), reason="NUT is installed by test.sh")

DEVICE = "ups"
INTERVAL_S = 0.5
STALE_AFTER_S = INTERVAL_S * 3
# upsd declares a driver's data stale when it has heard nothing for MAXAGE s.
MAX_AGE_S = 3
DETECT_S = 15.0
# A restarted driver needs about 3 s before upsd serves its data, plus the poller's backoff.
RECOVER_S = 15.0
ROUNDS = 2


def dump(charge: float) -> str:
    return (
        f"battery.charge: {charge:g}\nbattery.runtime: 1800\nups.status: OL\n"
        "input.voltage: 230.0\ndevice.model: Test\nups.model: Test\n"
    )


@dataclass
class Rig:
    server: NutServer
    watch: Watch
    history: Path
    poller: Poller


@pytest.fixture(scope="module")
def nut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NutServer]:
    # One server for all faults: starting upsd and its driver costs about 3 s.
    server = NutServer(tmp_path_factory.mktemp("nut") / "nut", dump(100), max_age_s=MAX_AGE_S)
    try:
        yield server.start()
    finally:
        if server.driver is not None and server.driver.poll() is None:
            # A driver left frozen by a failed test could not end otherwise.
            os.kill(server.driver.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
def rig(nut: NutServer, tmp_path: Path) -> Iterator[Rig]:
    _whole(nut)
    history = tmp_path / "history.db"
    watch = Watch(STALE_AFTER_S, HistoryStore(history))
    spec = f"nut://127.0.0.1:{nut.port}/{nut.name}"
    poller = start_poller(DEVICE, spec, watch, INTERVAL_S)
    try:
        started = time.time()
        assert watch.wait(lambda: watch.fresh_after(DEVICE, 0, started) is not None, 10)
        yield Rig(nut, watch, history, poller)
    finally:
        poller.stop()
        watch.close_history()


def _whole(server: NutServer) -> None:
    """Undo whatever an earlier test left broken, and wait until upsd serves data."""
    if server.driver is None:
        server.start_driver()
    else:
        os.kill(server.driver.pid, signal.SIGCONT)
    if server.upsd is None:
        server.start_upsd()
    server.write_dump(dump(100))
    server.wait_ready()


@dataclass(frozen=True)
class NutFault:
    name: str
    inject: Callable[[NutServer], None]
    clear: Callable[[NutServer], None]
    reason: str


def _restart_upsd(server: NutServer) -> None:
    server.start_upsd()


def _freeze(server: NutServer) -> None:
    assert server.driver is not None
    os.kill(server.driver.pid, signal.SIGSTOP)


def _thaw(server: NutServer) -> None:
    assert server.driver is not None
    os.kill(server.driver.pid, signal.SIGCONT)


WHERE = r"NUT server 127\.0\.0\.1:\d+"
FAULTS = [
    NutFault(
        "upsd stopped and started again",
        NutServer.stop_upsd,
        _restart_upsd,
        rf"(NotFound: {WHERE}: connection refused \(is upsd running\?\)"
        rf"|Disconnected: {WHERE} closed the connection)",
    ),
    NutFault(
        "NUT driver gone (DRIVER-NOT-CONNECTED)",
        NutServer.stop_driver,
        NutServer.start_driver,
        r"Disconnected: 127\.0\.0\.1:\d+ LIST VAR myups: upsd is not connected to the UPS driver",
    ),
    NutFault(
        "NUT driver frozen, data stale (DATA-STALE)",
        _freeze,
        _thaw,
        r"DataStale: 127\.0\.0\.1:\d+ LIST VAR myups: the NUT driver's data is stale",
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["upsd-restart", "driver-gone", "data-stale"])
def test_nut_link_fault_repeated(rig: Rig, fault: NutFault, campaign: Campaign, scale: int) -> None:
    watch = rig.watch
    injections = ROUNDS * scale
    recovered = 0
    reasons: list[str] = []
    # A distinct charge per injection, set once the link is back: each must reach the history.
    markers = [90.0 - n for n in range(injections)]
    began = time.time()
    for marker in markers:
        reason, back = _inject_once(rig, fault, marker)
        reasons.append(reason)
        recovered += back
    # Read back as the next agent run would: from the file, after a clean close.
    watch.close_history()
    history = HistoryStore(rig.history)
    try:
        points = history.series(DEVICE, "battery.charge", began, time.time() + 1, 100_000)
        stored_kinds = [e.kind for e in history.events(DEVICE)]
    finally:
        history.close()
    stored = {p.min for p in points} | {p.max for p in points}
    data_lost = sum(1 for m in markers if m not in stored)
    false_actions = watch.false_actions(DEVICE)
    campaign.check(
        f"NUT link: {fault.name}",
        injections=injections,
        recovered=recovered,
        data_lost=data_lost,
        false_actions=false_actions,
    )

    for reason in reasons:
        assert re.fullmatch(fault.reason, reason), reason
    assert stored_kinds == [EventKind.COMMBAD, EventKind.COMMOK] * injections


def _inject_once(rig: Rig, fault: NutFault, marker: float) -> tuple[str, bool]:
    """Inject and clear ``fault`` once, then set the charge to ``marker``.

    Returns:
        The stale reason, and whether fresh data came back by itself.
    """
    watch, server = rig.watch, rig.server
    mark = watch.mark()
    fault.inject(server)
    watch.wait(lambda: watch.first_stale(DEVICE, mark) is not None, DETECT_S)
    stale = watch.first_stale(DEVICE, mark)
    reason = (stale.error or "") if stale is not None else "never stale"
    cleared = time.time()
    fault.clear(server)
    back = watch.wait(lambda: watch.fresh_after(DEVICE, mark, cleared) is not None, RECOVER_S)
    server.write_dump(dump(marker))
    watch.wait(lambda: _charge_seen(watch, mark, marker), RECOVER_S)
    return reason, back


def _charge_seen(watch: Watch, mark: int, charge: float) -> bool:
    return any(
        s.reading is not None and s.reading.number("battery.charge") == charge
        for s in watch.states(DEVICE, mark)
    )
