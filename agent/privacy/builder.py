"""The envelope builder: the one function that makes what would be sent for a purpose.

The GUI preview and the uploader both call :func:`build`, so a preview equals the
upload apart from ``envelope_id`` and ``created_at`` (privacy-design.md §7.2, §13).
Where every field's value comes from, and what it looks like on the wire, is the one
table :data:`FIELD_SOURCES`; ``schemas.py`` generates the JSON Schemas from it.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from jsonschema.exceptions import best_match

from upsight.agent.privacy import transforms
from upsight.agent.privacy.consent import ConsentState, LogEntry
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import (
    FieldId,
    Inventory,
    InventoryError,
    InventoryField,
    Transform,
    field_id,
)
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.drivers.errors import UpsError
from upsight.drivers.model import clean_serial, format_value

CLIENT_PREFIX: Final = "client."
"""Fields with this prefix go in the envelope's ``client`` object, the rest in ``data``."""

CONTROL_EPOCH: Final = 0
"""The consent epoch of control envelopes, which rely on no consent."""


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class ClientFacts:
    """The Upsight install, as the runtime collects it (raw, untransformed).

    Attributes:
        agent_version: Upsight's version.
        os_family: ``linux``, ``windows`` or ``macos``.
        os_version: The raw OS version, e.g. ``6.1.0-18-amd64``; only ``6.1`` is sent.
        locale: The raw UI locale, e.g. ``en_US.UTF-8``; only ``en-US`` is sent.
        tz_offset_s: Seconds east of UTC; sent in minutes.
        install_id: The install's random UUIDv4.
        hostname: This computer's name; sent only with the cloud_alerts sub-toggle
            ``use_hostname_as_label``.
    """

    agent_version: str
    os_family: str
    os_version: str
    locale: str
    tz_offset_s: int
    install_id: str
    hostname: str | None


@dataclass(frozen=True)
class DeviceFacts:
    """The UPS as last read.

    Attributes:
        connection: ``usb``, ``serial``, ``network``, ``simulated`` or ``battery``.
        label: The device name the user typed, or None.
        values: The latest reading by NUT variable name (``battery.charge``, ``ups.load``).
        status: NUT status tokens (``OL``, ``OB``, ``LB``, ``RB``, ``OVER``, ...).
    """

    connection: str
    label: str | None
    values: Mapping[str, float | str]
    status: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values))


@dataclass(frozen=True)
class EventFact:
    """One agent event: its kind value (``ONBATT``, ``ONLINE``, ...) and epoch seconds."""

    kind: str
    at: float


@dataclass(frozen=True)
class Aggregate:
    """One 15-minute bucket of one NUT variable; ``start`` is epoch seconds, a multiple of 900."""

    start: int
    min: float
    avg: float
    max: float


@dataclass(frozen=True)
class CrashFacts:
    """A crash as collected: no message, no local values, no file paths.

    Attributes:
        exc_type: The exception's qualified name, e.g. ``upsight.drivers.errors.Disconnected``.
        frames: ``(module, function, line)`` per frame, outermost first.
    """

    exc_type: str
    frames: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """Everything collected that an envelope could draw on, frozen so it can cross threads.

    Attributes:
        client: The install.
        device: The UPS, or None when none is attached.
        events: Agent events since the last upload.
        series: NUT variable -> its 15-minute aggregates.
        energy_wh: ``(15-minute bucket start, Wh used in it)``.
        error_codes: Driver or communication error code -> how often it occurred.
        shutdown_thresholds: Shutdown setting name -> its number.
        usage: ``app_opens``, ``active_time_s`` and ``feature:<name>`` counts for the day.
        region: The country or region the user typed, or None.
        crash: The crash to report, or None.
        wifi_ssid: The current Wi-Fi network name, or None.
        gps: ``(latitude, longitude)`` when the OS allows it, or None.
    """

    client: ClientFacts
    device: DeviceFacts | None = None
    events: tuple[EventFact, ...] = ()
    series: Mapping[str, tuple[Aggregate, ...]] = field(default_factory=lambda: _frozen({}))
    energy_wh: tuple[tuple[int, float], ...] = ()
    error_codes: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    shutdown_thresholds: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    usage: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    region: str | None = None
    crash: CrashFacts | None = None
    wifi_ssid: str | None = None
    gps: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("series", "error_codes", "shutdown_thresholds", "usage"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))


