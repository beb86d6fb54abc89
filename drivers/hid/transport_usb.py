"""pyusb transport for HID UPSes on Linux: GET/SET_REPORT control transfers, interrupt-IN reads."""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any, Final

import usb.core
import usb.util

from upsight.drivers.errors import (
    Disconnected,
    DriverUnavailable,
    NotFound,
    PermissionDenied,
    TransportError,
    TransportTimeout,
    UpsError,
)
from upsight.drivers.hid.descriptor import ReportType
from upsight.drivers.hid.transport import (
    POWER_PAGES,
    REPORT_TYPE_CODES,
    Selector,
    UsbStrings,
    UsbUps,
    is_ups,
)

log = logging.getLogger(__name__)

# USB 2.0 §9.3 and HID 1.11 §7.1-7.2: bmRequestType, bRequest and descriptor types.
_CLASS_INTERFACE_IN: Final = 0xA1
_CLASS_INTERFACE_OUT: Final = 0x21
_STANDARD_INTERFACE_IN: Final = 0x81
_GET_REPORT: Final = 0x01
_SET_REPORT: Final = 0x09
_GET_DESCRIPTOR: Final = 0x06
_HID_DESCRIPTOR: Final = 0x21
_REPORT_DESCRIPTOR: Final = 0x22
_HID_CLASS: Final = 0x03
# Linux's HID_MAX_DESCRIPTOR_SIZE: asked for when the HID descriptor gives no length.
_MAX_DESCRIPTOR_BYTES: Final = 4096
# One control transfer may take this long; a poll makes a handful of them, and
# the driver contract wants reads to return within about a second.
CONTROL_TIMEOUT_MS: Final = 500

# libusb 1.0 error codes (libusb.h), for backends that set no errno.
_LIBUSB_ERRNO: Final[dict[int, int]] = {
    -1: errno.EIO,
    -3: errno.EACCES,
    -4: errno.ENODEV,
    -5: errno.ENOENT,
    -6: errno.EBUSY,
    -7: errno.ETIMEDOUT,
    -9: errno.EPIPE,
}
# How each failure reads to the agent: a vanished device reconnects, a refusal
# needs the user. EPIPE outside GET/SET_REPORT is a halted pipe: the device is
# unusable until replugged or re-enumerated, so it counts as gone.
_BY_ERRNO: Final[dict[int, type[TransportError]]] = {
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.ENODEV: Disconnected,
    errno.ENOENT: Disconnected,
    errno.EIO: Disconnected,
    errno.EPIPE: Disconnected,
    errno.ESHUTDOWN: Disconnected,
    errno.ETIMEDOUT: TransportTimeout,
}

UDEV_RULE: Final = "99-upsight-hid.rules"


def udev_rule_path() -> str:
    """Where the installed package keeps its udev rule for USB UPSes."""
    return str(resources.files("upsight.resources") / "udev" / UDEV_RULE)


def permission_advice() -> str:
    """What to do about "permission denied" on a USB UPS, as one sentence."""
    return (
        f"install the udev rule shipped with Upsight (sudo cp {udev_rule_path()} "
        f"/etc/udev/rules.d/{UDEV_RULE} && sudo udevadm control --reload-rules && "
        "sudo udevadm trigger, then replug the UPS), or run Upsight as root"
    )


def _errno_of(exc: usb.core.USBError) -> int | None:
    code = exc.errno if isinstance(exc.errno, int) else None
    if code is None:
        code = _LIBUSB_ERRNO.get(getattr(exc, "backend_error_code", None) or 0)
    return code


def _is_stall(exc: usb.core.USBError) -> bool:
    return _errno_of(exc) == errno.EPIPE


def _translate(exc: usb.core.USBError, what: str) -> UpsError:
    code = _errno_of(exc)
    if code == errno.EBUSY:
        return TransportError(
            f"{what}: the device is busy; another program (such as NUT's usbhid-ups) uses it"
        )
    kind = _BY_ERRNO.get(code or 0, TransportError)
    if kind is PermissionDenied:
        return PermissionDenied(f"{what}: permission denied; {permission_advice()}")
    if kind is Disconnected:
        return Disconnected(f"{what}: the device went away ({exc.strerror or exc})")
    return kind(f"{what}: {exc.strerror or exc}")


