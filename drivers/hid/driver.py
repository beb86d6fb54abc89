"""The ``hid://[VID:PID][?serial=S]`` driver: a USB HID Power Device read through its descriptor."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.errors import (
    DeviceSpecError,
    Disconnected,
    ProtocolError,
    TransportError,
    UnsupportedCommand,
    UpsError,
)
from upsight.drivers.hid.decode import ReportError, unit_base_exponent
from upsight.drivers.hid.descriptor import Field, ReportDescriptor, ReportType
from upsight.drivers.hid.mapping import Mapper, Poll, Vendor, decode_reports, readable_reports
from upsight.drivers.hid.transport import (
    HidTransport,
    Selector,
    UsbStrings,
    maker,
    open_transport,
)
from upsight.drivers.hid.usages import BATTERY_SYSTEM_PAGE
from upsight.drivers.hid.vendors import cyberpower, vendor_for
from upsight.drivers.model import Reading, UpsInfo, Value, clean_serial
from upsight.drivers.spec import DeviceSpec

log = logging.getLogger(__name__)

# NUT's pollfreq defaults (protocols.md 6.2): CyberPower controllers doze off
# when left alone, so they are walked more often.
FULL_WALK_S: Final = 30.0
FULL_WALK_CYBERPOWER_S: Final = 12.0
# How long read() listens to the interrupt pipe when nobody did since the last
# read. It stays short because status is quick-polled on every read anyway;
# the interrupt pipe's job is the time between reads (wait_for_change).
DRAIN_S: Final = 0.05
# A device that streams reports must not keep one read busy for ever.
MAX_DRAIN_REPORTS: Final = 32
# Smart-UPS 5G / SMT carry APC's own protocol on the interrupt pipe (protocols.md 6.5).
NO_INTERRUPT_PIPE: Final = frozenset({(0x051D, 0x0003), (0x051D, 0x0004)})
PARAMS: Final = frozenset({"serial", "pollonly", "interruptonly", "pollfreq", "nofix"})
_FLAGS: Final = ("pollonly", "interruptonly", "nofix")
_POLLFREQ_RANGE_S: Final = (1.0, 3600.0)
# Battery System page 0x85, usage 0x89: a USB string index naming the chemistry.
_DEVICE_CHEMISTRY: Final = (BATTERY_SYSTEM_PAGE << 16) | 0x89
# APC's product string carries firmware: "Back-UPS 500 FW: 6.5.I USB FW: c1"
# (protocols.md 6.3); the ES line writes "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2".
_FIRMWARE_IN_PRODUCT: Final = re.compile(
    r"^(?P<model>.*?)\s*\bFW\s*:\s*(?P<firmware>.*?)\s*(?:\bUSB FW\s*:\s*(?P<aux>.*?))?\s*$"
)


@dataclass(frozen=True)
class HidOptions:
    """How a device is read, from the spec's parameters.

    Attributes:
        poll: quick-poll on every read and walk all fields periodically.
        interrupts: listen to the interrupt-IN pipe.
        full_walk_s: seconds between full walks; None for the vendor's default.
        fix: apply the vendor's guarded report-descriptor repairs.
    """

    poll: bool = True
    interrupts: bool = True
    full_walk_s: float | None = None
    fix: bool = True

    @classmethod
    def from_spec(cls, spec: DeviceSpec) -> HidOptions:
        """Read the options from a ``hid://`` spec.

        Raises:
            DeviceSpecError: a parameter is unknown or has a bad value.
        """
        params = spec.params
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            allowed = ", ".join(sorted(PARAMS))
            raise DeviceSpecError(f"bad device spec {spec.text!r}: unknown {unknown} ({allowed})")
        for flag in _FLAGS:
            if params.get(flag, "0") not in ("0", "1"):
                raise DeviceSpecError(f"bad device spec {spec.text!r}: {flag} must be 0 or 1")
        pollonly, interruptonly = params.get("pollonly") == "1", params.get("interruptonly") == "1"
        if pollonly and interruptonly:
            raise DeviceSpecError(
                f"bad device spec {spec.text!r}: pollonly and interruptonly exclude each other"
            )
        full_walk_s: float | None = None
        if "pollfreq" in params:
            try:
                full_walk_s = float(params["pollfreq"])
            except ValueError:
                full_walk_s = math.nan
            low, high = _POLLFREQ_RANGE_S
            if not low <= full_walk_s <= high:
                raise DeviceSpecError(
                    f"bad device spec {spec.text!r}: pollfreq must be {low:g} to {high:g} seconds"
                )
        return cls(
            poll=not interruptonly,
            interrupts=not pollonly,
            full_walk_s=full_walk_s,
            fix=params.get("nofix") != "1",
        )


def split_product(product: str | None) -> tuple[str | None, str | None]:
    """Split a product string that embeds firmware into model and firmware.

    Args:
        product: the USB product string, e.g. ``Back-UPS 500 FW: 6.5.I USB FW: c1``.

    Returns:
        (model, firmware), e.g. ("Back-UPS 500", "6.5.I"); the firmware is None
        when the string carries none.
    """
    if not product:
        return None, None
    match = _FIRMWARE_IN_PRODUCT.match(product)
    if match is None or not match["model"]:
        return product, None
    return match["model"], match["firmware"] or None


def encode_value(field: Field, report: bytes, value: float) -> bytes:
    """Write a value in SI units into a field's bits: the inverse of ``decode``.

    Args:
        field: where the bits go and how the value is scaled.
        report: the report to modify, report-ID byte first when the field has an ID.
        value: the value in SI units (seconds, volts, a code).

    Returns:
        The report with the field's bits replaced and every other bit kept.

    Raises:
        ValueError: the value is outside the field's logical range, or the
            report is too short to hold the field.
    """
    power = field.unit_exponent - unit_base_exponent(field.unit)
    physical = value / 10.0**power if power >= 0 else value * 10.0**-power
    low, high = field.physical_minimum or 0, field.physical_maximum or 0
    span = field.logical_maximum - field.logical_minimum
    if (low == 0 and high == 0) or span == 0 or high == low:
        logical_f = physical
    else:
        logical_f = (physical - low) * span / (high - low) + field.logical_minimum
    logical = round(logical_f)
    # A delay that rounds to 0 would act at once; never turn "soon" into "now".
    if logical == 0 and value != 0:
        logical = 1 if logical_f > 0 else -1
    if not field.logical_minimum <= logical <= field.logical_maximum:
        raise ValueError(
            f"{value:g} is outside what the device accepts"
            f" (logical {field.logical_minimum}..{field.logical_maximum})"
        )
    start = 1 if field.report_id else 0
    first = start + field.bit_offset // 8
    last = start + (field.bit_offset + field.bit_size + 7) // 8
    if last > len(report):
        raise ValueError(f"report {field.report_id:#04x} is too short for the field")
    shift = field.bit_offset % 8
    mask = ((1 << field.bit_size) - 1) << shift
    window = int.from_bytes(report[first:last], "little")
    raw = (logical & ((1 << field.bit_size) - 1)) << shift
    window = (window & ~mask) | raw
    return report[:first] + window.to_bytes(last - first, "little") + report[last:]


def _writable(field: Field, value: float) -> bool:
    """True when the field can hold the value: APC's beeper control, 1..2, cannot mute (3)."""
    blank = bytes(1 + (field.bit_offset + field.bit_size + 7) // 8)
    try:
        encode_value(field, blank, value)
    except ValueError:
        return False
    return True


def _report_ids(fields: Iterable[Field]) -> frozenset[int]:
    return frozenset(f.report_id for f in fields)


def _info(strings: UsbStrings, vid: int, pid: int) -> UpsInfo:
    model, firmware = split_product(strings.product)
    return UpsInfo(
        mfr=strings.manufacturer or maker(vid, pid),
        model=model,
        serial=clean_serial(strings.serial),
        firmware=firmware,
        vid=vid,
        pid=pid,
        driver="hid",
    )


class HidDriver(Driver):
    """A USB HID Power Device: interrupt reports, a quick poll on every read, periodic full walks.

    Reads follow NUT's usbhid-ups (protocols.md 6.2): reports the device pushes
    on the interrupt pipe are applied as they come; the status booleans and
    timers (``Poll.QUICK`` rows) are read on every ``read()`` because OB and LB
    are too important to trust to interrupts; everything else is read on a
    full walk every 30 s (12 s for CyberPower) and right after a command.

    Between reads, ``wait_for_change()`` listens to the interrupt pipe so that
    a poller learns of a status change within about 100 ms instead of at its
    next interval; other values pushed meanwhile wait for the next read.

    Args:
        transport: the opened device.
        clock: time source for readings and the full-walk schedule.
        options: how to read it.
    """

    def __init__(
        self, transport: HidTransport, clock: Clock, options: HidOptions = HidOptions()
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._options = options
        vid, pid = transport.vid, transport.pid
        self._vendor: Vendor = vendor_for(vid, pid)
        raw = ReportDescriptor.from_bytes(transport.report_descriptor())
        self._descriptor = self._vendor.fixed(raw, pid) if options.fix else raw
        self._mapper = Mapper(self._descriptor, self._vendor, pid)
        self._commands = {
            name: (f, value)
            for name, (f, value) in self._mapper.commands().items()
            if _writable(f, value)
        }
        chemistry = [f for f in self._descriptor.fields if f.usage == _DEVICE_CHEMISTRY]
        self._quick_ids = _report_ids(self._mapper.fields_for(Poll.QUICK))
        self._walk_ids = self._quick_ids | _report_ids(self._mapper.fields_for(Poll.SLOW))
        static_ids = _report_ids(self._mapper.fields_for(Poll.STATIC)) | _report_ids(chemistry)
        self._interrupts = options.interrupts and (vid, pid) not in NO_INTERRUPT_PIPE
        self._full_walk_s = options.full_walk_s or (
            FULL_WALK_CYBERPOWER_S if self._vendor is cyberpower.VENDOR else FULL_WALK_S
        )
        # Latest bytes per (type read as, report ID) and what they decode to.
        self._reports: dict[tuple[ReportType, int], bytes] = {}
        self._decoded: dict[tuple[ReportType, int], dict[Field, float]] = {}
        self._kind: dict[int, ReportType] = {}
        self._unsupported: set[int] = set()
        self._answered = False
        self._listened = False
        self._pending: UpsError | None = None
        self._info = _info(transport.strings(), vid, pid)
        self._fetch(sorted(self._walk_ids | static_ids))
        if not self._reports:
            raise ProtocolError(f"{self._info.label()} answered no report of its descriptor")
        self._next_walk = clock.monotonic() + self._full_walk_s
        self._battery_type = self._chemistry(chemistry)
        self._status = self._mapper.map(self._values()).status

    def info(self) -> UpsInfo:
        return self._info

    def commands(self) -> frozenset[str]:
        return frozenset(self._commands)

    def read(self) -> Reading:
        self._raise_pending()
        if self._interrupts and not self._listened:
            self._drain(DRAIN_S)
            self._raise_pending()
        self._listened = False
        if self._options.poll:
            now = self._clock.monotonic()
            if now >= self._next_walk:
                self._next_walk = now + self._full_walk_s
                self._fetch(sorted(self._walk_ids))
            else:
                self._fetch(sorted(self._quick_ids))
        return self._reading()

    def wait_for_change(self, timeout_s: float) -> bool:
        """Listen to the interrupt pipe for up to ``timeout_s``.

        Reports that arrive are applied at once; the next ``read()`` includes them.

        Args:
            timeout_s: the longest wait; keep it short (≤ 0.1 s) so a poller stops promptly.

        Returns:
            True as soon as a report changes the status (or the device failed,
            which the next ``read()`` raises); False when the time ran out.
        """
        self._listened = True
        deadline = time.monotonic() + timeout_s
        while self._pending is None and self._interrupts:
            remaining = deadline - time.monotonic()
            data = self._read_interrupt(remaining) if remaining > 0 else None
            if data is None:
                break
            if self._take_interrupt(data) and self._status_changed():
                return True
        if self._pending is not None:
            return True
        # Nothing to listen to (pollonly, or the pipe failed): still take the time.
        time.sleep(max(deadline - time.monotonic(), 0.0))
        return False

    def run(self, name: str, value: str | None = None) -> None:
        entry = self._commands.get(name)
        if entry is None:
            raise UnsupportedCommand(f"{name} is not supported by {self._info.label()}")
        field, default = entry
        try:
            target = default if value is None else float(value)
        except ValueError:
            raise UnsupportedCommand(f"{name}: {value!r} is not a number") from None
        kind, report_id = field.report_type, field.report_id
        report = self._descriptor.report(kind, report_id)
        length = report.byte_length if report is not None else 0
        # Read the report first so the other fields in it keep their values.
        current = self._transport.get_report(kind, report_id, length)
        if current is None or len(current) < length:
            current = (bytes([report_id]) if report_id else b"").ljust(length, b"\x00")
        try:
            data = encode_value(field, current[:length], target)
        except ValueError as exc:
            raise UnsupportedCommand(f"{name}: {exc}") from None
        # Send: SET_REPORT(Feature, 0x18) 18 01 = beeper.disable on a Back-UPS ES
        if not self._transport.set_report(kind, report_id, data):
            raise UnsupportedCommand(f"{name}: {self._info.label()} refused the command")
        # As NUT does after a command: walk everything at the next read.
        self._next_walk = -math.inf

    def close(self) -> None:
        self._transport.close()

    # --- reports ------------------------------------------------------------

    def _raise_pending(self) -> None:
        error, self._pending = self._pending, None
        if error is not None:
            raise error

    def _length(self, kind: ReportType, report_id: int) -> int:
        reports = readable_reports(self._descriptor, kind, report_id)
        return reports[0].byte_length if reports else 0

    def _store(self, kind: ReportType, report_id: int, data: bytes) -> bool:
        key = (kind, report_id)
        try:
            decoded = decode_reports(self._descriptor, {key: data})
        except ReportError as exc:
            log.debug("%s: ignoring report: %s", self._info.label(), exc)
            return False
        self._reports[key] = data
        self._decoded[key] = decoded
        # Bytes that also serve the other of Input/Feature replace older bytes read as it.
        for other in readable_reports(self._descriptor, kind, report_id):
            if other.report_type is not kind:
                self._reports.pop((other.report_type, report_id), None)
                self._decoded.pop((other.report_type, report_id), None)
        return True

    def _get(self, report_id: int) -> bool:
        """GET_REPORT one ID: as Feature first (as NUT does), then as Input if it has one."""
        kinds = [self._kind.get(report_id, ReportType.FEATURE)]
        if ReportType.INPUT not in kinds and self._descriptor.report(ReportType.INPUT, report_id):
            kinds.append(ReportType.INPUT)
        for kind in kinds:
            length = self._length(kind, report_id)
            data = self._transport.get_report(kind, report_id, length) if length else None
            if data is not None and self._store(kind, report_id, data):
                self._kind[report_id] = kind
                return True
        return False

    def _fetch(self, report_ids: Iterable[int]) -> None:
        failed: list[int] = []
        answered = 0
        for report_id in report_ids:
            if report_id in self._unsupported:
                continue
            if self._get(report_id):
                answered += 1
            else:
                failed.append(report_id)
        # hidapi cannot tell a STALL from a vanished device: when nothing answers
        # any more, the device is gone rather than every report unsupported.
        if failed and not answered and self._answered:
            raise Disconnected(f"{self._info.label()} stopped answering; was it unplugged?")
        if failed:
            log.debug("%s: reports not supported: %s", self._info.label(), failed)
            self._unsupported.update(failed)
        self._answered = self._answered or bool(answered)

    def _read_interrupt(self, timeout_s: float) -> bytes | None:
        try:
            return self._transport.read_interrupt(timeout_s)
        except Disconnected as exc:
            self._pending = exc
        except TransportError as exc:
            # Control transfers may still work: carry on by polling alone.
            log.warning("%s: interrupt pipe failed, polling only: %s", self._info.label(), exc)
            self._interrupts = False
        return None

    def _take_interrupt(self, data: bytes) -> bool:
        """Apply one interrupt report; True when it changed what the device said."""
        report_id = data[0] if self._descriptor.uses_report_ids else 0
        if not readable_reports(self._descriptor, ReportType.INPUT, report_id):
            return False
        before = self._reports.get((ReportType.INPUT, report_id)) or self._reports.get(
            (ReportType.FEATURE, report_id)
        )
        return self._store(ReportType.INPUT, report_id, data) and data != before

    def _drain(self, duration_s: float) -> None:
        deadline = time.monotonic() + duration_s
        for _ in range(MAX_DRAIN_REPORTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            data = self._read_interrupt(remaining)
            if data is None:
                return
            self._take_interrupt(data)

    def _values(self) -> Mapping[Field, float]:
        values: dict[Field, float] = {}
        for decoded in self._decoded.values():
            for f, value in decoded.items():
                values.setdefault(f, value)
        return values

    def _chemistry(self, fields: list[Field]) -> str | None:
        values = self._values()
        index = next((values[f] for f in fields if f in values), None)
        if index is None or not index.is_integer() or index <= 0:
            return None
        return self._transport.string(int(index))

    def _status_changed(self) -> bool:
        # Only status wakes a poller early: measurements wait for the next read,
        # so a device that streams reports does not multiply the readings.
        return self._mapper.map(self._values()).status != self._status

    def _reading(self) -> Reading:
        mapped = self._mapper.map(self._values())
        self._status = mapped.status
        values: dict[str, Value] = dict(mapped.values)
        if self._battery_type is not None:
            values.setdefault("battery.type", self._battery_type)
        return Reading(self._clock.time(), mapped.status, values)


def selector_for(spec: DeviceSpec) -> Selector:
    """The device a ``hid://`` spec names."""
    vid = pid = None
    if spec.target:
        vid_text, _, pid_text = spec.target.partition(":")
        vid, pid = int(vid_text, 16), int(pid_text, 16)
    return Selector(vid, pid, spec.params.get("serial") or None)


def open_hid(spec: DeviceSpec, clock: Clock, *, usb_backend: object | None = None) -> HidDriver:
    """Open the USB UPS a ``hid://`` spec names.

    Spec parameters (protocols.md 6.2)::

        serial=S          the device with this USB serial number
        pollonly=1        never read the interrupt pipe
        interruptonly=1   after connecting, learn changes only from interrupt reports
        pollfreq=N        seconds between full walks (default 30, CyberPower 12)
        nofix=1           do not apply the vendor's report-descriptor repairs

    Args:
        spec: the parsed spec.
        clock: time source for readings.
        usb_backend: a pyusb backend to use instead of the system's libusb
            (tests, or a bundled libusb).

    Returns:
        The connected driver, with a first full walk done.

    Raises:
        DeviceSpecError: a spec parameter is bad.
        NotFound: no such device is connected.
        PermissionDenied: the OS refused access; the message says how to fix it.
        DriverUnavailable: the USB library this platform needs is missing.
        ProtocolError: the report descriptor is malformed or nothing answers.
    """
    options = HidOptions.from_spec(spec)
    transport = open_transport(selector_for(spec), usb_backend=usb_backend)
    try:
        return HidDriver(transport, clock, options)
    except BaseException:
        transport.close()
        raise
