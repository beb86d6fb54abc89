"""Fault campaign: serial UPSes (Megatec Q1 and APC Smart) misbehaving again and again.

Both units are polled at once by real drivers and pollers over socat ptys,
next to a third unit that never misbehaves. Each injection must turn the
faulted units STALE with a reason that says what happened, and each must come
back by itself once the fault clears; nothing may claim a power problem.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.drivers.serial.emulators import ApcSmartEmulator, MegatecEmulator
from tests.faults.campaign import Campaign
from tests.faults.link_helpers import CuttingServer, Watch, start_poller
from tests.peers.pty import Fault, PtyPair, Responder, socat_available
from upsight.agent.events import EventKind
from upsight.agent.monitor import Link
from upsight.agent.poller import Poller

pytestmark = pytest.mark.skipif(not socat_available(), reason="socat is installed by test.sh")

INTERVAL_S = 0.3
STALE_AFTER_S = INTERVAL_S * 3
# Detection needs the stale window plus a failed read (up to three 1 s tries);
# recovery needs the poller's backoff (at most 4 s) plus a connect.
DETECT_S = 10.0
RECOVER_S = 12.0
# Injections per fault at scale 1; each takes about 2-4 s for both units at once.
ROUNDS = 2
CALM = "calm"


@dataclass
class Unit:
    """One emulated UPS on its own pty, polled by its own poller."""

    name: str
    kind: str
    server: CuttingServer
    poller: Poller | None = None

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.server.pair.ups}"


@dataclass
class Rig:
    units: list[Unit]
    calm: Unit
    watch: Watch


@dataclass(frozen=True)
class SerialFault:
    """A fault: how to inject it, how to clear it, and the reason each driver must give."""

    name: str
    inject: Callable[[CuttingServer], None]
    clear: Callable[[CuttingServer], None]
    reasons: dict[str, str]


def _set(fault: Fault) -> Callable[[CuttingServer], None]:
    def inject(server: CuttingServer) -> None:
        server.fault = fault

    return inject


def _heal(server: CuttingServer) -> None:
    server.fault = Fault.NONE


def _replug(server: CuttingServer) -> None:
    server.cuts_done.wait(5)
    server.plug()


def _reconnect_adapter(server: CuttingServer) -> None:
    server.cuts_done.wait(5)
    server.pair.start()
    server.plug()


NO_Q1 = r"TransportTimeout: \S+: no answer to Q1 within 1 s"
NO_APC = r"TransportTimeout: \S+: no answer to APC b'.+?' within 1 s"
GONE = r"(Disconnected: \S+: the serial port went away|NotFound: \S+: no such serial port)"
BAD_Q1 = r"ProtocolError: \S+: 3 bad replies in a row; last: Q1 reply: .+: "
NOT_APC = (
    r"ProtocolError: \S+: (3 bad replies in a row; last|not an APC Smart UPS): APC b'.' reply: "
)

FAULTS = [
    SerialFault(
        "cable pulled mid-reply, then replugged",
        lambda s: s.cut("cable"),
        _replug,
        {"megatec": NO_Q1, "apcsmart": NO_APC},
    ),
    SerialFault(
        "adapter pulled mid-reply (port vanished), then back",
        lambda s: s.cut("adapter"),
        _reconnect_adapter,
        {"megatec": GONE, "apcsmart": GONE},
    ),
    SerialFault(
        "device answers garbage",
        _set(Fault.GARBAGE),
        _heal,
        {"megatec": BAD_Q1 + r".*~~", "apcsmart": NOT_APC + r".*~~"},
    ),
    SerialFault(
        "device sends half lines",
        _set(Fault.HALF),
        _heal,
        {"megatec": BAD_Q1 + r"b'\(", "apcsmart": NOT_APC + "reply cut short"},
    ),
    SerialFault(
        "device silent longer than the read timeout",
        _set(Fault.SILENT),
        _heal,
        {"megatec": NO_Q1, "apcsmart": NO_APC},
    ),
    SerialFault(
        "device echoes every command",
        _set(Fault.ECHO),
        _heal,
        {"megatec": BAD_Q1 + r"b'Q1\\r'", "apcsmart": NOT_APC + r"reply cut short: '[QY]'"},
    ),
]


def _unit(root: Path, name: str, kind: str, responder: Responder) -> Unit:
    pair = PtyPair(root, name).start()
    server = CuttingServer(pair, responder)
    server.start()
    return Unit(name, kind, server)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    watch = Watch(STALE_AFTER_S)
    units = [
        _unit(tmp_path, "qx", "megatec", MegatecEmulator()),
        _unit(tmp_path, "apc", "apcsmart", ApcSmartEmulator()),
    ]
    calm = _unit(tmp_path, CALM, "megatec", MegatecEmulator())
    everyone = [*units, calm]
    try:
        for unit in everyone:
            unit.poller = start_poller(unit.name, unit.spec, watch, INTERVAL_S)
        started = time.time()
        assert watch.wait(
            lambda: all(watch.fresh_after(u.name, 0, started) for u in everyone), 10
        ), "every unit reads before any fault"
        yield Rig(units, calm, watch)
    finally:
        for unit in everyone:
            if unit.poller is not None:
                unit.poller.stop()
            unit.server.stop()
            unit.server.pair.stop()


def _inject_once(rig: Rig, fault: SerialFault) -> tuple[dict[str, str], set[str]]:
    """Inject and clear ``fault`` once: each unit's stale reason, and the units that came back."""
    watch = rig.watch
    mark = watch.mark()
    for unit in rig.units:
        fault.inject(unit.server)
    watch.wait(lambda: all(watch.first_stale(u.name, mark) for u in rig.units), DETECT_S)
    reasons: dict[str, str] = {}
    for unit in rig.units:
        stale = watch.first_stale(unit.name, mark)
        reasons[unit.name] = (stale.error or "") if stale is not None else "never stale"
    cleared = time.time()
    for unit in rig.units:
        fault.clear(unit.server)
    watch.wait(lambda: all(watch.fresh_after(u.name, mark, cleared) for u in rig.units), RECOVER_S)
    back = {u.name for u in rig.units if watch.fresh_after(u.name, mark, cleared) is not None}
    return reasons, back


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name.split(" ")[1])
def test_serial_fault_repeated(
    rig: Rig, fault: SerialFault, campaign: Campaign, scale: int
) -> None:
    watch = rig.watch
    injections = ROUNDS * scale
    recovered = dict.fromkeys((u.name for u in rig.units), 0)
    reasons: dict[str, list[str]] = {u.name: [] for u in rig.units}
    for _ in range(injections):
        seen, back = _inject_once(rig, fault)
        for name, reason in seen.items():
            reasons[name].append(reason)
        for name in back:
            recovered[name] += 1
    false_actions = {u.name: watch.false_actions(u.name) for u in rig.units}
    for unit in rig.units:
        campaign.record(
            f"serial ({unit.kind}): {fault.name}",
            injections=injections,
            recovered=recovered[unit.name],
            false_actions=false_actions[unit.name],
        )

    assert recovered == dict.fromkeys(recovered, injections)
    assert false_actions == dict.fromkeys(false_actions, 0)
    assert watch.false_actions(CALM) == 0
    for unit in rig.units:
        for reason in reasons[unit.name]:
            assert re.match(fault.reasons[unit.kind], reason), f"{unit.kind}: {reason}"
            # The reason names the port, so a user with several UPSes knows which one.
            assert str(unit.server.pair.ups) in reason
        kinds = [e.kind for e in watch.events(unit.name)]
        assert kinds == [EventKind.COMMBAD, EventKind.COMMOK] * injections
    # The unit that never misbehaved never noticed.
    assert EventKind.COMMBAD not in [e.kind for e in watch.events(CALM)]
    assert all(s.link is Link.OK for s in watch.states(CALM))
