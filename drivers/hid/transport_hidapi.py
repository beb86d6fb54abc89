"""hidapi transport for Windows and macOS; Linux CI runs it only against a fake ``hid`` module."""

from __future__ import annotations

import contextlib
import logging
from types import ModuleType
from typing import Any, Final

from upsight.drivers.errors import Disconnected, DriverUnavailable, NotFound, TransportError
from upsight.drivers.hid.descriptor import ReportType
from upsight.drivers.hid.transport import (
    POWER_PAGES,
    Selector,
    UsbStrings,
    UsbUps,
    is_ups,
)

log = logging.getLogger(__name__)

# The descriptor size hidapi allows (HID_API_MAX_REPORT_DESCRIPTOR_SIZE).
_MAX_DESCRIPTOR_BYTES: Final = 4096
# hidapi copies at most this many bytes of one interrupt report; UPS reports are far shorter.
_MAX_INPUT_BYTES: Final = 512
_INSTALL: Final = "install hidapi 0.14 or later (pip install hidapi)"


def _hid() -> ModuleType:
    """The hidapi module, imported on first use so the rest of Upsight never needs it."""
    try:
        import hid
    except ImportError as exc:
        raise DriverUnavailable(f"USB UPSes need hidapi on this system: {_INSTALL}") from exc
    # The unrelated ctypes package "hid" installs a module of the same name.
    if not hasattr(hid, "device"):
        raise DriverUnavailable(f"the installed 'hid' module is not hidapi's: {_INSTALL}")
    module: ModuleType = hid
    return module


def _text(value: object) -> str | None:
    text = str(value).strip(" \x00") if value is not None else ""
    return text or None


def _is_power_device(entry: dict[str, Any]) -> bool:
    vid, pid = int(entry.get("vendor_id", 0)), int(entry.get("product_id", 0))
    return int(entry.get("usage_page", 0)) in POWER_PAGES or is_ups(vid, pid)


class HidapiTransport:
    """One HID device opened through hidapi, for systems whose own HID driver owns the UPS.

    libusb cannot claim a UPS on Windows or macOS without replacing the system
    driver, so this transport asks that driver through hidapi (the ``hidapi``
    package, imported only when a device is opened). It is not exercised on
    Upsight's Linux CI beyond a fake standing in for the ``hid`` module: the
    tests check how it calls hidapi and maps its results, not that it works
    with a real Windows or macOS HID stack.

    hidapi puts the report ID in the first byte of feature reports, 0 when the
    descriptor declares none; this transport strips that 0 so reports look the
    same as over USB (protocols.md 6.1).
    """

    def __init__(self, device: Any, vid: int, pid: int, strings: UsbStrings) -> None:
        self._device = device
        self._vid = vid
        self._pid = pid
        self._strings = strings
        self._what = f"HID device {vid:04x}:{pid:04x}"
        self._closed = False

    @classmethod
    def open(cls, selector: Selector) -> HidapiTransport:
        """Open the device a selector names.

        Args:
            selector: VID, PID and serial to match; without IDs, any known UPS.

        Returns:
            The opened device.

        Raises:
            DriverUnavailable: hidapi is not installed.
            NotFound: no device matches.
            TransportError: the OS would not open it.
        """
        hid = _hid()
        entries = [
            e
            for e in hid.enumerate(selector.vid or 0, selector.pid or 0)
            if selector.matches(int(e["vendor_id"]), int(e["product_id"]))
            and (selector.serial is None or _text(e.get("serial_number")) == selector.serial)
        ]
        # A composite device lists one entry per top-level collection; prefer the UPS one.
        entries.sort(key=lambda e: int(e.get("usage_page", 0)) not in POWER_PAGES)
        if not entries:
            wanted = "a USB UPS" if selector.vid is None else str(selector)
            raise NotFound(f"no {wanted} is connected (is the USB cable plugged in?)")
        entry = entries[0]
        vid, pid = int(entry["vendor_id"]), int(entry["product_id"])
        device = hid.device()
        try:
            device.open_path(entry["path"])
        except (OSError, ValueError) as exc:
            raise TransportError(
                f"cannot open HID device {vid:04x}:{pid:04x}: {exc} (another program may be "
                "using it; on macOS, allow Upsight under Privacy & Security, Input Monitoring)"
            ) from exc
        strings = UsbStrings(
            manufacturer=_text(entry.get("manufacturer_string")),
            product=_text(entry.get("product_string")),
            serial=_text(entry.get("serial_number")),
        )
        return cls(device, vid, pid, strings)

    @property
    def vid(self) -> int:
        return self._vid

    @property
    def pid(self) -> int:
        return self._pid

    def strings(self) -> UsbStrings:
        return self._strings

    def string(self, index: int) -> str | None:
        try:
            return _text(self._device.get_indexed_string(index))
        except (OSError, ValueError, AttributeError):
            # macOS's HID manager offers no indexed strings.
            return None

    def report_descriptor(self) -> bytes:
        getter = getattr(self._device, "get_report_descriptor", None)
        if getter is None:
            raise DriverUnavailable(f"this hidapi cannot read report descriptors: {_INSTALL}")
        try:
            return bytes(getter(_MAX_DESCRIPTOR_BYTES))
        except (OSError, ValueError) as exc:
            raise Disconnected(f"{self._what}: cannot read the report descriptor: {exc}") from exc

    def get_report(self, kind: ReportType, report_id: int, length: int) -> bytes | None:
        getter = (
            self._device.get_input_report
            if kind is ReportType.INPUT
            else self._device.get_feature_report
        )
        # hidapi always returns the report ID byte, so an unnumbered report needs one more.
        extra = 1 if report_id == 0 else 0
        try:
            data = bytes(getter(report_id, length + extra))
        except (OSError, ValueError):
            # hidapi reports a STALL and a lost device alike; the driver tells them
            # apart by whether any report still answers.
            return None
        return data[extra:]

    def set_report(self, kind: ReportType, report_id: int, data: bytes) -> bool:
        payload = (b"\x00" + data) if report_id == 0 else data
        try:
            if kind is ReportType.OUTPUT:
                sent = int(self._device.write(payload))
            else:
                sent = int(self._device.send_feature_report(payload))
        except (OSError, ValueError):
            return False
        return sent >= 0

    def read_interrupt(self, timeout_s: float) -> bytes | None:
        # hidapi reads a timeout of 0 as "do not wait".
        timeout_ms = max(1, round(timeout_s * 1000))
        try:
            data = bytes(self._device.read(_MAX_INPUT_BYTES, timeout_ms))
        except (OSError, ValueError) as exc:
            raise Disconnected(f"{self._what}: reading reports failed: {exc}") from exc
        return data or None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            self._device.close()


def list_ups() -> list[UsbUps]:
    """Every HID device hidapi sees that is a known UPS or declares the Power Device page.

    Returns:
        One entry per device (composite devices list several collections).

    Raises:
        DriverUnavailable: hidapi is not installed.
    """
    found: dict[tuple[int, int, str | None], UsbUps] = {}
    for entry in _hid().enumerate(0, 0):
        if not _is_power_device(entry):
            continue
        vid, pid = int(entry["vendor_id"]), int(entry["product_id"])
        serial = _text(entry.get("serial_number"))
        strings = UsbStrings(
            _text(entry.get("manufacturer_string")), _text(entry.get("product_string")), serial
        )
        found.setdefault((vid, pid, serial), UsbUps(vid, pid, strings, accessible=True))
    return list(found.values())
