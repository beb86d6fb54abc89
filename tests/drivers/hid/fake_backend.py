"""A pyusb backend serving recorded UPS captures: tests run pyusb's real code without hardware."""

from __future__ import annotations

import array
import collections
import errno
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

from .captures import Capture

# libusb 1.0 error codes, as pyusb's libusb1 backend puts them in backend_error_code.
_LIBUSB_CODES = {
    errno.EIO: -1,
    errno.EACCES: -3,
    errno.ENODEV: -4,
    errno.EBUSY: -6,
    errno.ETIMEDOUT: -7,
    errno.EPIPE: -9,
}
_STRINGS = {errno.EACCES: "Access denied (insufficient permissions)", errno.EPIPE: "Pipe error"}
INTERRUPT_ENDPOINT = 0x81


def usb_error(code: int) -> usb.core.USBError:
    """The USBError libusb 1.0 raises for an errno."""
    text = _STRINGS.get(code, errno.errorcode.get(code, "error"))
    if code == errno.ETIMEDOUT:
        return usb.core.USBTimeoutError("Operation timed out", -7, code)
    return usb.core.USBError(text, _LIBUSB_CODES.get(code, -99), code)


@dataclass(frozen=True)
class SetReport:
    """One SET_REPORT the device received."""

    request_type: int
    w_value: int
    w_index: int
    data: bytes

    @property
    def report_id(self) -> int:
        return self.w_value & 0xFF

    @property
    def report_type(self) -> int:
        return self.w_value >> 8


class FakeUps:
    """One USB device: its descriptors, its reports and the faults a test injects.

    Args:
        vid: USB vendor ID.
        pid: USB product ID.
        descriptor: the HID report descriptor.
        reports: report ID → bytes (report ID first when used), served by GET_REPORT.
        strings: USB string index → text; 1 manufacturer, 2 product, 3 serial.
        interface_class: bInterfaceClass (3 for HID).
        interface_subclass: bInterfaceSubClass (1 for boot keyboards and mice).
        packet_size: wMaxPacketSize of the interrupt-IN endpoint.
    """

    def __init__(
        self,
        vid: int,
        pid: int,
        descriptor: bytes,
        reports: Mapping[int, bytes] | None = None,
        strings: Mapping[int, str] | None = None,
        *,
        interface_class: int = 3,
        interface_subclass: int = 0,
        packet_size: int = 8,
    ) -> None:
        self.vid = vid
        self.pid = pid
        self.descriptor = descriptor
        self.reports: dict[int, bytes] = dict(reports or {})
        self.strings: dict[int, str] = dict(strings or {})
        self.interface_class = interface_class
        self.interface_subclass = interface_subclass
        self.packet_size = packet_size
        self.stalled: set[int] = set()
        self.unplugged = False
        self.deny_access = False
        self.interrupt_error: int | None = None
        self.kernel_driver_active = True
        self.detached = 0
        self.reattached = 0
        self.claimed = False
        self.get_reports: list[tuple[int, int]] = []
        self.set_reports: list[SetReport] = []
        self._interrupts: collections.deque[bytes] = collections.deque()
        self._changed = threading.Condition()
        self.address = 0

    @classmethod
    def from_capture(cls, capture: Capture, strings: Mapping[int, str] | None = None) -> FakeUps:
        """A device serving a fixture: its descriptor and the reports NUT read from it."""
        return cls(capture.vid, capture.pid, capture.descriptor, capture.reports, strings)

    def push(self, report: bytes, *, update: bool = True) -> None:
        """Send an interrupt-IN report; with ``update`` GET_REPORT answers it from now on too."""
        with self._changed:
            if update:
                self.reports[report[0]] = report
            self._interrupts.append(report)
            self._changed.notify_all()

    def unplug(self) -> None:
        """The device goes away: every transfer fails with ENODEV and enumeration misses it."""
        with self._changed:
            self.unplugged = True
            self._changed.notify_all()

    def replug(self) -> None:
        """The device comes back, its kernel driver bound again."""
        with self._changed:
            self.unplugged = False
            self.kernel_driver_active = True
            self.claimed = False
            self._interrupts.clear()

    def requests_for(self, report_id: int) -> int:
        """How many GET_REPORTs asked for ``report_id``."""
        return sum(1 for _, rid in self.get_reports if rid == report_id)

    def check(self) -> None:
        if self.unplugged:
            raise usb_error(errno.ENODEV)

    def hid_descriptor(self) -> list[int]:
        size = len(self.descriptor)
        # HID 1.11 §6.2.1: bcdHID 1.11, one class descriptor: the report descriptor.
        return [9, 0x21, 0x11, 0x01, 0, 1, 0x22, size & 0xFF, size >> 8]

    def string_descriptor(self, index: int) -> bytes:
        if index == 0:
            return bytes([4, 3, 0x09, 0x04])  # LANGID en-US
        text = self.strings.get(index)
        if text is None:
            raise usb_error(errno.EPIPE)
        body = text.encode("utf-16-le")
        return bytes([2 + len(body), 3]) + body

    def read_interrupt(self, size: int, timeout_ms: int) -> bytes:
        with self._changed:
            self._changed.wait_for(
                lambda: self.unplugged or self.interrupt_error is not None or self._interrupts,
                timeout_ms / 1000,
            )
            self.check()
            if self.interrupt_error is not None:
                raise usb_error(self.interrupt_error)
            if not self._interrupts:
                raise usb_error(errno.ETIMEDOUT)
            return self._interrupts.popleft()[:size]


