"""Tests of the dummy:PATH driver replaying .dev / .seq files."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from upsight.drivers import open_device
from upsight.drivers.dummy import MAX_FILE_BYTES, DummyDriver, open_dummy
from upsight.drivers.errors import (
    Disconnected,
    NotFound,
    PermissionDenied,
    ProtocolError,
    UnsupportedCommand,
)
from upsight.drivers.model import Reading, Status, UpsFlag
from upsight.drivers.spec import parse_spec
from upsight.drivers.variables import is_numeric

DDL = Path(__file__).parent.parent / "fixtures" / "ddl"
APC = DDL / "APC__Back-UPS_CS_650__usbhid-ups__2.7.2__01.dev"
CYBERPOWER = DDL / "Cyber_Power_Systems__CP850PFCLCD__usbhid-ups__2.7.2__02.dev"
EATON = DDL / "Eaton__Ellipse_PRO_650__usbhid-ups__2.7.2__01.dev"
IPPON = DDL / "Ippon__Back_Basic_850_Euro__blazer_usb__2.7.4__01.dev"

POWER_CUT = """\
ups.status: OL
battery.charge: 100
ups.alarm:
TIMER 60
ups.status: OB DISCHRG
battery.charge: 60
TIMER 30
ups.status: OB DISCHRG LB
battery.charge: 15
ups.alarm: Replace battery
TIMER 10
"""


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay must compute its position from the clock, never wait."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Writer:
    """Writes a dump file giving every version a strictly later mtime (test-peers.md §1)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = 1_600_000_000

    def write(self, text: str) -> Path:
        self.path.write_text(text, encoding="utf-8")
        self._mtime += 1
        os.utime(self.path, (self._mtime, self._mtime))
        return self.path


def open_path(path: Path, clock: FakeClock) -> DummyDriver:
    return open_dummy(parse_spec(f"dummy:{path}"), clock)