@contextmanager
def usb_errors(what: str) -> Iterator[None]:
    """Map pyusb's errors onto the UpsError tree, naming ``what`` was being done.

    Raises:
        DriverUnavailable: no libusb backend is installed.
        TransportTimeout: the device did not answer in time.
        PermissionDenied: the OS refused access; the message names the udev rule.
        Disconnected: the device went away.
        TransportError: any other USB failure.
    """
    try:
        yield
    except usb.core.USBTimeoutError as exc:
        raise TransportTimeout(f"{what}: no answer in time") from exc
    except usb.core.USBError as exc:
        raise _translate(exc, what) from exc
    except usb.core.NoBackendError as exc:
        raise DriverUnavailable(
            f"{what}: libusb 1.0 is not installed (Debian/Ubuntu: apt install libusb-1.0-0)"
        ) from exc


def _label(dev: Any) -> str:
    return f"USB device {int(dev.idVendor):04x}:{int(dev.idProduct):04x}"


def _hid_interface(dev: Any) -> Any | None:
    """The first HID-class interface of the active (or first) configuration."""
    try:
        config = dev.get_active_configuration()
    except usb.core.USBError:
        # Unconfigured: look in the first configuration; open() sets it.
        config = dev[0]
    for intf in config:
        if int(intf.bInterfaceClass) == _HID_CLASS:
            return intf
    return None


def _interrupt_in(intf: Any) -> tuple[int, int] | None:
    for ep in intf:
        address, attributes = int(ep.bEndpointAddress), int(ep.bmAttributes)
        is_in = usb.util.endpoint_direction(address) == usb.util.ENDPOINT_IN
        if is_in and usb.util.endpoint_type(attributes) == usb.util.ENDPOINT_TYPE_INTR:
            return address, int(ep.wMaxPacketSize)
    return None


def _descriptor_length(intf: Any) -> int:
    """wDescriptorLength of the report descriptor, from the HID descriptor (HID 1.11 §6.2.1)."""
    extra = bytes(intf.extra_descriptors or b"")
    while len(extra) >= 2 and extra[0] >= 2:
        length, kind = extra[0], extra[1]
        body = extra[:length]
        if kind == _HID_DESCRIPTOR and len(body) >= 9:
            # bNumDescriptors entries of (bDescriptorType, wDescriptorLength) from byte 6.
            for offset in range(6, len(body) - 2, 3):
                if body[offset] == _REPORT_DESCRIPTOR:
                    return int.from_bytes(body[offset + 1 : offset + 3], "little")
        extra = extra[length:]
    return _MAX_DESCRIPTOR_BYTES


def _read_string(dev: Any, index: int, what: str) -> str | None:
    if index == 0:
        return None
    with usb_errors(what):
        try:
            # Asked directly: pyusb's Device.langids would hide "permission denied".
            langids = usb.util.get_langids(dev)
            if not langids:
                return None
            text = usb.util.get_string(dev, index, langids[0])
        except usb.core.USBError as exc:
            # Strings are optional: only a refused or vanished device is worth failing for.
            if _errno_of(exc) in (errno.ENODEV, errno.EACCES, errno.EPERM):
                raise
            return None
    cleaned = str(text).strip(" \x00") if text is not None else ""
    return cleaned or None


