"""The hid:// driver over pyusb's real code, fed by a fake backend serving recorded captures."""

from __future__ import annotations

import errno
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import usb.backend.libusb0
import usb.backend.libusb1
import usb.backend.openusb

from tests.collector import Collector
from tests.fakes import FakeClock
from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceMonitor, Link, MonitorSettings
from upsight.agent.poller import Poller
from upsight.drivers import open_device
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    DriverUnavailable,
    NotFound,
    PermissionDenied,
    UnsupportedCommand,
)
from upsight.drivers.hid.decode import decode
from upsight.drivers.hid.descriptor import Field, ReportDescriptor, ReportType
from upsight.drivers.hid.driver import HidDriver, encode_value, open_hid, split_product
from upsight.drivers.hid.mapping import Mapped, map_reports
from upsight.drivers.hid.transport import UsbStrings, is_ups
from upsight.drivers.hid.transport_hidapi import HidapiTransport
from upsight.drivers.hid.transport_usb import udev_rule_path
from upsight.drivers.hid.vendors import vendor_for
from upsight.drivers.model import UpsFlag, Value
from upsight.drivers.spec import parse_spec

from .captures import CAPTURES, Capture, by_name
from .fake_backend import FakeBackend, FakeUps
from .fake_hidapi import FakeHidModule

APC = by_name("apc-back-ups-es-850g2")
CYBERPOWER = by_name("cyberpower-cp1500pfclcd")
EATON = by_name("eaton-5sc-750")
APC_STRINGS = {
    1: "American Power Conversion",
    2: "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2",
    3: "4B2113P12345  ",
    4: "PbAc",
}
STRINGS = {
    APC.name: APC_STRINGS,
    CYBERPOWER.name: {1: "CPS", 2: "CP1500PFCLCD", 3: "CXXKV2000123"},
    EATON.name: {1: "EATON", 2: "5SC", 3: "000000000"},
}
# Where each capture keeps its mains flag and discharge flag as Input fields.
AC_PRESENT = {
    APC.name: (
        "UPS.PowerSummary.PresentStatus.ACPresent",
        "UPS.PowerSummary.PresentStatus.Discharging",
    ),
    CYBERPOWER.name: (
        "UPS.PowerSummary.PresentStatus.ACPresent",
        "UPS.PowerSummary.PresentStatus.Discharging",
    ),
    EATON.name: (
        "UPS.PowerSummary.PresentStatus.ACPresent",
        "UPS.PowerSummary.PresentStatus.Discharging",
    ),
}


def fake(capture: Capture, pid: int | None = None) -> FakeUps:
    ups = FakeUps.from_capture(capture, STRINGS.get(capture.name, {}))
    if pid is not None:
        ups.pid = pid
    return ups


def spec_of(ups: FakeUps, query: str = "") -> str:
    return f"hid://{ups.vid:04x}:{ups.pid:04x}" + (f"?{query}" if query else "")


def open_fake(ups: FakeUps, query: str = "", clock: Clock = SYSTEM_CLOCK) -> HidDriver:
    return open_hid(parse_spec(spec_of(ups, query)), clock, usb_backend=FakeBackend(ups))


def expected(capture: Capture) -> Mapped:
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    return map_reports(
        descriptor, capture.feature_reports(), vendor_for(capture.vid, capture.pid), capture.pid
    )


def input_field(capture: Capture, path: str) -> Field:
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    return next(
        f for f in descriptor.find(path, capture.names) if f.report_type is ReportType.INPUT
    )


def with_bits(report: bytes, field: Field, raw: int) -> bytes:
    """The report with the field's bits set to ``raw``, bit by bit (report ID byte first)."""
    data = bytearray(report)
    for i in range(field.bit_size):
        byte, bit = divmod(8 + field.bit_offset + i, 8)
        if raw >> i & 1:
            data[byte] |= 1 << bit
        else:
            data[byte] &= ~(1 << bit) & 0xFF
    return bytes(data)


def on_battery_report(capture: Capture, ups: FakeUps) -> bytes:
    """The capture's status report as the device would push it when mains fails."""
    ac_path, discharging_path = AC_PRESENT[capture.name]
    ac, discharging = input_field(capture, ac_path), input_field(capture, discharging_path)
    assert ac.report_id == discharging.report_id
    report = with_bits(ups.reports[ac.report_id], ac, 0)
    return with_bits(report, discharging, 1)