@dataclass(frozen=True)
class Grant:
    """What the consent gate says about the purpose right now.

    Attributes:
        epoch: The purpose's consent epoch.
        prompt_version: The prompt version the consent answered.
        by_org: True when the purpose is on because of organisation policy, not the user;
            fields that are not ``org_grantable`` are then left out.
        subtoggles: The sub-toggles the user switched on.
    """

    epoch: int
    prompt_version: int
    by_org: bool
    subtoggles: frozenset[str] = frozenset()


class EnvelopeInvalid(UpsError):
    """An envelope could not be made valid; it must not be queued or sent.

    Attributes:
        purpose: The purpose it was built for.
        path: The failing JSON path, e.g. ``$.data['ups.battery.charge_pct']``.
        reason: What is wrong there.
    """

    def __init__(self, purpose: Purpose, path: str, reason: str) -> None:
        self.purpose = purpose
        self.path = path
        self.reason = reason
        super().__init__(f"{purpose} envelope invalid at {path}: {reason}")


@dataclass(frozen=True)
class ReceiptFacts:
    """One consent change, as a consent receipt reports it (§6.3).

    Attributes:
        purpose: The purpose whose consent changed.
        to: The stored choice after the change.
        decided_at: UTC time of the change, ``YYYY-MM-DDTHH:MM:SSZ``.
        notice_version: The privacy notice in force.
        prompt_version: The purpose's prompt version the user answered.
    """

    purpose: Purpose
    to: ConsentState
    decided_at: str
    notice_version: str
    prompt_version: int


@dataclass(frozen=True)
class DeletionFacts:
    """What a deletion request asks the cloud to erase (§7.4, §12).

    Attributes:
        purposes: Purpose ids, or ``"all"``.
        install_ids: The current install id, then earlier ones.
        pseudonyms: Pseudonyms already sent.
        account_id: The signed-in account, or None.
    """

    purposes: tuple[str, ...] | Literal["all"]
    install_ids: tuple[str, ...]
    pseudonyms: tuple[str, ...]
    account_id: str | None


@dataclass(frozen=True)
class Facts:
    """What a field is read from: a snapshot for uploads, a request for control envelopes.

    ``install_id`` is None for a deletion request, which lists its install ids in its data.
    """

    install_id: str | None
    snapshot: Snapshot | None = None
    receipt: ReceiptFacts | None = None
    deletion: DeletionFacts | None = None


Reader = Callable[[Facts], object]
"""Reads a field's raw value; None (or an empty collection) means there is none to send."""
SeriesReader = Callable[[Facts], tuple[Aggregate, ...]]


@dataclass(frozen=True)
class FieldSource:
    """Where one field's value comes from and what it looks like once transformed.

    Attributes:
        schema: JSON Schema of the value as sent. For a purpose whose transform is
            ``aggregate_15min`` it is the schema of each bucket's min, avg and max.
        read: Reads the latest raw value.
        series: Reads the 15-minute aggregates, for fields that have them.
    """

    schema: Mapping[str, Any]
    read: Reader
    series: SeriesReader | None = None


def _text(value: object) -> str | None:
    """Device text as upsc shows it, trimmed; drivers pad some strings with spaces."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format_value(float(value))
    if isinstance(value, str):
        return value.strip() or None
    return None


def _number(value: object) -> float | None:
    """A finite number; NUT's wire format is text, so numeric text counts too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float | int) and math.isfinite(value):
        return float(value)
    return None


def _client(get: Callable[[ClientFacts], object]) -> Reader:
    return lambda facts: get(facts.snapshot.client) if facts.snapshot else None


def _snapshot(get: Callable[[Snapshot], object]) -> Reader:
    return lambda facts: get(facts.snapshot) if facts.snapshot else None


def _device(get: Callable[[DeviceFacts], object]) -> Reader:
    return _snapshot(lambda s: get(s.device) if s.device else None)


def _nut_number(*names: str) -> Reader:
    """The first of ``names`` the device reports as a number."""

    def read(device: DeviceFacts) -> float | None:
        found = (_number(device.values.get(name)) for name in names)
        return next((v for v in found if v is not None), None)

    return _device(read)


def _nut_text(*names: str, clean: Callable[[str | None], str | None] = lambda t: t) -> Reader:
    """The first of ``names`` the device reports as text, after ``clean``."""

    def read(device: DeviceFacts) -> str | None:
        found = (clean(_text(device.values.get(name))) for name in names)
        return next((v for v in found if v), None)

    return _device(read)


