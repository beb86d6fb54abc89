"""Valid inputs for every fuzz target, built from the test fixtures and the emulators."""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import tomli_w

from tests.drivers.hid.captures import CAPTURES
from tests.drivers.serial.emulators import ApcSmartEmulator, MegatecEmulator, MegatecState
from tests.fuzz.targets import hid_input
from upsight.agent import config
from upsight.drivers.hid.descriptor import ReportType

POLICIES: Final[dict[str, Any]] = {
    "CloudConnection": True,
    "Endpoint": "https://cloud.example.com/api",
    "Proxy": "http://proxy.example.com:3128",
    "Purposes": {
        "cloud_alerts": {"Value": "granted", "Locked": True},
        "diagnostics": {"Value": "denied"},
        "location": {"Value": "blocked"},
    },
    "ShowFirstRunPrompt": False,
    "LedgerRetentionDays": 30,
    "Settings": {
        "agent.devices": ["hid://051d:0002", "nut://127.0.0.1:3493/ups", "sim://normal"],
        "agent.poll_interval_s": 2,
        "nut_server.listen": "127.0.0.1:3493",
        "protection.action": "hibernate",
        "protection.command": ["/usr/bin/logger", "on battery"],
        "notifications.min_severity": "warning",
    },
}

NUT_SCRIPT: Final = (
    b"BEGIN LIST VAR ups\n"
    b'VAR ups battery.charge "100"\n'
    b'VAR ups battery.runtime "1800"\n'
    b'VAR ups device.mfr "Eaton \\"5E\\""\n'
    b'VAR ups ups.status "OL CHRG"\n'
    b'VAR ups ups.vendorid "0463"\n'
    b"END LIST VAR ups\n"
    b"BEGIN LIST CMD ups\n"
    b"CMD ups test.battery.start.quick\n"
    b"END LIST CMD ups\n"
    b"BEGIN LIST VAR ups\n"
    b'VAR ups ups.status "OB LB"\n'
    b'VAR ups input.voltage "0.0"\n'
    b"END LIST VAR ups\n"
    b"OK\n"
)

NUT_REQUESTS: Final = (
    b"VER\nNETVER\nLIST UPS\nLIST VAR ups\nGET VAR ups ups.status\n"
    b'USERNAME admin\nPASSWORD "secret"\nLOGIN ups\nSET VAR ups ups.id "a \\" b"\n'
    b"INSTCMD ups test.battery.start.quick\nLIST RANGE ups input.transfer.low\nLOGOUT\n"
)


def _hid() -> list[bytes]:
    return [hid_input(c.vid, c.pid, c.descriptor, c.feature_reports()) for c in CAPTURES] + [
        hid_input(
            c.vid,
            c.pid,
            c.descriptor,
            {(ReportType.INPUT, report_id): data for report_id, data in c.reports.items()},
        )
        for c in CAPTURES[:3]
    ]


def _megatec() -> list[bytes]:
    out: list[bytes] = []
    for battery_v in (2.27, 13.6, 27.4):
        emulator = MegatecEmulator(MegatecState(battery_v=battery_v))
        q1, rating = emulator.handle(b"Q1"), emulator.handle(b"F")
        out += [q1, rating, emulator.handle(b"I"), emulator.handle(b"QS"), q1 + rating]
    return out


def _apcsmart() -> list[bytes]:
    emulator = ApcSmartEmulator()
    replies = [emulator.handle(bytes([c])) for c in b"YQafBCLOPfjnbvV9/"]
    return [b"".join(replies), b"27!.00\r\n$08\r\nSM\r\n", *replies]


def _config() -> list[bytes]:
    table: dict[str, Any] = {"version": config.CONFIG_VERSION}
    for key, value in config.as_table(config.Config()).items():
        section, _, name = key.partition(".")
        table.setdefault(section, {})[name] = value
    table["agent"]["devices"] = ["hid://051d:0002", "serial:///dev/ttyUSB0?protocol=megatec"]
    table["nut_server"]["listen"] = "[::1]:3493"
    return [tomli_w.dumps(table).encode(), b"version = 1\n[agent]\npoll_interval_s = 'x'\n"]


def _policy_json() -> list[bytes]:
    return [
        json.dumps({"schema_version": 1, "policies": POLICIES}, indent=1).encode(),
        b'{"schema_version": 1, "policies": {"CloudConnection": false}}',
    ]


def _policy_plist() -> list[bytes]:
    plain = {k: v for k, v in POLICIES.items() if k != "Settings"}
    return [
        plistlib.dumps(POLICIES, fmt=plistlib.FMT_XML),
        plistlib.dumps(plain, fmt=plistlib.FMT_BINARY),
    ]


def _policy_registry() -> list[bytes]:
    settings = dict(POLICIES["Settings"])
    settings["agent.devices"] = dict(enumerate(settings["agent.devices"], start=1))
    settings["agent.poll_interval_s"] = "2.5"
    tree = {**POLICIES, "CloudConnection": 1, "ShowFirstRunPrompt": 0, "Settings": settings}
    return [json.dumps(tree).encode()]


SEEDS: Final[Mapping[str, Callable[[], list[bytes]]]] = {
    "hid": _hid,
    "megatec": _megatec,
    "apcsmart": _apcsmart,
    "nut-server": lambda: [NUT_REQUESTS],
    "nut-client": lambda: [NUT_SCRIPT],
    "config": _config,
    "device-spec": lambda: [
        b"hid://051d:0002?serial=AS1234",
        b"nut://monuser:secret@[::1]:3493/ups",
        b"serial:///dev/ttyS0?protocol=apcsmart",
        b"sim://?scenario=blackout",
    ],
    "policy-json": _policy_json,
    "policy-plist": _policy_plist,
    "policy-registry": _policy_registry,
}
