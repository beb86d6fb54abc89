"""Fuzz targets: each feeds bytes to real parsers and loaders and lets only their own errors out.

Every target takes one ``bytes`` value, so Hypothesis tests and the coverage-guided
long run (``benchmarks/fuzz_long.py``) share them. Any exception a target lets out,
and any broken promise it asserts, is a finding.
"""

from __future__ import annotations

import json
import math
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Final

from tests.agent.nut_server.fake_backend import USERS, sample_backend
from tests.fakes import FakeClock
from upsight.agent import config, settings_policy
from upsight.agent.nut_server import commands, wire
from upsight.agent.nut_server.backend import NutServerError
from upsight.agent.nut_server.logins import Logins
from upsight.agent.nut_server.session import Session
from upsight.agent.nut_server.users import Users
from upsight.agent.privacy import admin_policy
from upsight.drivers.errors import DeviceSpecError, ProtocolError, UnsupportedCommand, UpsError
from upsight.drivers.hid.descriptor import ReportDescriptor, ReportType
from upsight.drivers.hid.mapping import Mapper, decode_reports
from upsight.drivers.hid.vendors import vendor_for
from upsight.drivers.model import Status, UpsFlag
from upsight.drivers.nut.driver import NutDriver
from upsight.drivers.nut.protocol import error_for, split_words
from upsight.drivers.serial import apcsmart, megatec
from upsight.drivers.spec import parse_spec

Target = Callable[[bytes], None]