def _nut_series(*names: str) -> SeriesReader:
    """The aggregates of the first of ``names`` that has any."""

    def read(facts: Facts) -> tuple[Aggregate, ...]:
        series = facts.snapshot.series if facts.snapshot else {}
        return next((series[n] for n in names if series.get(n)), ())

    return read


def _electrical(*names: str, schema: Mapping[str, Any]) -> FieldSource:
    return FieldSource(schema, _nut_number(*names), _nut_series(*names))


def _receipt(get: Callable[[ReceiptFacts], object]) -> Reader:
    return lambda facts: get(facts.receipt) if facts.receipt else None


def _deletion(get: Callable[[DeletionFacts], object]) -> Reader:
    return lambda facts: get(facts.deletion) if facts.deletion else None


def _no_source(facts: Facts) -> None:
    """For declared fields nothing collects yet."""


STATUS_BY_SEVERITY: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("fault", frozenset({"ALARM", "OFF"})),
    # FSD means the load is about to lose power, as with a low battery.
    ("low-battery", frozenset({"LB", "FSD"})),
    ("overload", frozenset({"OVER"})),
    ("on-battery", frozenset({"OB"})),
    ("bypass", frozenset({"BYPASS"})),
    ("online", frozenset({"OL"})),
)
"""``ups.status`` from NUT status tokens: the first row with a token present wins.

Most severe first: a fault (alarm, output off) outranks a low battery, which outranks
an overload (the load is lost sooner on an empty battery), then on battery, bypass
(mains feeds the load unprotected) and online. No such token: the status is not sent.
"""

EVENT_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ONBATT": "power-fail",
        "ONLINE": "restore",
        "LOWBATT": "low-battery",
        "BATTERY_OK": "low-battery-cleared",
        "FSD": "shutdown-initiated",
        "SHUTDOWN_EXECUTING": "shutdown-initiated",
        "SELFTEST_PASSED": "self-test-passed",
        "SELFTEST_FAILED": "self-test-failed",
        "OVERLOAD": "overload",
        "OVERLOAD_CLEARED": "overload-cleared",
        "REPLBATT": "battery-replace",
        "REPLBATT_CLEARED": "battery-replace-cleared",
        "COMMBAD": "comm-lost",
        "NOCOMM": "comm-lost",
        "COMMOK": "comm-restored",
    }
)
"""Agent event kind value -> ``ups.event`` kind."""

UNSENT_EVENT_KINDS: Final = frozenset(
    {
        "CHARGING",
        "CHARGED",
        # The countdown's steps are this computer's business; only the shutdown itself is news.
        "SHUTDOWN_SCHEDULED",
        "SHUTDOWN_POSTPONED",
        "SHUTDOWN_CANCELLED",
        "SHUTDOWN_FAILED",
    }
)
"""Agent event kinds that say nothing a remote alert needs; they are left out.

Any kind in neither table reaches the schema unmapped and fails it, so a new event
kind cannot go out, or be lost, without a decision here.
"""

CONNECTIONS: Final = ("usb", "serial", "network", "simulated", "battery")
"""``ups.connection`` values: how the agent reaches the device."""


def _status(device: DeviceFacts) -> str | None:
    tokens = {t.upper() for t in device.status}
    return next((name for name, found in STATUS_BY_SEVERITY if tokens & found), None)


def _replace_flag(device: DeviceFacts) -> bool | None:
    tokens = {t.upper() for t in device.status}
    return "RB" in tokens if tokens else None


def _events(snapshot: Snapshot) -> tuple[tuple[str, float], ...]:
    return tuple(
        (EVENT_KINDS.get(e.kind, e.kind), e.at)
        for e in snapshot.events
        if e.kind not in UNSENT_EVENT_KINDS
    )


def _features(snapshot: Snapshot) -> dict[str, int]:
    prefix = "feature:"
    return {k.removeprefix(prefix): v for k, v in snapshot.usage.items() if k.startswith(prefix)}


def _gps(snapshot: Snapshot) -> dict[str, float] | None:
    return {"lat": snapshot.gps[0], "lon": snapshot.gps[1]} if snapshot.gps else None