def without(values: Mapping[str, Value], *names: str) -> dict[str, Value]:
    return {k: v for k, v in values.items() if k not in names}


# --- opening and reading ---------------------------------------------------------


@pytest.mark.parametrize("capture", [APC, CYBERPOWER, EATON], ids=lambda c: c.name)
def test_a_full_reading_equals_the_mapped_capture(capture: Capture) -> None:
    ups = fake(capture)
    with open_fake(ups) as driver:
        reading = driver.read()
        want = expected(capture)
        assert without(reading.values, "battery.type") == want.values
        assert reading.status == want.status
        assert UpsFlag.OL in reading.status
        info = driver.info()
        assert (info.vid, info.pid, info.driver) == (capture.vid, capture.pid, "hid")
        # The kernel's driver was moved aside for the session...
        assert ups.detached == 1
        assert ups.claimed
    # ...and handed back afterwards, so desktop tools see the UPS again.
    assert ups.reattached == 1
    assert not ups.claimed


def test_info_comes_from_usb_strings_with_apc_firmware_split_off() -> None:
    with open_fake(fake(APC)) as driver:
        info = driver.info()
        assert info.mfr == "American Power Conversion"
        assert info.model == "Back-UPS ES 850G2"
        assert info.firmware == "938.a2 .I"
        assert info.serial == "4B2113P12345"
        assert driver.read().values["battery.type"] == "PbAc"


def test_placeholder_serials_are_dropped() -> None:
    with open_fake(fake(EATON)) as driver:
        assert driver.info().serial is None
        assert driver.info().model == "5SC"


@pytest.mark.parametrize(
    ("product", "model", "firmware"),
    [
        ("Back-UPS 500 FW: 6.5.I USB FW: c1", "Back-UPS 500", "6.5.I"),
        ("Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2", "Back-UPS ES 850G2", "938.a2 .I"),
        ("Smart-UPS 1500 RM FW:667.6.D", "Smart-UPS 1500 RM", "667.6.D"),
        ("CP1500PFCLCD", "CP1500PFCLCD", None),
        (None, None, None),
    ],
)
def test_split_product(product: str | None, model: str | None, firmware: str | None) -> None:
    assert split_product(product) == (model, firmware)


def test_hid_without_ids_finds_the_one_known_ups() -> None:
    keyboard = FakeUps(0x046D, 0xC31C, b"\x05\x01\x09\x06\xa1\x01\xc0", interface_subclass=1)
    ups = fake(CYBERPOWER)
    driver = open_hid(parse_spec("hid://"), SYSTEM_CLOCK, usb_backend=FakeBackend(keyboard, ups))
    with driver:
        assert (driver.info().vid, driver.info().pid) == (0x0764, 0x0501)
    assert keyboard.detached == 0


def test_serial_selects_among_identical_models() -> None:
    first, second = fake(APC), fake(APC)
    second.strings[3] = "SECOND"
    backend = FakeBackend(first, second)
    with open_hid(parse_spec("hid://051d:0002?serial=SECOND"), SYSTEM_CLOCK, usb_backend=backend):
        assert second.claimed
        assert not first.claimed
    with pytest.raises(NotFound, match="serial=THIRD"):
        open_hid(parse_spec("hid://051d:0002?serial=THIRD"), SYSTEM_CLOCK, usb_backend=backend)


def test_no_such_device_is_not_found() -> None:
    with pytest.raises(NotFound, match="hid://0463:ffff"):
        open_hid(parse_spec("hid://0463:ffff"), SYSTEM_CLOCK, usb_backend=FakeBackend(fake(APC)))


def test_permission_denied_says_to_install_the_udev_rule() -> None:
    ups = fake(APC)
    ups.deny_access = True
    with pytest.raises(PermissionDenied) as info:
        open_fake(ups)
    message = str(info.value)
    assert "99-upsight-hid.rules" in message
    assert "/etc/udev/rules.d/" in message
    assert "run Upsight as root" in message
    assert Path(udev_rule_path()).is_file(), "the rule the message names is shipped"


def test_permission_denied_is_not_mistaken_for_a_missing_serial() -> None:
    ups = fake(APC)
    ups.deny_access = True
    with pytest.raises(PermissionDenied, match="udev"):
        open_fake(ups, "serial=4B2113P12345")


