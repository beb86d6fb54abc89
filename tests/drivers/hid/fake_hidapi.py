"""A stand-in for hidapi's ``hid`` module, handing FakeUps reports over the way hidapi does."""

from __future__ import annotations

import errno
from types import ModuleType
from typing import Any

import usb.core

from .fake_backend import FakeUps


class FakeHidModule(ModuleType):
    """``import hid`` as hidapi provides it, over the given devices."""

    def __init__(self, *devices: FakeUps, usage_page: int = 0x84) -> None:
        super().__init__("hid")
        self.devices = list(devices)
        self.usage_page = usage_page
        self.opened: list[FakeHidDevice] = []
        module = self

        class device(FakeHidDevice):  # noqa: N801  # hidapi's own spelling
            def __init__(self) -> None:
                super().__init__(module)

        self.device = device

    def enumerate(self, vendor_id: int = 0, product_id: int = 0) -> list[dict[str, Any]]:
        return [
            {
                "path": f"fake-{i}".encode(),
                "vendor_id": d.vid,
                "product_id": d.pid,
                "serial_number": d.strings.get(3, ""),
                "release_number": 0x0100,
                "manufacturer_string": d.strings.get(1, ""),
                "product_string": d.strings.get(2, ""),
                "usage_page": self.usage_page,
                "usage": 0x04,
                "interface_number": 0,
            }
            for i, d in enumerate(self.devices)
            if not d.unplugged and vendor_id in (0, d.vid) and product_id in (0, d.pid)
        ]


class FakeHidDevice:
    """hidapi's ``hid.device``: open by path, then reports as lists of ints, report ID first.

    Like hidapi it raises OSError for any failure, a STALL and a lost device alike.
    """

    def __init__(self, module: FakeHidModule) -> None:
        self._module = module
        self._ups: FakeUps | None = None
        self.sent: list[bytes] = []

    def _device(self) -> FakeUps:
        if self._ups is None:
            raise ValueError("not open")
        if self._ups.unplugged:
            raise OSError("read error")
        return self._ups

    def open_path(self, path: bytes) -> None:
        index = int(path.decode().rpartition("-")[2])
        ups = self._module.devices[index]
        if ups.deny_access:
            raise OSError("open failed")
        self._ups = ups
        self._module.opened.append(self)

    def get_report_descriptor(self, max_length: int = 4096) -> list[int]:
        return list(self._device().descriptor[:max_length])

    def get_feature_report(self, report_id: int, max_length: int) -> list[int]:
        ups = self._device()
        ups.get_reports.append((3, report_id))
        if report_id in ups.stalled or report_id not in ups.reports:
            raise OSError("read error")
        return list(ups.reports[report_id][:max_length])

    def get_input_report(self, report_id: int, max_length: int) -> list[int]:
        ups = self._device()
        ups.get_reports.append((1, report_id))
        raise OSError("read error")

    def send_feature_report(self, data: bytes) -> int:
        ups = self._device()
        self.sent.append(bytes(data))
        if data[0] in ups.stalled:
            raise OSError("write error")
        ups.reports[data[0]] = bytes(data)
        return len(data)

    def write(self, data: bytes) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        ups = self._device()
        try:
            return list(ups.read_interrupt(max_length, timeout_ms))
        except usb.core.USBError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return []
            raise OSError("read error") from exc

    def get_indexed_string(self, index: int) -> str:
        text = self._device().strings.get(index)
        if text is None:
            raise OSError("get indexed string error")
        return text

    def close(self) -> None:
        self._ups = None
