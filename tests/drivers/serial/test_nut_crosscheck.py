"""Cross-check: NUT's own nutdrv_qx and apcsmart read the same emulated units as Upsight does.

Each peer gets its own socat pair (NUT locks its port) with its own copy of the
emulator; both copies always hold the same state. NUT's values come through a
real upsd and upsc (test-peers.md 2a, 2b), Upsight's from its driver, and every
variable that both report must agree.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.peers.nut import NUT_BIN, NutServer, nut_available
from tests.peers.pty import EmulatorServer, PtyPair, socat_available
from upsight.drivers import open_device
from upsight.drivers.model import Reading, Status, Value
from upsight.drivers.variables import is_numeric

from .emulators import ApcSmartEmulator, MegatecEmulator

pytestmark = pytest.mark.skipif(
    not (
        nut_available()
        and socat_available()
        and (NUT_BIN / "nutdrv_qx").exists()
        and (NUT_BIN / "apcsmart").exists()
    ),
    reason="NUT and socat are installed by scripts/test.sh",
)

# Driver bookkeeping that only NUT has: driver.*, and device.type ("ups").
# Upsight's own marker of estimated values has no NUT counterpart.
NUT_ONLY_PREFIXES = ("driver.", "device.type")
UPSIGHT_ONLY = frozenset({"upsight.estimated"})

# NUT's nutdrv_qx prints battery.charge as a whole number ("23"); Upsight keeps
# one decimal (23.1) of the same linear estimate between 10.40 V and 13.00 V.
TOLERANCE = {"battery.charge": 0.5}

# Variables both must report for each driver; the comparison covers every shared one.
MEGATEC_SHARED = frozenset(
    {
        "ups.status",
        "input.voltage",
        "input.voltage.fault",
        "output.voltage",
        "ups.load",
        "input.frequency",
        "battery.voltage",
        "ups.temperature",
        "ups.type",
        "ups.beeper.status",
        "battery.charge",
        "battery.voltage.low",
        "battery.voltage.high",
        "input.voltage.nominal",
        "input.current.nominal",
        "battery.voltage.nominal",
        "input.frequency.nominal",
        "device.mfr",
        "device.model",
        "ups.firmware",
        "ups.delay.shutdown",
        "ups.delay.start",
    }
)
# NUT's apcsmart also publishes the legacy ups.mfr / ups.model / ups.serial
# copies of device.*; Upsight reports device.* only.
APC_SHARED = frozenset(
    {
        "ups.status",
        "battery.charge",
        "battery.runtime",
        "battery.voltage",
        "input.voltage",
        "output.voltage",
        "ups.load",
        "ups.temperature",
        "input.frequency",
        "device.mfr",
        "device.model",
        "device.serial",
        "ups.firmware",
    }
)


def differences(nut: dict[str, str], reading: Reading) -> dict[str, tuple[str, Value]]:
    """Variables both report whose values disagree: {name: (NUT's text, Upsight's value)}."""
    ours: dict[str, Value] = dict(reading.values)
    ours["ups.status"] = str(reading.status)
    out: dict[str, tuple[str, Value]] = {}
    for name in sorted(nut.keys() & ours.keys()):
        text, value = nut[name], ours[name]
        if name == "ups.status":
            same = Status.parse(text) == reading.status
        elif is_numeric(name) and isinstance(value, float):
            same = abs(float(text) - value) <= TOLERANCE.get(name, 1e-9)
        else:
            same = text == value
        if not same:
            out[name] = (text, value)
    return out


def shared(nut: dict[str, str], reading: Reading) -> set[str]:
    return (nut.keys() & {*reading.values, "ups.status"}) - UPSIGHT_ONLY


def nut_extra(nut: dict[str, str], reading: Reading) -> set[str]:
    return {
        name
        for name in nut.keys() - reading.values.keys() - {"ups.status"}
        if not name.startswith(NUT_ONLY_PREFIXES)
    }


Emulator = MegatecEmulator | ApcSmartEmulator


class Twins:
    """Two copies of one emulated unit, one served to NUT and one to Upsight."""

    def __init__(self, stack: ExitStack, root: Path, make: Callable[[], Emulator]) -> None:
        self.servers: list[EmulatorServer] = []
        self.emulators = [make(), make()]
        for name, emulator in zip(("nut", "ups"), self.emulators, strict=True):
            pair = PtyPair(root, name).start()
            stack.callback(pair.stop)
            server = EmulatorServer(pair, emulator).start()
            stack.callback(server.stop)
            self.servers.append(server)

    @property
    def nut_port(self) -> Path:
        return self.servers[0].pair.ups

    @property
    def spec_port(self) -> Path:
        return self.servers[1].pair.ups

    def update(self, **changes: object) -> None:
        for server, emulator in zip(self.servers, self.emulators, strict=True):
            server.call(functools.partial(emulator.update, **changes))


def converge(
    nut: NutServer, read: Callable[[], Reading], timeout_s: float = 8.0
) -> tuple[dict[str, str], Reading, dict[str, tuple[str, Value]]]:
    """Read both until they agree or time runs out (NUT refreshes on its own schedule)."""
    deadline = time.monotonic() + timeout_s
    while True:
        values, reading = nut.variables(), read()
        diff = differences(values, reading)
        if (values and not diff) or time.monotonic() > deadline:
            return values, reading, diff
        time.sleep(0.25)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


STATES = [
    ("OL", {}),
    ("OB", {"mains": False}),
    ("OB LB", {"mains": False, "low_battery": True}),
]


def test_megatec_matches_nutdrv_qx(tmp_path: Path, stack: ExitStack) -> None:
    twins = Twins(stack, tmp_path / "pty", MegatecEmulator)
    # protocol=megatec skips autodetection; pollfreq=1 refreshes every value each second.
    nut = NutServer(
        tmp_path / "nut",
        name="qxups",
        driver="nutdrv_qx",
        device=twins.nut_port,
        options={"protocol": "megatec", "pollfreq": "1"},
    )
    stack.callback(nut.stop)
    nut.start()
    driver = stack.enter_context(open_device(f"megatec:{twins.spec_port}"))
    battery = {"OL": 13.6, "OB": 12.2, "OB LB": 10.9}
    for status, changes in STATES:
        twins.update(battery_v=battery[status], load_pct=15 + len(status), **changes)
        values, reading, diff = converge(nut, driver.read)
        assert diff == {}, f"{status}: NUT and Upsight disagree: {diff}"
        assert reading.status == Status.parse(status)
        assert shared(values, reading) >= MEGATEC_SHARED
        # Everything NUT reports beyond its own bookkeeping, Upsight reports too.
        assert nut_extra(values, reading) == set()


def test_apcsmart_matches_nut_apcsmart(tmp_path: Path, stack: ExitStack) -> None:
    twins = Twins(stack, tmp_path / "pty", ApcSmartEmulator)
    nut = NutServer(tmp_path / "nut", name="apcups", driver="apcsmart", device=twins.nut_port)
    stack.callback(nut.stop)
    nut.start()
    driver = stack.enter_context(open_device(f"apcsmart:{twins.spec_port}"))
    charge = {"OL": 100.0, "OB": 57.0, "OB LB": 8.0}
    for status, changes in STATES:
        twins.update(charge_pct=charge[status], runtime_min=int(charge[status] // 4), **changes)
        values, reading, diff = converge(nut, driver.read)
        assert diff == {}, f"{status}: NUT and Upsight disagree: {diff}"
        assert reading.status == Status.parse(status)
        assert shared(values, reading) >= APC_SHARED
        assert nut_extra(values, reading) == {"ups.mfr", "ups.model", "ups.serial"}