_IDENTIFIER: Final = "[A-Za-z_][A-Za-z0-9_]*"
_DOTTED: Final = f"{_IDENTIFIER}(\\.{_IDENTIFIER})*"
UUID4: Final[Mapping[str, Any]] = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
}
"""JSON Schema of a random UUID as ``uuid.uuid4()`` prints it."""
PSEUDONYM: Final[Mapping[str, Any]] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
"""JSON Schema of an HMAC-SHA256 pseudonym."""
UTC_SECONDS: Final[Mapping[str, Any]] = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
}
"""JSON Schema of a UTC time to the second, ``YYYY-MM-DDTHH:MM:SSZ``."""
BUCKET_START: Final[Mapping[str, Any]] = {
    "type": "integer",
    "minimum": 0,
    "multipleOf": transforms.BUCKET_S,
}
"""JSON Schema of a 15-minute bucket's start, in epoch seconds."""


def _string(max_length: int, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if pattern:
        schema["pattern"] = pattern
    return schema


def _number_schema(minimum: float | None = 0, maximum: float | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _count(minimum: int = 0, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _map(key_pattern: str, values: Mapping[str, Any]) -> dict[str, Any]:
    # additionalProperties stays false: the pattern is the only way a key gets in.
    return {
        "type": "object",
        "patternProperties": {key_pattern: dict(values)},
        "additionalProperties": False,
    }


def _object(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: dict(v) for k, v in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


def _array(items: Mapping[str, Any], *, min_items: int = 1) -> dict[str, Any]:
    return {"type": "array", "items": dict(items), "minItems": min_items}


_SETTING_NAME: Final = "^[a-z][a-z0-9_]{0,63}$"
_PURPOSE_IDS: Final = [str(p) for p in UPLOAD_PURPOSES]

FIELD_SOURCES: Final[Mapping[FieldId, FieldSource]] = MappingProxyType(
    {
        field_id("client.agent_version"): FieldSource(
            _string(64, "^[0-9A-Za-z][0-9A-Za-z.+-]*$"), _client(lambda c: c.agent_version)
        ),
        field_id("client.os_family"): FieldSource(
            {"enum": ["linux", "windows", "macos"]}, _client(lambda c: c.os_family)
        ),
        field_id("client.os_version"): FieldSource(
            _string(19, "^[0-9]{1,9}\\.[0-9]{1,9}$"), _client(lambda c: c.os_version)
        ),
        field_id("client.locale"): FieldSource(
            _string(16, "^(und|[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?)$"),
            _client(lambda c: c.locale),
        ),
        field_id("client.tz_offset"): FieldSource(
            # UTC-12:00 to UTC+14:00, the offsets in use.
            {"type": "integer", "minimum": -720, "maximum": 840},
            _client(lambda c: c.tz_offset_s),
        ),
        field_id("client.install_id"): FieldSource(UUID4, lambda facts: facts.install_id),
        field_id("ups.model"): FieldSource(_string(128), _nut_text("device.model", "ups.model")),
        field_id("ups.firmware"): FieldSource(_string(64), _nut_text("ups.firmware")),
        field_id("ups.serial"): FieldSource(
            # The clear serial with the user's switch, else a pseudonym (64 hex digits).
            _string(128),
            _nut_text("device.serial", "ups.serial", clean=clean_serial),
        ),
        # Network management cards are read over SNMP, for which there is no driver yet.
        field_id("nmc.mac"): FieldSource(PSEUDONYM, _no_source),
        field_id("ups.connection"): FieldSource(
            {"enum": list(CONNECTIONS)}, _device(lambda d: d.connection)
        ),
        field_id("ups.status"): FieldSource(
            {"enum": [name for name, _ in STATUS_BY_SEVERITY]}, _device(_status)
        ),
        field_id("ups.event"): FieldSource(
            _array(
                _object(
                    {
                        "kind": {"enum": sorted(set(EVENT_KINDS.values()))},
                        "at": {"type": "integer", "minimum": 0},
                    }
                )
            ),
            _snapshot(_events),
        ),
        field_id("ups.battery.charge_pct"): _electrical(
            "battery.charge", schema=_number_schema(0, 100)
        ),
        field_id("ups.battery.runtime_s"): _electrical("battery.runtime", schema=_number_schema(0)),
        field_id("ups.battery.voltage"): _electrical("battery.voltage", schema=_number_schema(0)),
        field_id("ups.battery.replace_flag"): FieldSource(
            {"type": "boolean"}, _device(_replace_flag)
        ),
        field_id("ups.input.voltage"): _electrical("input.voltage", schema=_number_schema(0)),
        field_id("ups.input.frequency"): _electrical("input.frequency", schema=_number_schema(0)),
        field_id("ups.output.voltage"): _electrical("output.voltage", schema=_number_schema(0)),
        field_id("ups.output.load_pct"): _electrical("ups.load", schema=_number_schema(0)),
        field_id("ups.output.power_w"): _electrical("ups.realpower", schema=_number_schema(0)),
        field_id("ups.temperature_c"): _electrical(
            "ups.temperature", "battery.temperature", schema=_number_schema(-100, 200)
        ),
        field_id("energy.kwh"): FieldSource(
            _array(_object({"t": BUCKET_START, "kwh": _number_schema(0)})),
            _snapshot(lambda s: s.energy_wh),
        ),
        field_id("config.shutdown_thresholds"): FieldSource(
            _map(_SETTING_NAME, _number_schema(None)),
            _snapshot(lambda s: s.shutdown_thresholds),
        ),
        field_id("device.label"): FieldSource(_string(128), _device(lambda d: _text(d.label))),
        field_id("host.hostname"): FieldSource(_string(253), _client(lambda c: _text(c.hostname))),
        field_id("usage.app_opens"): FieldSource(
            _count(), _snapshot(lambda s: s.usage.get("app_opens"))
        ),
        field_id("usage.feature_counts"): FieldSource(
            _map("^[a-z][a-z0-9_.-]{0,63}$", _count()), _snapshot(_features)
        ),
        field_id("usage.active_time_s"): FieldSource(
            _count(0, 86_400), _snapshot(lambda s: s.usage.get("active_time_s"))
        ),
        field_id("diag.crash"): FieldSource(
            _object(
                {
                    "type": {"type": "string", "pattern": f"^({_DOTTED}|{transforms.OTHER})$"},
                    "frames": _array(
                        _object(
                            {
                                "module": {
                                    "type": "string",
                                    "pattern": f"^({_DOTTED}|{transforms.OTHER})$",
                                },
                                "function": {
                                    "type": "string",
                                    "pattern": f"^({_IDENTIFIER}|<[a-z]+>)$",
                                },
                                "line": _count(),
                            }
                        ),
                        min_items=0,
                    ),
                    "frames_omitted": _count(),
                }
            ),
            _snapshot(lambda s: s.crash),
        ),
        field_id("diag.error_codes"): FieldSource(
            _map("^[A-Za-z][A-Za-z0-9_.-]{0,63}$", _count(1)), _snapshot(lambda s: s.error_codes)
        ),
        field_id("loc.region"): FieldSource(_string(64), _snapshot(lambda s: _text(s.region))),
        field_id("loc.wifi_ssid"): FieldSource(
            # An SSID is at most 32 bytes; its pseudonym is 64 hex digits.
            _string(64),
            _snapshot(lambda s: _text(s.wifi_ssid)),
        ),
        field_id("loc.gps"): FieldSource(
            _object({"lat": _number_schema(-90, 90), "lon": _number_schema(-180, 180)}),
            _snapshot(_gps),
        ),
        field_id("consent.purpose"): FieldSource(
            {"enum": _PURPOSE_IDS}, _receipt(lambda r: str(r.purpose))
        ),
        field_id("consent.state"): FieldSource(
            {"enum": [str(s) for s in ConsentState]}, _receipt(lambda r: str(r.to))
        ),
        field_id("consent.decided_at"): FieldSource(UTC_SECONDS, _receipt(lambda r: r.decided_at)),
        field_id("consent.notice_version"): FieldSource(
            _string(64), _receipt(lambda r: r.notice_version)
        ),
        field_id("consent.prompt_version"): FieldSource(
            _count(1), _receipt(lambda r: r.prompt_version)
        ),
        field_id("deletion.purposes"): FieldSource(
            {
                "anyOf": [
                    {"const": "all"},
                    {**_array({"enum": _PURPOSE_IDS}), "uniqueItems": True},
                ]
            },
            _deletion(lambda d: d.purposes),
        ),
        field_id("deletion.install_ids"): FieldSource(
            {**_array(UUID4), "uniqueItems": True}, _deletion(lambda d: d.install_ids)
        ),
        field_id("deletion.pseudonyms"): FieldSource(
            {**_array(PSEUDONYM), "uniqueItems": True}, _deletion(lambda d: d.pseudonyms)
        ),
        field_id("deletion.account_id"): FieldSource(
            _string(128), _deletion(lambda d: d.account_id)
        ),
    }
)
"""Every envelope field: where its raw value comes from and its JSON value schema.

A field the inventory declares for an envelope purpose but that is missing here stops
schema generation (and so every build), so no field ships without a source and a type.
"""

ALL_PURPOSES: Final = "all"
"""``deletion.purposes`` value asking to erase the data of every purpose."""


@dataclass(frozen=True)
class _Context:
    """What a transform needs besides the raw value."""

    field: InventoryField
    install_secret: bytes
    clear: bool


def _as_number(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError(f"expected a number, got {type(raw).__name__}")
    return float(raw)


def _as_text(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected text, got {type(raw).__name__}")
    return raw


def _as_mapping(raw: object) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected a table of values, got {type(raw).__name__}")
    return raw


def _as_pairs(raw: object) -> list[tuple[object, float]]:
    if not isinstance(raw, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in raw):
        raise TypeError(f"expected pairs of values, got {type(raw).__name__}")
    return [(key, _as_number(at)) for key, at in raw]


def _step(context: _Context) -> float:
    if context.field.round_step is None:
        raise ValueError("the field has no round_step")
    return context.field.round_step


def _as_is(raw: object, context: _Context) -> object:
    return raw


def _major_minor(raw: object, context: _Context) -> object:
    return transforms.major_minor(_as_text(raw))


def _language_tag(raw: object, context: _Context) -> object:
    return transforms.language_tag(_as_text(raw))


def _utc_offset(raw: object, context: _Context) -> object:
    return transforms.utc_offset_minutes(int(_as_number(raw)))


def _pseudonymise(raw: object, context: _Context) -> object:
    text = _as_text(raw)
    return text if context.clear else transforms.pseudonym(context.install_secret, text)


def _utc_events(raw: object, context: _Context) -> object:
    return transforms.utc_events((_as_text(kind), at) for kind, at in _as_pairs(raw))


def _round(raw: object, context: _Context) -> object:
    step = _step(context)
    if isinstance(raw, Mapping):
        # A group of numbers rounded alike, such as latitude and longitude.
        return {k: transforms.round_to_step(_as_number(v), step) for k, v in raw.items()}
    return transforms.round_to_step(_as_number(raw), step)


def _aggregate(raw: object, context: _Context) -> object:
    if not isinstance(raw, tuple) or not all(isinstance(a, Aggregate) for a in raw):
        raise TypeError(f"expected 15-minute aggregates, got {type(raw).__name__}")
    buckets = [(a.start, a.min, a.avg, a.max) for a in raw]
    return transforms.aggregate_15min(buckets, context.field.round_step)


def _sum(raw: object, context: _Context) -> object:
    return transforms.sum_15min((_as_number(t), wh) for t, wh in _as_pairs(raw))


def _numbers_only(raw: object, context: _Context) -> object:
    return transforms.numbers_only(_as_mapping(raw))


def _daily_counters(raw: object, context: _Context) -> object:
    if isinstance(raw, Mapping):
        return {k: transforms.daily_count(_as_number(v)) for k, v in raw.items()}
    return transforms.daily_count(_as_number(raw))


def _scrub_stack(raw: object, context: _Context) -> object:
    if not isinstance(raw, CrashFacts) or context.field.max_bytes is None:
        raise TypeError("expected a crash and a max_bytes for the field")
    return transforms.scrub_stack(raw.exc_type, raw.frames, context.field.max_bytes)


def _enum_count(raw: object, context: _Context) -> object:
    counts = _as_mapping(raw)
    return transforms.enum_count({k: int(_as_number(v)) for k, v in counts.items()})


APPLY: Final[Mapping[Transform, Callable[[object, _Context], object]]] = MappingProxyType(
    {
        Transform.AS_IS: _as_is,
        # Enumerated values are produced by the source; the schema holds the allowed set.
        Transform.ENUM: _as_is,
        Transform.MAJOR_MINOR: _major_minor,
        Transform.LANGUAGE_TAG: _language_tag,
        Transform.UTC_OFFSET_MINUTES: _utc_offset,
        Transform.HMAC_INSTALL_SECRET: _pseudonymise,
        Transform.ENUM_UTC_TIMESTAMP_S: _utc_events,
        Transform.ROUND: _round,
        Transform.AGGREGATE_15MIN: _aggregate,
        Transform.SUM_15MIN: _sum,
        Transform.NUMBERS_ONLY: _numbers_only,
        Transform.DAILY_COUNTERS: _daily_counters,
        Transform.SCRUB_STACK: _scrub_stack,
        Transform.ENUM_COUNT: _enum_count,
    }
)
"""How each transform an envelope field can have is applied. ``sign_in_request_only`` and
``server_truncates`` are missing on purpose: such values never travel in an envelope."""


def envelope_fields(purpose: Purpose, inventory: Inventory) -> tuple[InventoryField, ...]:
    """The fields an envelope for ``purpose`` may carry, before sub-toggles and policy.

    That is the inventory's envelope fields for the purpose, less those that only the
    sign-in request carries (so an ``account`` envelope holds client fields only).
    """
    return tuple(
        f
        for f in inventory.fields_for(purpose)
        if f.transform_for(purpose) is not Transform.SIGN_IN_REQUEST_ONLY
    )


def source_of(item: InventoryField, purpose: Purpose, inventory: Inventory) -> FieldSource:
    """The table row of a field, checked against how the inventory says it is sent.

    Raises:
        InventoryError: The field has no row, or is aggregated for ``purpose`` but its
            row has no series source.
    """
    source = FIELD_SOURCES.get(item.id)
    if source is None:
        problem = "has no source in the envelope builder's table"
    elif item.transform_for(purpose) is Transform.AGGREGATE_15MIN and source.series is None:
        problem = f"is aggregated for {purpose} but has no series source"
    else:
        return source
    raise InventoryError(inventory.source, (f"field {item.id!r} {problem}",))


def utc_text(epoch_s: float) -> str:
    """Epoch seconds as UTC to the second, ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = datetime.datetime.fromtimestamp(math.floor(epoch_s), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _absent(value: object) -> bool:
    # An empty series or table says nothing, so it is left out like a missing value.
    return value is None or (isinstance(value, tuple | list | Mapping) and not value)


def _json_value(value: object) -> object:
    """The value in JSON's own types, so what is validated is exactly what is encoded."""
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    return value


def _json_path(section: str, name: str) -> str:
    return f"$.{section}['{name}']"


def _assemble(
    purpose: Purpose,
    facts: Facts,
    grant: Grant,
    *,
    inventory: Inventory,
    install_secret: bytes,
    notice_version: str,
    now: float,
    envelope_id: str | None,
) -> Envelope:
    # schemas.py generates from this module's table, so it can only load after it.
    from upsight.agent.privacy.schemas import validator

    checker = validator(purpose, inventory)
    sections: dict[str, dict[str, object]] = {"client": {}, "data": {}}
    for item in envelope_fields(purpose, inventory):
        if grant.by_org and not item.org_grantable:
            continue
        if item.requires_subtoggle is not None and item.requires_subtoggle not in grant.subtoggles:
            continue
        source = source_of(item, purpose, inventory)
        transform = item.transform_for(purpose)
        if transform is Transform.AGGREGATE_15MIN and source.series is not None:
            raw: object = source.series(facts)
        else:
            raw = source.read(facts)
        if _absent(raw):
            continue
        clear = item.clear_text_subtoggle is not None and (
            item.clear_text_subtoggle in grant.subtoggles
        )
        section = "client" if item.id.startswith(CLIENT_PREFIX) else "data"
        try:
            value = APPLY[transform](raw, _Context(item, install_secret, clear))
        except (TypeError, ValueError) as exc:
            raise EnvelopeInvalid(purpose, _json_path(section, item.id), str(exc)) from exc
        if not _absent(value):
            sections[section][item.id] = _json_value(value)
    envelope = Envelope(
        envelope_id=envelope_id if envelope_id is not None else str(uuid.uuid4()),
        purpose=purpose,
        consent_epoch=grant.epoch,
        notice_version=notice_version,
        prompt_version=grant.prompt_version,
        inventory_version=inventory.version,
        created_at=utc_text(now),
        client=MappingProxyType(sections["client"]),
        data=MappingProxyType(sections["data"]),
    )
    error = best_match(checker.iter_errors(envelope.to_json()))
    if error is not None:
        raise EnvelopeInvalid(purpose, error.json_path, error.message)
    return envelope


def build(
    purpose: Purpose,
    snapshot: Snapshot,
    grant: Grant,
    *,
    inventory: Inventory,
    install_secret: bytes,
    notice_version: str,
    now: float,
    envelope_id: str | None = None,
) -> Envelope:
    """Make the envelope that would be sent for ``purpose`` now: the preview and the upload.

    The caller has checked that the purpose is effectively on; this projects the snapshot
    onto the purpose's inventory fields, applies sub-toggles, organisation-grant limits
    and transforms, and validates the result against the purpose's JSON Schema.

    Args:
        purpose: An upload purpose.
        snapshot: What was collected.
        grant: The consent the envelope relies on.
        inventory: The loaded inventory.
        install_secret: The key of every pseudonym; never sent.
        notice_version: The privacy notice the consent answered.
        now: Epoch seconds; ``created_at``.
        envelope_id: Fixed id (for tests and re-builds); a fresh UUIDv4 by default.

    Raises:
        ValueError: ``purpose`` is local or control (see :func:`consent_receipt` and
            :func:`deletion_request`).
        InventoryError: A field of the purpose has no source in :data:`FIELD_SOURCES`.
        EnvelopeInvalid: A value does not fit its transform or the schema (the message
            names the JSON path), or a pseudonym's key is too short.
    """
    if purpose not in UPLOAD_PURPOSES:
        raise ValueError(f"{purpose} is not an upload purpose; control envelopes have their own")
    return _assemble(
        purpose,
        Facts(snapshot.client.install_id, snapshot=snapshot),
        grant,
        inventory=inventory,
        install_secret=install_secret,
        notice_version=notice_version,
        now=now,
        envelope_id=envelope_id,
    )


def _control(
    facts: Facts, inventory: Inventory, notice_version: str, now: float, envelope_id: str | None
) -> Envelope:
    grant = Grant(CONTROL_EPOCH, PURPOSES[Purpose.CONTROL].prompt_version, by_org=False)
    return _assemble(
        Purpose.CONTROL,
        facts,
        grant,
        inventory=inventory,
        # Control fields are never pseudonymised here; pseudonyms arrive already made.
        install_secret=b"",
        notice_version=notice_version,
        now=now,
        envelope_id=envelope_id,
    )


def consent_receipt(
    entry: LogEntry,
    *,
    install_id: str,
    notice_version: str,
    inventory: Inventory,
    now: float,
    envelope_id: str | None = None,
) -> Envelope:
    """The control envelope recording one consent change (§6.3 Receipts).

    Args:
        entry: The consent log line of the change.
        install_id: The install the consent belongs to.
        notice_version: The privacy notice in force now (the envelope header's).
        inventory: The loaded inventory.
        now: Epoch seconds; ``created_at``.
        envelope_id: Fixed id; a fresh UUIDv4 by default.

    Raises:
        ValueError: The line is about no single purpose (a store-wide reset).
        EnvelopeInvalid: A value is out of schema (e.g. an install id that is not a UUIDv4).
    """
    if entry.purpose is None or entry.prompt_version is None:
        raise ValueError(f"consent log line {entry.seq} is not about one purpose")
    receipt = ReceiptFacts(
        entry.purpose, entry.to_state, entry.ts, entry.notice_version, entry.prompt_version
    )
    return _control(Facts(install_id, receipt=receipt), inventory, notice_version, now, envelope_id)


def deletion_request(
    purposes: Iterable[Purpose] | Literal["all"],
    *,
    install_ids: Iterable[str],
    pseudonyms: Iterable[str] = (),
    account_id: str | None = None,
    notice_version: str,
    inventory: Inventory,
    now: float,
    envelope_id: str | None = None,
) -> Envelope:
    """The control envelope asking the cloud to erase data (§7.4 step 5, §12).

    Its ``client`` object stays empty: the install ids are the request's own data.

    Args:
        purposes: The purposes whose data to erase, or ``"all"``.
        install_ids: Every install id of this machine whose data to erase.
        pseudonyms: Pseudonyms already sent (serial, network card, Wi-Fi).
        account_id: The signed-in account, or None.
        notice_version: The privacy notice in force.
        inventory: The loaded inventory.
        now: Epoch seconds; ``created_at``.
        envelope_id: Fixed id; a fresh UUIDv4 by default.

    Raises:
        ValueError: No purpose or no install id is given.
        EnvelopeInvalid: A value is out of schema (e.g. an install id that is not a UUIDv4).
    """
    chosen: tuple[str, ...] | Literal["all"] = (
        ALL_PURPOSES if purposes == ALL_PURPOSES else tuple(dict.fromkeys(map(str, purposes)))
    )
    ids = tuple(dict.fromkeys(install_ids))
    if not chosen or not ids:
        raise ValueError("a deletion request needs a purpose (or 'all') and an install id")
    deletion = DeletionFacts(chosen, ids, tuple(dict.fromkeys(pseudonyms)), account_id)
    return _control(Facts(None, deletion=deletion), inventory, notice_version, now, envelope_id)