def test_the_udev_rule_covers_every_known_ups() -> None:
    rules = Path(udev_rule_path()).read_text(encoding="utf-8")
    matched: list[tuple[str, str | None]] = []
    for line in rules.splitlines():
        vendor = re.search(r'ATTR\{idVendor\}=="([0-9a-f]{4})"', line)
        if vendor and "MODE=" in line:
            product = re.search(r'ATTR\{idProduct\}=="([0-9a-f|]+)"', line)
            matched.append((vendor.group(1), product.group(1) if product else None))

    def covered(vid: int, pid: int) -> bool:
        return any(
            v == f"{vid:04x}" and (p is None or f"{pid:04x}" in p.split("|")) for v, p in matched
        )

    for capture in CAPTURES:
        assert is_ups(capture.vid, capture.pid), capture.name
        assert covered(capture.vid, capture.pid), capture.name
    for vid, pid in [(0x0483, 0xA430), (0x03F0, 0x1F06), (0x06DA, 0xFFFF), (0x2E66, 0x0101)]:
        assert is_ups(vid, pid)
        assert covered(vid, pid)
    assert not covered(0x0483, 0x5740), "ST's other products stay untouched"


def test_without_libusb_the_driver_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    for backend in (usb.backend.libusb1, usb.backend.openusb, usb.backend.libusb0):
        monkeypatch.setattr(backend, "get_backend", lambda *args, **kwargs: None)
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    with pytest.raises(DriverUnavailable, match="libusb"):
        open_device("hid://051d:0002")


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("pollonly=2", "pollonly must be 0 or 1"),
        ("pollonly=1&interruptonly=1", "exclude each other"),
        ("pollfreq=0", "pollfreq must be"),
        ("pollfreq=soon", "pollfreq must be"),
    ],
)
def test_bad_options_are_spec_errors(query: str, fragment: str) -> None:
    with pytest.raises(DeviceSpecError, match=fragment):
        open_fake(fake(APC), query)


# --- interrupts, polling and the full walk -----------------------------------------


@pytest.mark.parametrize("capture", [APC, CYBERPOWER, EATON], ids=lambda c: c.name)
def test_an_interrupt_report_changes_the_status_at_the_next_read(capture: Capture) -> None:
    ups = fake(capture)
    # interruptonly: GET_REPORT still says "on line", so only the interrupt can tell.
    with open_fake(ups, "interruptonly=1") as driver:
        assert UpsFlag.OL in driver.read().status
        ups.push(on_battery_report(capture, ups), update=False)
        status = driver.read().status
        assert UpsFlag.OB in status
        assert UpsFlag.OL not in status


def test_wait_for_change_wakes_on_a_status_change_only() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        driver.read()
        started = time.monotonic()
        assert driver.wait_for_change(0.05) is False
        assert time.monotonic() - started >= 0.04, "waits the full time when nothing comes"
        field = input_field(APC, "UPS.PowerSummary.PresentStatus.ACPresent")
        ups.push(ups.reports[field.report_id])  # the same bytes again: no news
        assert driver.wait_for_change(0.05) is False
        report = on_battery_report(APC, ups)
        threading.Timer(0.02, ups.push, (report,)).start()
        started = time.monotonic()
        assert driver.wait_for_change(1.0) is True
        assert time.monotonic() - started < 0.5
        assert UpsFlag.OB in driver.read().status


def test_pollonly_never_reads_the_interrupt_pipe() -> None:
    ups = fake(APC)
    with open_fake(ups, "pollonly=1") as driver:
        ups.push(on_battery_report(APC, ups), update=False)
        assert driver.wait_for_change(0.02) is False
        assert UpsFlag.OL in driver.read().status


def test_smart_ups_smt_interrupt_pipe_is_left_alone() -> None:
    # 051d:0003 speaks APC's own protocol on its interrupt pipe (protocols.md 6.5).
    ups = fake(APC, pid=0x0003)
    with open_fake(ups) as driver:
        ups.push(on_battery_report(APC, ups), update=False)
        assert driver.wait_for_change(0.02) is False
        assert UpsFlag.OL in driver.read().status


def test_status_is_quick_polled_on_every_read() -> None:
    ups = fake(APC)
    with open_fake(ups, "pollonly=1") as driver:
        driver.read()
        # The device changes state without telling anyone; the next read still sees it.
        ups.reports[0x16] = on_battery_report(APC, ups)
        assert UpsFlag.OB in driver.read().status