class UsbTransport:
    """One HID interface of one USB device, claimed through pyusb.

    Opening detaches the kernel's usbhid driver from the interface (Linux);
    closing hands it back, so that desktop tools see the UPS again.
    """

    def __init__(
        self, dev: Any, interface: int, endpoint: tuple[int, int] | None, descriptor_bytes: int
    ) -> None:
        self._dev = dev
        self._interface = interface
        self._endpoint = endpoint
        self._descriptor_bytes = descriptor_bytes
        self._detached = False
        self._claimed = False
        self._closed = False
        self._what = _label(dev)

    @classmethod
    def open(cls, selector: Selector, *, backend: object | None = None) -> UsbTransport:
        """Find, open and claim the device a selector names.

        Args:
            selector: VID, PID and serial to match; without IDs, any known UPS.
            backend: a pyusb backend; None lets pyusb load libusb.

        Returns:
            The claimed device.

        Raises:
            NotFound: no device matches.
            PermissionDenied: the OS refused access; the message names the udev rule.
            DriverUnavailable: libusb is not installed.
            TransportError: claiming failed for another reason.
        """
        with usb_errors("looking for USB devices"):
            found = list(
                usb.core.find(
                    find_all=True,
                    backend=backend,
                    custom_match=lambda d: selector.matches(int(d.idVendor), int(d.idProduct)),
                )
            )
        for dev in found:
            if selector.serial is not None:
                serial = _read_string(dev, int(dev.iSerialNumber), f"reading {_label(dev)}")
                if serial != selector.serial:
                    usb.util.dispose_resources(dev)
                    continue
            return cls._claim(dev)
        wanted = "a USB UPS" if selector.vid is None else str(selector)
        raise NotFound(f"no {wanted} is connected (is the USB cable plugged in?)")

    @classmethod
    def _claim(cls, dev: Any) -> UsbTransport:
        what = f"opening {_label(dev)}"
        transport: UsbTransport | None = None
        try:
            with usb_errors(what):
                intf = _hid_interface(dev)
                if intf is None:
                    raise NotFound(f"{_label(dev)} has no HID interface")
                transport = cls(
                    dev, int(intf.bInterfaceNumber), _interrupt_in(intf), _descriptor_length(intf)
                )
                transport._take()
        except BaseException:
            if transport is not None:
                transport.close()
            else:
                usb.util.dispose_resources(dev)
            raise
        return transport

    def _take(self) -> None:
        dev = self._dev
        with contextlib.suppress(NotImplementedError):
            # Only Linux can tell and detach; other backends raise NotImplementedError.
            try:
                active = bool(dev.is_kernel_driver_active(self._interface))
            except usb.core.USBError as exc:
                if _errno_of(exc) in (errno.EACCES, errno.EPERM, errno.ENODEV):
                    raise
                active = False
            if active:
                dev.detach_kernel_driver(self._interface)
                self._detached = True
        try:
            dev.get_active_configuration()
        except usb.core.USBError:
            dev.set_configuration()
        usb.util.claim_interface(dev, self._interface)
        self._claimed = True

    @property
    def vid(self) -> int:
        return int(self._dev.idVendor)

    @property
    def pid(self) -> int:
        return int(self._dev.idProduct)

    def strings(self) -> UsbStrings:
        dev = self._dev
        what = f"reading the strings of {self._what}"
        return UsbStrings(
            manufacturer=_read_string(dev, int(dev.iManufacturer), what),
            product=_read_string(dev, int(dev.iProduct), what),
            serial=_read_string(dev, int(dev.iSerialNumber), what),
        )

    def string(self, index: int) -> str | None:
        return _read_string(self._dev, index, f"reading string {index} of {self._what}")

    def report_descriptor(self) -> bytes:
        with usb_errors(f"reading the report descriptor of {self._what}"):
            data = self._dev.ctrl_transfer(
                _STANDARD_INTERFACE_IN,
                _GET_DESCRIPTOR,
                _REPORT_DESCRIPTOR << 8,
                self._interface,
                self._descriptor_bytes,
                CONTROL_TIMEOUT_MS,
            )
        return bytes(data)

    def get_report(self, kind: ReportType, report_id: int, length: int) -> bytes | None:
        # Send: GET_REPORT bmRequestType 0xA1, wValue (type << 8) | id, wIndex interface
        w_value = (REPORT_TYPE_CODES[kind] << 8) | report_id
        with usb_errors(f"reading {kind.value} report {report_id:#04x} of {self._what}"):
            try:
                data = self._dev.ctrl_transfer(
                    _CLASS_INTERFACE_IN,
                    _GET_REPORT,
                    w_value,
                    self._interface,
                    length,
                    CONTROL_TIMEOUT_MS,
                )
            except usb.core.USBError as exc:
                # A STALL is the device saying it has no such report (protocols.md 6.1).
                if _is_stall(exc):
                    return None
                raise
        return bytes(data)

    def set_report(self, kind: ReportType, report_id: int, data: bytes) -> bool:
        # Send: SET_REPORT bmRequestType 0x21, wValue (type << 8) | id, data report ID first
        w_value = (REPORT_TYPE_CODES[kind] << 8) | report_id
        with usb_errors(f"writing {kind.value} report {report_id:#04x} of {self._what}"):
            try:
                self._dev.ctrl_transfer(
                    _CLASS_INTERFACE_OUT,
                    _SET_REPORT,
                    w_value,
                    self._interface,
                    data,
                    CONTROL_TIMEOUT_MS,
                )
            except usb.core.USBError as exc:
                if _is_stall(exc):
                    return False
                raise
        return True

    def read_interrupt(self, timeout_s: float) -> bytes | None:
        if self._endpoint is None:
            # No interrupt pipe: nothing can arrive, but callers rely on the wait.
            time.sleep(max(timeout_s, 0.0))
            return None
        address, size = self._endpoint
        # pyusb reads a timeout of 0 as "forever".
        timeout_ms = max(1, round(timeout_s * 1000))
        with usb_errors(f"reading the interrupt pipe of {self._what}"):
            try:
                data = self._dev.read(address, size, timeout_ms)
            except usb.core.USBTimeoutError:
                return None
        return bytes(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        dev = self._dev
        # The device may already be gone; releasing is then moot.
        with contextlib.suppress(usb.core.USBError, NotImplementedError):
            if self._claimed:
                usb.util.release_interface(dev, self._interface)
            if self._detached:
                dev.attach_kernel_driver(self._interface)
        with contextlib.suppress(usb.core.USBError):
            usb.util.dispose_resources(dev)


def _power_device_page(dev: Any, intf: Any) -> bool:
    """True when the interface's report descriptor starts on the Power Device or Battery page.

    Reading it needs the interface unclaimed by a kernel driver; where one is
    bound (usbhid on Linux) the request fails and the device is skipped.
    """
    number = int(intf.bInterfaceNumber)
    try:
        data = bytes(
            dev.ctrl_transfer(
                _STANDARD_INTERFACE_IN,
                _GET_DESCRIPTOR,
                _REPORT_DESCRIPTOR << 8,
                number,
                16,
                CONTROL_TIMEOUT_MS,
            )
        )
    except (usb.core.USBError, ValueError, NotImplementedError):
        return False
    # Usage Page item with one data byte (0x05) or two (0x06), HID 1.11 §6.2.2.7.
    if len(data) >= 2 and data[0] == 0x05:
        return data[1] in POWER_PAGES
    if len(data) >= 3 and data[0] == 0x06:
        return int.from_bytes(data[1:3], "little") in POWER_PAGES
    return False


def _check_access(dev: Any, what: str) -> None:
    """Open the device so that the OS says now whether we may.

    Raises:
        PermissionDenied: we may not; the message names the udev rule.
    """
    with usb_errors(what):
        try:
            usb.util.get_langids(dev)
        except usb.core.USBError as exc:
            # A device without strings refuses the request; that is no answer about access.
            if _errno_of(exc) in (errno.EACCES, errno.EPERM):
                raise


def _candidate(dev: Any) -> UsbUps | None:
    vid, pid = int(dev.idVendor), int(dev.idProduct)
    intf = _hid_interface(dev)
    if intf is None:
        return None
    # Boot keyboards and mice (subclass 1) are never UPSes; leave them alone.
    generic_hid = int(intf.bInterfaceSubClass) == 0
    if not is_ups(vid, pid) and not (generic_hid and _power_device_page(dev, intf)):
        return None
    what = f"reading {_label(dev)}"
    try:
        _check_access(dev, what)
        strings = UsbStrings(
            manufacturer=_read_string(dev, int(dev.iManufacturer), what),
            product=_read_string(dev, int(dev.iProduct), what),
            serial=_read_string(dev, int(dev.iSerialNumber), what),
        )
    except PermissionDenied:
        return UsbUps(vid, pid, UsbStrings(), accessible=False)
    return UsbUps(vid, pid, strings, accessible=True)


def list_ups(backend: object | None = None) -> list[UsbUps]:
    """Every connected USB device that is a known UPS or declares the Power Device page.

    Args:
        backend: a pyusb backend; None lets pyusb load libusb.

    Returns:
        The devices in enumeration order.

    Raises:
        DriverUnavailable: libusb is not installed.
        TransportError: enumeration failed.
    """
    found: list[UsbUps] = []
    with usb_errors("looking for USB devices"):
        devices = list(usb.core.find(find_all=True, backend=backend))
    for dev in devices:
        try:
            candidate = _candidate(dev)
        except (UpsError, usb.core.USBError) as exc:
            log.debug("skipping %s: %s", _label(dev), exc)
            candidate = None
        finally:
            with contextlib.suppress(usb.core.USBError):
                usb.util.dispose_resources(dev)
        if candidate is not None:
            found.append(candidate)
    return found