class Hang(Exception):
    """A target ran past its watchdog: an endless loop or a pathological slowdown."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise ``Hang`` in the main thread if the block runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        # Re-arm an outer timer (pytest-timeout's) with what is left of it.
        if outer > 0:
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


@cache
def _scratch() -> Path:
    # One directory per process: the loaders read files, and a fresh one per input is slow.
    return Path(tempfile.mkdtemp(prefix="upsight-fuzz-"))


# --- HID ---------------------------------------------------------------------------

_HID_HEADER: Final = struct.Struct("<HHH")
_KINDS: Final = (ReportType.INPUT, ReportType.FEATURE)


def hid_input(
    vid: int, pid: int, descriptor: bytes, reports: Mapping[tuple[ReportType, int], bytes]
) -> bytes:
    """Encode a device for ``hid``: VID, PID, descriptor length, descriptor, then reports."""
    out = bytearray(_HID_HEADER.pack(vid, pid, len(descriptor)) + descriptor)
    for (kind, report_id), data in reports.items():
        out += bytes([_KINDS.index(kind), report_id, len(data)]) + data[:255]
    return bytes(out)


def _hid_reports(data: bytes) -> dict[tuple[ReportType, int], bytes]:
    reports: dict[tuple[ReportType, int], bytes] = {}
    while len(data) >= 3:
        kind, report_id, size = data[0], data[1], data[2]
        reports[(_KINDS[kind & 1], report_id)] = data[3 : 3 + size]
        data = data[3 + size :]
    return reports


def hid(data: bytes) -> None:
    """Parse a descriptor, repair it as the vendor does, decode reports and map them."""
    if len(data) < _HID_HEADER.size:
        return
    vid, pid, size = _HID_HEADER.unpack_from(data)
    body = data[_HID_HEADER.size :]
    try:
        descriptor = ReportDescriptor.from_bytes(body[:size])
    except ProtocolError:
        return
    vendor = vendor_for(vid, pid)
    fixed = vendor.fixed(descriptor, pid)
    mapper = Mapper(fixed, vendor, pid)
    mapper.commands()
    try:
        values = decode_reports(fixed, _hid_reports(body[size:]))
    except ProtocolError:
        return
    assert not any(math.isnan(v) for v in values.values()), "a field decoded to NaN"
    mapped = mapper.map(values)
    mapper.unmapped(values)
    for name, value in mapped.values.items():
        assert not (isinstance(value, float) and math.isnan(value)), f"{name} is NaN"


# --- Serial: Megatec Q1 and APC Smart ---------------------------------------------------


def _megatec_status(reply: bytes) -> megatec.StatusReply | None:
    try:
        return megatec.parse_q1(reply)
    except megatec.ReplyError:
        return None


def megatec_q1(data: bytes) -> None:
    """Parse a Megatec reply every way the driver may; with a Q1 and an F, estimate the charge."""
    status = _megatec_status(data)
    for parse in (megatec.parse_qs, megatec.parse_info):
        with suppress(megatec.ReplyError):
            parse(data)
    for dialect in megatec.Dialect:
        with suppress(megatec.ReplyError):
            megatec.parse_rating(data, dialect=dialect)
    with suppress(UnsupportedCommand):
        megatec.command_result(b"T\r", data)
    first, cr, rest = data.partition(megatec.CR)
    status = _megatec_status(first + cr) or status
    if status is None:
        return
    try:
        rating = megatec.parse_rating(rest)
    except megatec.ReplyError:
        rating = {"battery.voltage.nominal": 12.0}
    reported = status.values.get("battery.voltage")
    nominal = rating.get("battery.voltage.nominal")
    if isinstance(reported, float) and nominal is not None:
        battery = megatec.Battery.detect(reported, nominal)
        if battery is not None:
            charge = battery.apply(status).values.get("battery.charge")
            assert charge is None or (isinstance(charge, float) and 0 <= charge <= 100)


def apc_smart(data: bytes) -> None:
    """Split a smart-mode byte stream into lines and alerts, then read each line every way."""
    splitter = apcsmart.ReplySplitter()
    chunk = 1 + (data[0] % 16) if data else 1
    items: list[apcsmart.Item] = []
    for start in range(0, len(data), chunk):
        items += splitter.feed(data[start : start + chunk])
    items += apcsmart.ReplySplitter().feed(data, verbatim=True)
    status = Status(UpsFlag.OL)
    for item in items:
        if isinstance(item, apcsmart.Alert):
            status = apcsmart.apply_alert(status, item)
            continue
        assert len(item) <= apcsmart.MAX_LINE
        _apc_line(item)


def _apc_line(line: str) -> None:
    allowed = (apcsmart.ReplyError, UnsupportedCommand)
    for char in apcsmart.QUERIES:
        with suppress(UnsupportedCommand):
            value = apcsmart.decode(char, line)
            assert not (isinstance(value, float) and not math.isfinite(value)), (char, value)
    for check in (apcsmart.parse_status, apcsmart.parse_capabilities, apcsmart.check_handshake):
        with suppress(*allowed):
            check(line)
    with suppress(UnsupportedCommand):
        apcsmart.command_result(b"K", line)


# --- NUT: the server's request parser and the client's reply parser --------------------


def nut_server(data: bytes) -> None:
    """Send each line of ``data`` to a NUT server session; every line must get an answer."""
    users = Users(users=USERS.users, anonymous_read=True)
    session = Session(sample_backend(), users, Logins(), "192.0.2.9", server_version="Upsight fuzz")
    for raw in data.split(b"\n"):
        line = wire.decode_line(raw)
        with suppress(NutServerError):
            commands.parse(line)
        reply = session.handle(line)
        assert reply.lines, line
        for reply_line in reply.lines:
            assert reply_line.isprintable(), reply_line
    session.close()


class _Upsd:
    """A loopback peer that answers every connection with one scripted byte stream."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.script = b""
        threading.Thread(target=self._serve, name="fuzz-upsd", daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self._listener.accept()
            with conn, suppress(OSError):
                conn.sendall(self.script)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(4096):
                    pass


@cache
def _upsd() -> _Upsd:
    return _Upsd()


def nut_client(data: bytes) -> None:
    """Open the ``nut://`` driver against a peer that sends ``data``; read and run a command."""
    for line in data.decode("utf-8", "replace").splitlines():
        with suppress(ProtocolError):
            split_words(line)
        assert isinstance(error_for(line, "fuzz"), UpsError)
    upsd = _upsd()
    upsd.script = data
    try:
        driver = NutDriver(parse_spec(f"nut://127.0.0.1:{upsd.port}/ups"), FakeClock())
    except UpsError:
        return
    with driver:
        with suppress(UpsError):
            driver.read()
        for name in sorted(driver.commands())[:1]:
            with suppress(UpsError):
                driver.run(name)


# --- Config, device specs and admin policy ----------------------------------------------


def config_toml(data: bytes) -> None:
    """Load a config file; whatever loads must save and load back unchanged and clean."""
    path = _scratch() / "upsight.toml"
    path.write_bytes(data)
    loaded = config.load(path).config
    again = _scratch() / "saved.toml"
    again.unlink(missing_ok=True)
    config.save(again, loaded)
    result = config.load(again)
    assert result.problems == (), result.problems
    assert result.config == loaded


def device_spec(data: bytes) -> None:
    """Parse a device spec string, as the config and the command line do."""
    with suppress(DeviceSpecError):
        parse_spec(data.decode("utf-8", "replace"))


def _policy(locations: list[admin_policy.PolicyLocation], registry: object = None) -> None:
    def read_registry(scope: admin_policy.Scope) -> Mapping[str, object] | None:
        return registry if isinstance(registry, dict) else None

    policy = admin_policy.resolve(admin_policy.read_documents(locations, read_registry))
    policy.decision("diagnostics")
    settings_policy.setting_problems(policy)
    settings_policy.apply_policy(config.Config(), policy)


def _location(carrier: admin_policy.Carrier, where: Path) -> admin_policy.PolicyLocation:
    return admin_policy.PolicyLocation(
        carrier, str(where), admin_policy.Scope.MACHINE, admin_policy.Level.MANDATORY
    )


def policy_json(data: bytes) -> None:
    """Validate and apply a JSON policy file, as ``upsight policy check`` and the agent do."""
    directory = _scratch() / "policies"
    directory.mkdir(exist_ok=True)
    path = directory / "policy.json"
    path.write_bytes(data)
    admin_policy.validate_file(path)
    _policy([_location(admin_policy.Carrier.JSON_DIR, directory)])


def policy_plist(data: bytes) -> None:
    """Read and apply a macOS managed-preferences plist."""
    path = _scratch() / "com.upsight.upsight.plist"
    path.write_bytes(data)
    _policy([_location(admin_policy.Carrier.PLIST, path)])


def policy_registry(data: bytes) -> None:
    """Apply a Windows registry tree, given as JSON (subkeys are objects, values scalars)."""
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError):
        return
    _policy([_location(admin_policy.Carrier.REGISTRY, Path("HKLM"))], tree)


TARGETS: Final[Mapping[str, Target]] = {
    "hid": hid,
    "megatec": megatec_q1,
    "apcsmart": apc_smart,
    "nut-server": nut_server,
    "nut-client": nut_client,
    "config": config_toml,
    "device-spec": device_spec,
    "policy-json": policy_json,
    "policy-plist": policy_plist,
    "policy-registry": policy_registry,
}