class _Handle:
    def __init__(self, device: FakeUps) -> None:
        self.device = device


def _fill(buffer: Any, data: bytes) -> int:
    count = min(len(buffer), len(data))
    for i in range(count):
        buffer[i] = data[i]
    return count


class FakeBackend(usb.backend.IBackend):  # type: ignore[misc]  # pyusb ships no types
    """A pyusb backend whose bus holds the given devices.

    ``usb.core.find(backend=FakeBackend(...))`` enumerates them and every
    transfer pyusb makes lands here: descriptors, string descriptors, the report
    descriptor, GET_REPORT answered from the device's reports, SET_REPORT
    recorded, interrupt-IN reads served from a queue the test fills. Faults are
    raised as libusb 1.0 raises them through pyusb (``USBError`` with errno).
    """

    def __init__(self, *devices: FakeUps) -> None:
        self.devices = list(devices)
        for number, device in enumerate(self.devices, start=1):
            device.address = number

    def enumerate_devices(self) -> list[FakeUps]:
        return [d for d in self.devices if not d.unplugged]

    def get_device_descriptor(self, dev: FakeUps) -> SimpleNamespace:
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=1,
            bcdUSB=0x0110,
            bDeviceClass=0,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=8,
            idVendor=dev.vid,
            idProduct=dev.pid,
            bcdDevice=0x0100,
            iManufacturer=1 if 1 in dev.strings else 0,
            iProduct=2 if 2 in dev.strings else 0,
            iSerialNumber=3 if 3 in dev.strings else 0,
            bNumConfigurations=1,
            address=dev.address,
            bus=1,
            port_number=dev.address,
            port_numbers=(dev.address,),
            speed=2,
        )

    def get_configuration_descriptor(self, dev: FakeUps, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError("one configuration")
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=2,
            wTotalLength=34,
            bNumInterfaces=1,
            bConfigurationValue=1,
            iConfiguration=0,
            bmAttributes=0xA0,
            bMaxPower=50,
            extra_descriptors=[],
        )

    def get_interface_descriptor(
        self, dev: FakeUps, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError("one interface")
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=4,
            bInterfaceNumber=0,
            bAlternateSetting=0,
            bNumEndpoints=1,
            bInterfaceClass=dev.interface_class,
            bInterfaceSubClass=dev.interface_subclass,
            bInterfaceProtocol=dev.interface_subclass,
            iInterface=0,
            extra_descriptors=dev.hid_descriptor(),
        )

    def get_endpoint_descriptor(
        self, dev: FakeUps, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        if (ep, intf, alt, config) != (0, 0, 0, 0):
            raise IndexError("one endpoint")
        return SimpleNamespace(
            bLength=7,
            bDescriptorType=5,
            bEndpointAddress=INTERRUPT_ENDPOINT,
            bmAttributes=0x03,
            wMaxPacketSize=dev.packet_size,
            bInterval=10,
            bRefresh=0,
            bSynchAddress=0,
            extra_descriptors=[],
        )

    def open_device(self, dev: FakeUps) -> _Handle:
        dev.check()
        if dev.deny_access:
            raise usb_error(errno.EACCES)
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        return None

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        dev_handle.device.check()

    def get_configuration(self, dev_handle: _Handle) -> int:
        dev_handle.device.check()
        return 1

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        dev_handle.device.check()

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev = dev_handle.device
        dev.check()
        if dev.kernel_driver_active:
            raise usb_error(errno.EBUSY)
        dev.claimed = True

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device.check()
        dev_handle.device.claimed = False

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        dev_handle.device.check()
        return dev_handle.device.kernel_driver_active

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev = dev_handle.device
        dev.check()
        dev.kernel_driver_active = False
        dev.detached += 1

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev = dev_handle.device
        dev.check()
        dev.kernel_driver_active = True
        dev.reattached += 1

    def intr_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        report = dev_handle.device.read_interrupt(len(buff), timeout)
        return _fill(buff, report)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        dev_handle.device.check()

    def reset_device(self, dev_handle: _Handle) -> None:
        dev_handle.device.check()

    def ctrl_transfer(  # noqa: PLR0917  # pyusb passes all seven positionally
        self,
        dev_handle: _Handle,
        request_type: int,
        request: int,
        w_value: int,
        w_index: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        dev = dev_handle.device
        dev.check()
        kind = (request_type, request)
        if kind == (0x80, 0x06) and w_value >> 8 == 0x03:
            return _fill(data, dev.string_descriptor(w_value & 0xFF))
        if kind == (0x81, 0x06) and w_value == 0x2200:
            return _fill(data, dev.descriptor)
        if kind == (0xA1, 0x01):
            report_id = w_value & 0xFF
            dev.get_reports.append((w_value >> 8, report_id))
            if report_id in dev.stalled or report_id not in dev.reports:
                raise usb_error(errno.EPIPE)
            return _fill(data, dev.reports[report_id])
        if kind == (0x21, 0x09):
            sent = SetReport(request_type, w_value, w_index, bytes(data))
            dev.set_reports.append(sent)
            if sent.report_id in dev.stalled:
                raise usb_error(errno.EPIPE)
            if sent.report_type == 3:
                dev.reports[sent.report_id] = sent.data
            return len(data)
        raise usb_error(errno.EPIPE)