@pytest.mark.parametrize(("capture", "walk_s"), [(APC, 30.0), (CYBERPOWER, 12.0)])
def test_the_full_walk_runs_every_30_s_or_12_s_for_cyberpower(
    capture: Capture, walk_s: float
) -> None:
    clock = FakeClock()
    ups = fake(capture)
    with open_fake(ups, "pollonly=1", clock) as driver:
        ups.get_reports.clear()
        driver.read()
        quick = {rid for _, rid in ups.get_reports}
        clock.advance(walk_s - 1)
        ups.get_reports.clear()
        driver.read()
        assert {rid for _, rid in ups.get_reports} == quick
        clock.advance(1)
        ups.get_reports.clear()
        driver.read()
        walked = {rid for _, rid in ups.get_reports}
        assert walked > quick, "the full walk reads the measurements too"


def test_pollfreq_sets_the_full_walk_interval() -> None:
    clock = FakeClock()
    ups = fake(APC)
    with open_fake(ups, "pollonly=1&pollfreq=5", clock) as driver:
        driver.read()
        ups.get_reports.clear()
        driver.read()
        quick = len(ups.get_reports)
        clock.advance(5)
        ups.get_reports.clear()
        driver.read()
        assert len(ups.get_reports) > quick


def test_a_stalled_report_is_skipped_and_not_asked_again() -> None:
    ups = fake(CYBERPOWER)
    beeper = 0x0C  # UPS.PowerSummary.AudibleAlarmControl
    ups.stalled.add(beeper)
    with open_fake(ups) as driver:
        reading = driver.read()
        want = expected(CYBERPOWER).values
        assert "ups.beeper.status" not in reading.values
        assert dict(reading.values) == without(want, "ups.beeper.status")
        asked = ups.requests_for(beeper)
        assert asked == 2, "tried as Feature, then as Input"
        driver.read()
        assert ups.requests_for(beeper) == asked


# --- commands -----------------------------------------------------------------------


def test_a_command_sends_set_report_with_the_right_bytes() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        assert {"beeper.disable", "beeper.enable", "load.off.delay"} <= driver.commands()
        assert driver.read().values["ups.beeper.status"] == "enabled"
        driver.run("beeper.disable")
        sent = ups.set_reports[-1]
        # SET_REPORT: class request to the interface, Feature report 0x18.
        assert (sent.request_type, sent.w_value, sent.w_index) == (0x21, 0x0318, 0)
        assert sent.data == bytes([0x18, 0x01])
        assert driver.read().values["ups.beeper.status"] == "disabled"


def test_a_command_value_is_scaled_into_the_field() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        driver.run("load.off.delay", "120")
        sent = ups.set_reports[-1]
        descriptor = ReportDescriptor.from_bytes(APC.descriptor)
        field = next(
            f
            for f in descriptor.fields
            if f.report_type is ReportType.FEATURE and f.report_id == sent.report_id
        )
        assert decode(field, sent.data) == 120
        assert driver.read().values["ups.timer.shutdown"] == 120


def test_encoding_keeps_the_other_bits() -> None:
    field = input_field(APC, "UPS.PowerSummary.PresentStatus.ACPresent")
    report = bytes([0x16, 0xFF, 0xFF, 0xFF, 0xFF])
    assert encode_value(field, report, 0) == with_bits(report, field, 0)
    with pytest.raises(ValueError, match="outside"):
        encode_value(field, report, 2)


def test_unsupported_commands_raise() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        with pytest.raises(UnsupportedCommand, match=r"outlet\.1\.load\.off"):
            driver.run("outlet.1.load.off")
        with pytest.raises(UnsupportedCommand, match="not a number"):
            driver.run("load.off.delay", "soon")
        # AudibleAlarmControl is 1..2 here: the device has no "muted" state to write.
        assert "beeper.mute" not in driver.commands()
        with pytest.raises(UnsupportedCommand, match="not supported"):
            driver.run("beeper.mute")
        ups.stalled.add(0x18)
        with pytest.raises(UnsupportedCommand, match="refused"):
            driver.run("beeper.disable")
        assert ups.reports[0x18] == bytes([0x18, 0x02]), "the beeper setting is unchanged"


# --- the device going away ------------------------------------------------------------


def test_an_unplugged_device_is_disconnected() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        driver.read()
        ups.unplug()
        with pytest.raises(Disconnected, match="went away"):
            driver.read()


