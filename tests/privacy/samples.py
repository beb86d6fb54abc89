"""A realistic snapshot of a USB UPS, shared by the privacy tests that only need some data."""

from __future__ import annotations

from upsight.agent.privacy.builder import ClientFacts, DeviceFacts, Snapshot

SERIAL = "AS1234567890"


def snapshot(charge: float = 87.0) -> Snapshot:
    """An APC Back-UPS on line, with ``charge`` percent in the battery."""
    client = ClientFacts(
        agent_version="1.0.0",
        os_family="linux",
        os_version="6.1.0-18-amd64",
        locale="en_US.UTF-8",
        tz_offset_s=3600,
        install_id="00000000-0000-4000-8000-000000000000",
        hostname=None,
    )
    device = DeviceFacts(
        connection="usb",
        label=None,
        values={
            "battery.charge": charge,
            "battery.runtime": 1380.0,
            "device.model": "Back-UPS ES 700",
            "device.serial": SERIAL,
            "ups.firmware": "871.O4 .I",
        },
        status=frozenset({"OL"}),
    )
    return Snapshot(client=client, device=device)
