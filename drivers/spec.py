"""Device spec strings: the one way to name a device in the CLI, config, GUI and tests.

Grammar (one per driver)::

    sim://SCENARIO[?speed=N&profile=P&seed=S]   built-in simulated UPS
    dummy:PATH                                  replay of a NUT .dev / .seq file
    hid://[VID:PID][?serial=S]                  USB HID Power Device
    megatec:PORT                                Megatec/Q1 serial (path or pyserial URL)
    apcsmart:PORT                               APC smart serial (path or pyserial URL)
    nut://[user[:pass]@]host[:port]/ups         a NUT server
    battery:                                    the operating system's battery
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from upsight.drivers.errors import DeviceSpecError

FORMS: Final[Mapping[str, str]] = {
    "sim": "sim://SCENARIO[?speed=N&profile=P&seed=S]",
    "dummy": "dummy:PATH",
    "hid": "hid://[VID:PID][?serial=S]",
    "megatec": "megatec:PORT",
    "apcsmart": "apcsmart:PORT",
    "nut": "nut://[user[:pass]@]host[:port]/ups",
    "battery": "battery:",
}

_EXPECTED: Final = "expected one of " + ", ".join(FORMS.values())
_VID_PID: Final = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed device spec.

    Attributes:
        scheme: the driver kind, a key of ``FORMS``.
        target: scenario, path, port, ``host:port/ups`` or ``VID:PID`` (may be empty).
        params: query parameters; for ``nut://`` also user, password, host, port, ups.
        text: the spec as written.
    """

    scheme: str
    target: str
    params: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def redacted(self) -> str:
        """The spec with any password replaced, safe for logs and screens."""
        password = self.params.get("password")
        if not password:
            return self.text
        return self.text.replace(f":{password}@", ":***@", 1)

    def __str__(self) -> str:
        return self.redacted()


def _fail(text: str, why: str) -> DeviceSpecError:
    return DeviceSpecError(f"bad device spec {text!r}: {why}")


def _query(text: str, query: str, allowed: frozenset[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise _fail(text, f"unknown parameter {key!r} (allowed: {names})")
        params[key] = value
    return params


def _parse_sim(text: str, rest: str) -> DeviceSpec:
    if not rest.startswith("//"):
        raise _fail(text, f"expected {FORMS['sim']}")
    body = rest[2:]
    scenario, _, query = body.partition("?")
    if not _NAME.fullmatch(scenario):
        raise _fail(text, f"missing scenario name; expected {FORMS['sim']}")
    params = _query(text, query, frozenset({"speed", "profile", "seed"}))
    if "speed" in params:
        try:
            speed = float(params["speed"])
        except ValueError:
            speed = 0.0
        # Bounded so one read never has more than ~1000 simulated seconds to catch up on.
        if not 0 < speed <= 1000:
            raise _fail(text, "speed must be a number above 0 and at most 1000")
    if "seed" in params and not params["seed"].isdigit():
        raise _fail(text, "seed must be a whole number")
    return DeviceSpec("sim", scenario, params, text)


def _parse_hid(text: str, rest: str) -> DeviceSpec:
    if not rest.startswith("//"):
        raise _fail(text, f"expected {FORMS['hid']}")
    ids, _, query = rest[2:].partition("?")
    params = _query(
        text, query, frozenset({"serial", "pollonly", "interruptonly", "pollfreq", "nofix"})
    )
    if ids:
        match = _VID_PID.fullmatch(ids)
        if match is None:
            raise _fail(text, "VID:PID must be two 4-digit hex numbers such as 051d:0002")
        ids = f"{match.group(1).lower()}:{match.group(2).lower()}"
    return DeviceSpec("hid", ids, params, text)


def _parse_nut(text: str, rest: str) -> DeviceSpec:
    try:
        parts = urlsplit("nut:" + rest)
        host = parts.hostname
    except ValueError:
        # urlsplit refuses an unclosed "[", and hostname an empty or bad "[...]".
        raise _fail(text, f"the host is not a valid address; expected {FORMS['nut']}") from None
    if not rest.startswith("//") or not host:
        raise _fail(text, f"missing host; expected {FORMS['nut']}")
    ups = parts.path.lstrip("/")
    if not _NAME.fullmatch(ups):
        raise _fail(text, f"missing UPS name after the host; expected {FORMS['nut']}")
    try:
        port = parts.port or 3493
    except ValueError:
        raise _fail(text, "port must be a number from 1 to 65535") from None
    params = {"host": host, "port": str(port), "ups": ups}
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password is not None:
        params["password"] = unquote(parts.password)
    return DeviceSpec("nut", f"{host}:{port}/{ups}", params, text)


def _parse_port(scheme: str, text: str, rest: str) -> DeviceSpec:
    if not rest.strip():
        raise _fail(text, f"missing port; expected {FORMS[scheme]}")
    return DeviceSpec(scheme, rest, {}, text)


def parse_spec(text: str) -> DeviceSpec:
    """Parse a device spec string.

    Raises:
        DeviceSpecError: with one line naming the forms that are accepted.
    """
    scheme, sep, rest = text.strip().partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in FORMS:
        raise _fail(text, _EXPECTED)
    if scheme == "sim":
        return _parse_sim(text, rest)
    if scheme == "hid":
        return _parse_hid(text, rest)
    if scheme == "nut":
        return _parse_nut(text, rest)
    if scheme == "battery":
        if rest:
            raise _fail(text, "battery: takes no argument")
        return DeviceSpec("battery", "", {}, text)
    if scheme == "dummy":
        if not rest.strip():
            raise _fail(text, f"missing file; expected {FORMS['dummy']}")
        return DeviceSpec("dummy", rest, {}, text)
    return _parse_port(scheme, text, rest)