def expected_variables(path: Path) -> dict[str, str]:
    """What upsc would show for a single-step dump, worked out independently of the parser."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        var, value = line.split(": ", 1)
        out[var] = value.split("\t#")[0].strip()
    return out


def looks_like_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def at(driver: DummyDriver, clock: FakeClock, start: float, offset_s: float) -> Reading:
    """Read with the clock ``offset_s`` seconds after ``start`` (monotonic).

    Offsets are binary fractions (.5, .25) so the clock lands exactly on them.
    """
    clock.advance(start + offset_s - clock.monotonic())
    return driver.read()


def state(reading: Reading) -> tuple[Status, float | None]:
    return reading.status, reading.number("battery.charge")


OL = Status.of(UpsFlag.OL)
OB = Status.of(UpsFlag.OB, UpsFlag.DISCHRG)
OB_LB = Status.of(UpsFlag.OB, UpsFlag.DISCHRG, UpsFlag.LB)


# --- real dumps -----------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DDL.glob("*.dev")), ids=lambda p: p.name)
def test_real_dump_replays_the_values_of_the_file(path: Path, clock: FakeClock) -> None:
    expected = expected_variables(path)
    with open_path(path, clock) as driver:
        reading = driver.read()

    assert reading.at == clock.time()
    assert set(reading.status.tokens()) == set(expected.pop("ups.status").split())
    assert reading.status.unknown == ()
    for var, text in expected.items():
        if is_numeric(var):
            assert looks_like_number(text), var
            assert reading.number(var) == float(text), var
        else:
            assert reading.values[var] == text, var
    assert set(reading.values) == set(expected)


def test_real_dump_values_survive_later_reads(clock: FakeClock) -> None:
    with open_path(EATON, clock) as driver:
        first = driver.read()
        clock.advance(3600)
        later = driver.read()
    assert later.values == first.values
    assert later.status == Status.of(UpsFlag.OL, UpsFlag.CHRG)
    assert later.at == first.at + 3600


def test_info_of_the_apc_dump_keeps_its_serial(clock: FakeClock) -> None:
    info = open_path(APC, clock).info()
    assert info.mfr == "American Power Conversion"
    assert info.model == "Back-UPS CS 650"
    assert info.serial == "QB0540131574"
    assert info.firmware == "817.v2.I"
    assert (info.vid, info.pid) == (0x051D, 0x0002)
    assert info.driver == "dummy"
    assert info.label() == "American Power Conversion Back-UPS CS 650"


def test_info_of_the_cyberpower_dump_drops_the_all_zero_serial(clock: FakeClock) -> None:
    info = open_path(CYBERPOWER, clock).info()
    assert info.serial is None
    assert (info.mfr, info.model) == ("CPS", "CP850PFCLCD")
    assert info.firmware is None
    assert (info.vid, info.pid) == (0x0764, 0x0501)


def test_info_of_the_eaton_dump_drops_the_masked_serial(clock: FakeClock) -> None:
    info = open_path(EATON, clock).info()
    assert info.serial is None
    assert (info.mfr, info.model) == ("EATON", "Ellipse PRO 650")
    assert info.firmware == "01.10.0017"
    assert (info.vid, info.pid) == (0x0463, 0xFFFF)


def test_info_of_the_ippon_dump_has_ids_but_no_names(clock: FakeClock) -> None:
    info = open_path(IPPON, clock).info()
    assert (info.mfr, info.model, info.serial) == (None, None, None)
    assert (info.vid, info.pid) == (0x0665, 0x5161)
    assert info.label() == "UPS"


@pytest.mark.parametrize(
    ("vendorid", "expected"), [("051D", 0x051D), ("0x0463", 0x0463), ("zz", None), ("12345", None)]
)
def test_usb_ids_are_parsed_leniently(
    tmp_path: Path, clock: FakeClock, vendorid: str, expected: int | None
) -> None:
    path = Writer(tmp_path / "ids.dev").write(f"ups.vendorid: {vendorid}\nups.status: OL\n")
    assert open_path(path, clock).info().vid == expected


def test_device_names_win_over_ups_names_and_serials_fall_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = Writer(tmp_path / "names.dev").write(
        "device.mfr: Maker\nups.mfr: Other\nups.model: Box 1\n"
        "ups.serial: 0000\ndevice.serial: REAL42\n"
    )
    info = open_path(path, clock).info()
    assert (info.mfr, info.model, info.serial) == ("Maker", "Box 1", "REAL42")


# --- commands -------------------------------------------------------------


def test_commands_come_from_cmd_lines(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    driver = open_path(EATON, clock)
    assert len(driver.commands()) == 12
    assert {"beeper.mute", "load.off.delay", "shutdown.return"} <= driver.commands()

    with caplog.at_level(logging.INFO, logger="upsight.drivers.dummy"):
        driver.run("beeper.mute")
    assert any("beeper.mute" in r.getMessage() for r in caplog.records)

    with pytest.raises(UnsupportedCommand, match=r"test\.battery\.start"):
        driver.run("test.battery.start")
    assert driver.read().status == Status.of(UpsFlag.OL, UpsFlag.CHRG)


def test_dump_without_cmd_lines_supports_no_command(clock: FakeClock) -> None:
    driver = open_path(APC, clock)
    assert driver.commands() == frozenset()
    with pytest.raises(UnsupportedCommand):
        driver.run("load.off")


# --- timelines ------------------------------------------------------------


def test_seq_file_plays_a_power_cut_and_loops(tmp_path: Path, clock: FakeClock) -> None:
    driver = open_path(Writer(tmp_path / "cut.seq").write(POWER_CUT), clock)
    start = clock.monotonic()
    assert driver.looping

    assert state(at(driver, clock, start, 0)) == (OL, 100.0)
    assert state(at(driver, clock, start, 59.5)) == (OL, 100.0)
    assert state(at(driver, clock, start, 60)) == (OB, 60.0)
    assert state(at(driver, clock, start, 89.5)) == (OB, 60.0)
    low = at(driver, clock, start, 90)
    assert state(low) == (OB_LB, 15.0)
    assert low.status.critical
    assert low.text("ups.alarm") == "Replace battery"
    # The final TIMER 10, then dummy-loop's 1 s pause, before the top again.
    assert state(at(driver, clock, start, 100.75)) == (OB_LB, 15.0)
    again = at(driver, clock, start, 101)
    assert state(again) == (OL, 100.0)
    # The file's first step clears ups.alarm; without that line it would stay.
    assert "ups.alarm" not in again.values
    assert state(at(driver, clock, start, 101 + 60)) == (OB, 60.0)
    assert state(at(driver, clock, start, 5 * 101 + 95)) == (OB_LB, 15.0)


def test_seq_loop_keeps_variables_the_top_of_the_file_does_not_reset(
    tmp_path: Path, clock: FakeClock
) -> None:
    text = POWER_CUT.replace("ups.alarm:\n", "")
    driver = open_path(Writer(tmp_path / "cut.seq").write(text), clock)
    start = clock.monotonic()
    assert "ups.alarm" not in at(driver, clock, start, 0).values
    assert at(driver, clock, start, 101).text("ups.alarm") == "Replace battery"


def test_seq_without_final_timer_restarts_after_one_second(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = Writer(tmp_path / "short.seq").write("ups.status: OL\nTIMER 5\nups.status: OB\n")
    driver = open_path(path, clock)
    start = clock.monotonic()
    assert at(driver, clock, start, 5).status == Status.of(UpsFlag.OB)
    assert at(driver, clock, start, 5.75).status == Status.of(UpsFlag.OB)
    assert at(driver, clock, start, 6).status == OL


def test_dev_file_plays_once_and_holds_the_last_step(tmp_path: Path, clock: FakeClock) -> None:
    driver = open_path(Writer(tmp_path / "cut.dev").write(POWER_CUT), clock)
    start = clock.monotonic()
    assert not driver.looping
    assert state(at(driver, clock, start, 0)) == (OL, 100.0)
    assert state(at(driver, clock, start, 60)) == (OB, 60.0)
    assert state(at(driver, clock, start, 90)) == (OB_LB, 15.0)
    assert state(at(driver, clock, start, 101)) == (OB_LB, 15.0)
    assert state(at(driver, clock, start, 86_400)) == (OB_LB, 15.0)


def test_wall_clock_jumps_do_not_move_the_replay(tmp_path: Path, clock: FakeClock) -> None:
    driver = open_path(Writer(tmp_path / "cut.seq").write(POWER_CUT), clock)
    clock.jump_wall(3600)
    reading = driver.read()
    assert reading.status == OL
    assert reading.at == clock.time()


def test_empty_file_reads_as_no_status_and_no_values(tmp_path: Path, clock: FakeClock) -> None:
    reading = open_path(Writer(tmp_path / "empty.seq").write(""), clock).read()
    assert reading.status == Status()
    assert dict(reading.values) == {}


def test_status_stays_out_of_values_and_placeholders_are_dropped(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = Writer(tmp_path / "odd.dev").write(
        "ups.status: OL BOGUS\nbattery.runtime: ---\nbattery.charge: 048\nups.type: online\n"
    )
    reading = open_path(path, clock).read()
    assert reading.status == Status(UpsFlag.OL, ("BOGUS",))
    assert dict(reading.values) == {"battery.charge": 48.0, "ups.type": "online"}


# --- file changes ---------------------------------------------------------


def test_changed_file_is_replayed_from_the_top_with_a_fresh_state(
    tmp_path: Path, clock: FakeClock
) -> None:
    writer = Writer(tmp_path / "ups.dev")
    driver = open_path(
        writer.write("ups.status: OL\nbattery.charge: 100\ninput.voltage: 230\n"), clock
    )
    assert driver.read().number("input.voltage") == 230.0

    writer.write("ups.status: OB DISCHRG\nbattery.charge: 80\nups.model: New 2\n")
    clock.advance(1)
    reading = driver.read()
    assert reading.status == OB
    assert reading.number("battery.charge") == 80.0
    assert "input.voltage" not in reading.values
    assert driver.info().model == "New 2"


def test_change_of_the_same_size_is_seen_through_the_mtime(
    tmp_path: Path, clock: FakeClock
) -> None:
    writer = Writer(tmp_path / "ups.dev")
    driver = open_path(writer.write("battery.charge: 100\n"), clock)
    assert driver.read().number("battery.charge") == 100.0
    writer.write("battery.charge: 099\n")
    assert driver.read().number("battery.charge") == 99.0


def test_changed_seq_restarts_its_timeline(tmp_path: Path, clock: FakeClock) -> None:
    writer = Writer(tmp_path / "cut.seq")
    driver = open_path(writer.write(POWER_CUT), clock)
    start = clock.monotonic()
    assert state(at(driver, clock, start, 70)) == (OB, 60.0)

    writer.write(POWER_CUT.replace("battery.charge: 100", "battery.charge: 90"))
    restart = clock.monotonic()
    assert state(driver.read()) == (OL, 90.0)
    assert state(at(driver, clock, restart, 60)) == (OB, 60.0)


def test_unchanged_file_is_not_parsed_again(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = open_path(Writer(tmp_path / "ups.dev").write("ups.status: OL\n"), clock)

    def forbidden(text: str) -> None:
        raise AssertionError(f"parsed again: {text!r}")

    monkeypatch.setattr("upsight.drivers.dummy.parse_dump", forbidden)
    for _ in range(3):
        clock.advance(2)
        assert driver.read().status == OL


def test_deleted_file_disconnects_and_a_recreated_one_opens(
    tmp_path: Path, clock: FakeClock
) -> None:
    writer = Writer(tmp_path / "ups.dev")
    driver = open_path(writer.write("ups.status: OL\n"), clock)
    writer.path.unlink()

    with pytest.raises(Disconnected, match=r"ups\.dev") as caught:
        driver.read()
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    driver.close()

    writer.write("ups.status: OB\n")
    with open_path(writer.path, clock) as reopened:
        assert reopened.read().status == Status.of(UpsFlag.OB)


# --- opening and closing --------------------------------------------------


def test_missing_file_is_not_found(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "absent.dev"
    with pytest.raises(NotFound, match=r"absent\.dev") as caught:
        open_path(path, clock)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_directory_is_not_found(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(NotFound, match="not a regular file"):
        open_path(tmp_path, clock)


def test_unreadable_file_is_permission_denied(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Writer(tmp_path / "locked.dev").write("ups.status: OL\n")

    # Tests may run as root, which chmod cannot lock out, so the OS refusal is faked.
    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(PermissionDenied, match=r"locked\.dev") as caught:
        open_path(path, clock)
    assert isinstance(caught.value.__cause__, PermissionError)


def test_huge_file_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "big.dev"
    path.write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ProtocolError, match=r"big\.dev"):
        open_path(path, clock)


def test_registry_opens_dummy_specs(clock: FakeClock) -> None:
    with open_device(f"dummy:{APC}", clock) as driver:
        assert isinstance(driver, DummyDriver)
        assert driver.path == APC
        assert driver.read().status == OL


def test_closed_driver_refuses_reads_and_closes_twice(clock: FakeClock) -> None:
    driver = open_path(APC, clock)
    driver.close()
    driver.close()
    with pytest.raises(Disconnected, match="closed"):
        driver.read()


# --- logging of problems --------------------------------------------------


def test_problems_are_logged_once_per_file_version(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="upsight.drivers.dummy")
    writer = Writer(tmp_path / "bad.dev")
    driver = open_path(writer.write("ups.status: OL\n# fine\nthis is not a variable\n"), clock)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "bad.dev line 3" in warnings[0]
    assert "this is not a variable" in warnings[0]

    caplog.clear()
    driver.read()
    clock.advance(5)
    driver.read()
    assert caplog.records == []

    writer.write("ups.status: OL\nTIMER soon\n")
    assert driver.read().status == OL
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "bad.dev line 2" in warnings[0]


def test_a_flood_of_problems_is_summarised(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="upsight.drivers.dummy")
    path = Writer(tmp_path / "notes.dev").write("not a dump line\n" * 100)
    open_path(path, clock)
    assert len(caplog.records) == 21
    assert "80 more lines skipped" in caplog.records[-1].getMessage()
