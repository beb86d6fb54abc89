"""The HidTransport protocol both USB transports implement, and the one place that picks one."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Final, Protocol

from upsight.drivers.hid.descriptor import ReportType
from upsight.drivers.hid.mapping import GENERIC
from upsight.drivers.hid.usages import BATTERY_SYSTEM_PAGE, POWER_DEVICE_PAGE
from upsight.drivers.hid.vendors import vendor_for

# USB makers of HID Power Devices that no vendor module claims, so that the
# generic table serves them (protocols.md 6.5 and the fixtures' README).
GENERIC_UPS_VENDORS: Final[dict[int, str]] = {
    0x050D: "Belkin",
    0x05DD: "Delta",
    0x075D: "iDowell",
    0x1CB0: "Legrand",
    0x2E66: "Salicru",
}

# HID 1.11 §7.2.1: the wValue high byte of GET_REPORT / SET_REPORT.
REPORT_TYPE_CODES: Final[dict[ReportType, int]] = {
    ReportType.INPUT: 1,
    ReportType.OUTPUT: 2,
    ReportType.FEATURE: 3,
}
POWER_PAGES: Final = frozenset({POWER_DEVICE_PAGE, BATTERY_SYSTEM_PAGE})
"""Usage pages whose presence marks a HID device as a power device."""


def is_ups(vid: int, pid: int) -> bool:
    """True for USB IDs Upsight knows as HID UPSes.

    Args:
        vid: the USB vendor ID.
        pid: the USB product ID.

    Returns:
        True when a vendor module claims the pair, or the vendor is a known UPS
        maker served by the generic table.
    """
    return vendor_for(vid, pid) is not GENERIC or vid in GENERIC_UPS_VENDORS


def maker(vid: int, pid: int) -> str | None:
    """The UPS maker's name for a USB ID pair, or None when unknown."""
    vendor = vendor_for(vid, pid)
    return vendor.name if vendor is not GENERIC else GENERIC_UPS_VENDORS.get(vid)


@dataclass(frozen=True)
class Selector:
    """Which device to open: ``hid://[VID:PID][?serial=S]``.

    Attributes:
        vid: the USB vendor ID, or None for any known UPS.
        pid: the USB product ID, or None for any known UPS.
        serial: the USB serial number string, or None for the first match.
    """

    vid: int | None = None
    pid: int | None = None
    serial: str | None = None

    def matches(self, vid: int, pid: int) -> bool:
        """True when a device with these IDs is a candidate (its serial still to check)."""
        if self.vid is None or self.pid is None:
            return is_ups(vid, pid)
        return (vid, pid) == (self.vid, self.pid)

    def __str__(self) -> str:
        ids = (
            f"{self.vid:04x}:{self.pid:04x}"
            if self.vid is not None and self.pid is not None
            else ""
        )
        return f"hid://{ids}" + (f"?serial={self.serial}" if self.serial else "")


@dataclass(frozen=True)
class UsbStrings:
    """The device's USB string descriptors; None where absent or unreadable."""

    manufacturer: str | None = None
    product: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class UsbUps:
    """A USB device that looks like a UPS, as enumeration sees it.

    Attributes:
        vid: the USB vendor ID.
        pid: the USB product ID.
        strings: its USB strings; empty when they could not be read.
        accessible: False when the OS refused to open it (no udev rule yet).
    """

    vid: int
    pid: int
    strings: UsbStrings
    accessible: bool


class HidTransport(Protocol):
    """Raw access to one HID interface of one opened device.

    Reports are bytes with the report-ID byte first when the descriptor uses
    report IDs, exactly as ``decode`` takes them. Every failure is raised as a
    ``TransportError`` subclass; no backend exception leaves a transport.
    """

    @property
    def vid(self) -> int:
        """The USB vendor ID."""
        ...

    @property
    def pid(self) -> int:
        """The USB product ID."""
        ...

    def strings(self) -> UsbStrings:
        """Manufacturer, product and serial strings."""
        ...

    def string(self, index: int) -> str | None:
        """A USB string descriptor by index (the value of an ``i...`` usage), or None."""
        ...

    def report_descriptor(self) -> bytes:
        """The HID report descriptor (class descriptor 0x22)."""
        ...

    def get_report(self, kind: ReportType, report_id: int, length: int) -> bytes | None:
        """GET_REPORT; None when the device refuses the report (STALL): it is unsupported."""
        ...

    def set_report(self, kind: ReportType, report_id: int, data: bytes) -> bool:
        """SET_REPORT with ``data`` (report ID first when used); False when refused."""
        ...

    def read_interrupt(self, timeout_s: float) -> bytes | None:
        """One report from the interrupt-IN pipe, or None when none came within ``timeout_s``."""
        ...

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...


def open_transport(selector: Selector, *, usb_backend: object | None = None) -> HidTransport:
    """Open the device a selector names with this platform's transport.

    Linux uses pyusb (libusb), which detaches the kernel's usbhid driver. On
    Windows and macOS the operating system's HID driver owns UPSes and libusb
    cannot claim them, so hidapi talks to that driver instead.

    Args:
        selector: the device to open.
        usb_backend: a pyusb backend to use instead of the system's libusb
            (tests, or a bundled libusb); forces pyusb on any platform.

    Returns:
        The opened transport.

    Raises:
        NotFound: no matching device.
        PermissionDenied: the OS refused access; the message says what to do.
        DriverUnavailable: the USB library this platform needs is missing.
        TransportError: any other failure to open.
    """
    if usb_backend is not None or platform.system() == "Linux":
        from upsight.drivers.hid.transport_usb import UsbTransport

        return UsbTransport.open(selector, backend=usb_backend)
    from upsight.drivers.hid.transport_hidapi import HidapiTransport

    return HidapiTransport.open(selector)