def test_a_broken_interrupt_pipe_surfaces_at_the_next_read() -> None:
    ups = fake(APC)
    with open_fake(ups) as driver:
        driver.read()
        ups.interrupt_error = errno.EPIPE
        assert driver.wait_for_change(1.0) is True, "a failure is news: read now"
        with pytest.raises(Disconnected):
            driver.read()


def start(ups: FakeUps, interval_s: float, collector: Collector) -> Poller:
    backend = FakeBackend(ups)
    spec = spec_of(ups)

    def opener(text: str, clock: Clock) -> HidDriver:
        return open_hid(parse_spec(text), clock, usb_backend=backend)

    monitor = DeviceMonitor("ups", spec, MonitorSettings(interval_s=interval_s), SYSTEM_CLOCK)
    poller = Poller(monitor, spec, collector, SYSTEM_CLOCK, opener)
    poller.start()
    return poller


def test_a_poller_sees_commbad_then_commok_when_the_device_comes_back() -> None:
    ups = fake(CYBERPOWER)
    collector = Collector()
    poller = start(ups, 0.2, collector)
    try:
        assert collector.wait(lambda: poller.monitor.state.link is Link.OK, 5)
        ups.unplug()
        assert collector.wait(lambda: EventKind.COMMBAD in collector.kinds(), 5)
        # First the read failed, then reconnecting found nothing on the bus.
        assert "no hid://0764:0501 is connected" in (poller.state().error or "")
        ups.replug()
        assert collector.wait(lambda: EventKind.COMMOK in collector.kinds(), 10)
        assert collector.kinds() == [EventKind.COMMBAD, EventKind.COMMOK]
        assert ups.claimed, "reconnected and claimed again"
    finally:
        poller.stop()


def test_a_poller_acts_on_an_interrupt_long_before_its_next_poll() -> None:
    ups = fake(APC)
    collector = Collector()
    poller = start(ups, 10.0, collector)
    try:
        assert collector.wait(lambda: poller.monitor.state.link is Link.OK, 5)
        time.sleep(0.2)
        pushed = time.time()
        ups.push(on_battery_report(APC, ups))
        assert collector.wait(lambda: EventKind.ONBATT in collector.kinds(), 2)
        assert collector.at_of(EventKind.ONBATT) - pushed < 1.0
    finally:
        started = time.monotonic()
        poller.stop()
        assert time.monotonic() - started < 1.0, "stop is prompt while listening"


# --- hidapi (Windows and macOS), through a fake hid module -------------------------------


@pytest.fixture
def hidapi(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeHidModule]:
    def install(*devices: FakeUps) -> FakeHidModule:
        module = FakeHidModule(*devices)
        monkeypatch.setitem(sys.modules, "hid", module)
        monkeypatch.setattr(platform, "system", lambda: "Windows")
        return module

    return install


def test_hidapi_reads_the_same_as_pyusb(hidapi: Callable[..., FakeHidModule]) -> None:
    ups = fake(APC)
    module = hidapi(ups)
    with open_device(spec_of(ups)) as driver:
        reading = driver.read()
        assert without(reading.values, "battery.type") == expected(APC).values
        assert reading.values["battery.type"] == "PbAc"
        assert driver.info().model == "Back-UPS ES 850G2"
        driver.run("beeper.disable")
        assert module.opened[0].sent[-1] == bytes([0x18, 0x01])
        ups.push(on_battery_report(APC, ups))
        assert UpsFlag.OB in driver.read().status
        ups.unplug()
        with pytest.raises(Disconnected):
            driver.read()


def test_hidapi_missing_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hid", None)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    with pytest.raises(DriverUnavailable, match="pip install hidapi"):
        open_device("hid://051d:0002")


def test_hidapi_strips_the_zero_report_id_of_unnumbered_reports() -> None:
    class Device:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def get_feature_report(self, report_id: int, length: int) -> list[int]:
            assert (report_id, length) == (0, 4)
            return [0, 1, 2, 3]

        def send_feature_report(self, data: bytes) -> int:
            self.sent.append(bytes(data))
            return len(data)

    device = Device()
    transport = HidapiTransport(device, 0x051D, 0x0002, UsbStrings())
    assert transport.get_report(ReportType.FEATURE, 0, 3) == bytes([1, 2, 3])
    assert transport.set_report(ReportType.FEATURE, 0, bytes([7, 8])) is True
    assert device.sent == [bytes([0, 7, 8])]
