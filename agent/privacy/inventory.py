"""The data inventory: every field Upsight may upload, loaded and checked from resources/."""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NewType, TypeVar

from upsight.agent.privacy.purposes import PURPOSES, Purpose, PurposeKind
from upsight.drivers.errors import UpsError

INVENTORY_RESOURCE: Final = "inventory.toml"

FieldId = NewType("FieldId", str)
"""A declared field's id, such as ``ups.model``.

Code names a field only through :func:`field_id` with a string literal, or takes one
from a loaded :class:`Inventory`. Envelope payloads are keyed by ``FieldId``, so mypy
rejects a plain string key, and the privacy lint test checks every ``field_id``
literal in ``agent/``, ``drivers/`` and ``gui/`` against the inventory.
"""

FIELD_ID_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
"""Lower-case dotted names with at least two parts."""

REQUIRED_KEYS: Final[frozenset[str]] = frozenset(
    {
        "description",
        "category",
        "purposes",
        "upload_transform",
        "local_retention_days",
        "owner",
        "data_review",
        "expires",
        "org_grantable",
        "free_text",
    }
)
OPTIONAL_KEYS: Final[frozenset[str]] = frozenset(
    {
        "clear_text_subtoggle",
        "requires_subtoggle",
        "carrier",
        "round_step",
        "max_bytes",
        "aggregate_retention_days",
    }
)

_OWNER_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

_E = TypeVar("_E", bound=enum.StrEnum)


class InventoryError(UpsError):
    """The inventory file is missing, unparsable or breaks a rule; nothing may be uploaded.

    Attributes:
        source: The file (or other origin) that was read.
        problems: Every problem found, each naming the field and key concerned.
    """

    def __init__(self, source: str, problems: tuple[str, ...]) -> None:
        self.source = source
        self.problems = problems
        listed = "".join(f"\n  {p}" for p in problems)
        super().__init__(f"{source}: data inventory rejected ({len(problems)} problem(s)):{listed}")


class Category(enum.StrEnum):
    """How sensitive a field is, in Mozilla Glean's data-sensitivity vocabulary."""

    TECHNICAL = "technical"
    INTERACTION = "interaction"
    STORED_CONTENT = "stored_content"
    HIGHLY_SENSITIVE = "highly_sensitive"


class Transform(enum.StrEnum):
    """What the envelope builder does to a value before it leaves the machine."""

    AS_IS = "as_is"
    ENUM = "enum"
    MAJOR_MINOR = "major_minor"
    LANGUAGE_TAG = "language_tag"
    UTC_OFFSET_MINUTES = "utc_offset_minutes"
    HMAC_INSTALL_SECRET = "hmac_sha256_install_secret"
    ENUM_UTC_TIMESTAMP_S = "enum_utc_timestamp_s"
    ROUND = "round"
    AGGREGATE_15MIN = "aggregate_15min"
    SUM_15MIN = "sum_15min"
    NUMBERS_ONLY = "numbers_only"
    DAILY_COUNTERS = "daily_counters"
    SCRUB_STACK = "scrub_stack"
    ENUM_COUNT = "enum_count"
    SIGN_IN_REQUEST_ONLY = "sign_in_request_only"
    SERVER_TRUNCATES = "server_truncates"


class Carrier(enum.StrEnum):
    """Where a field travels: inside an envelope the builder makes, or in the connection itself."""

    ENVELOPE = "envelope"
    CONNECTION = "connection"


class Retention(enum.StrEnum):
    """Local retention that is a condition rather than a number of days."""

    WHILE_DEVICE_PRESENT = "while_device_present"
    WHILE_SET = "while_set"
    UNTIL_RESET = "until_reset"
    CONSENT_RECORD = "consent_record"
    UNTIL_DELIVERED = "until_delivered"


@dataclass(frozen=True)
class InventoryField:
    """One declared field.

    Attributes:
        id: The field id.
        description: What the value is.
        category: Its sensitivity.
        purposes: The purposes it may be uploaded for, in file order.
        upload_transform: The transform per purpose.
        local_retention_days: Days kept in the local store (0: not stored), or a condition.
        owner: Who answers for the field.
        data_review: Where its data review is recorded.
        expires: The day CI starts failing until the field is reviewed again or removed.
        org_grantable: Whether an organisation's grant of the purpose covers this field.
            When False the builder leaves it out of envelopes whose consent comes from
            policy; only the user's own grant sends it.
        free_text: Whether the value is typed by a person (so can hold anything).
        clear_text_subtoggle: The user-only switch that replaces the pseudonym by the
            clear value, or None.
        requires_subtoggle: The user-only switch without which the field is not sent at
            all, or None.
        carrier: Whether it is part of an envelope or seen in the connection.
        round_step: The rounding step for ``round`` and ``aggregate_15min``, or None.
        max_bytes: The size cap for ``scrub_stack``, or None.
        aggregate_retention_days: Days the local aggregates are kept, or None.
    """

    id: FieldId
    description: str
    category: Category
    purposes: tuple[Purpose, ...]
    upload_transform: Mapping[Purpose, Transform]
    local_retention_days: int | Retention
    owner: str
    data_review: str
    expires: datetime.date
    org_grantable: bool
    free_text: bool
    clear_text_subtoggle: str | None = None
    requires_subtoggle: str | None = None
    carrier: Carrier = Carrier.ENVELOPE
    round_step: float | None = None
    max_bytes: int | None = None
    aggregate_retention_days: int | None = None

    def transform_for(self, purpose: Purpose) -> Transform:
        """The transform applied when the field is uploaded for ``purpose``.

        Raises:
            KeyError: The field is not declared for that purpose.
        """
        return self.upload_transform[purpose]


@dataclass(frozen=True)
class NeverCollect:
    """A kind of data no policy, setting or build flag can make Upsight collect.

    Attributes:
        id: A reserved field id; declaring it in the inventory is an error.
        what: The kind of data, in words.
        tokens: Word sets; a field id containing every word of any set is rejected.
    """

    id: FieldId
    what: str
    tokens: tuple[frozenset[str], ...]


def _words(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s.split()) for s in sets)


NEVER_COLLECT: Final[tuple[NeverCollect, ...]] = (
    NeverCollect(
        FieldId("host.user_name"),
        "operating-system user names",
        _words("username", "user name", "login", "logon"),
    ),
    NeverCollect(
        FieldId("host.file_path"),
        "home-directory or any other file paths",
        _words("path", "paths", "homedir", "home dir", "filename"),
    ),
    NeverCollect(
        FieldId("host.process_list"),
        "process or application lists",
        _words("process", "processes", "application list", "running apps"),
    ),
    NeverCollect(
        FieldId("host.browser_data"),
        "browser data",
        _words("browser", "cookie", "cookies", "bookmarks"),
    ),
    NeverCollect(
        FieldId("snmp.community"),
        "SNMP community strings",
        _words("community"),
    ),
    NeverCollect(
        FieldId("host.password"),
        "passwords",
        _words("password", "passwd", "passphrase"),
    ),
    NeverCollect(
        FieldId("shutdown.script"),
        "contents of shutdown scripts",
        _words("script", "scripts"),
    ),
    NeverCollect(
        FieldId("host.environment"),
        "environment variables",
        _words("environment", "environ", "env"),
    ),
    NeverCollect(
        FieldId("host.ip_address"),
        "local IP or MAC addresses of this computer's own network interfaces",
        _words("host ip", "host mac", "local ip", "local mac", "interface", "interfaces"),
    ),
)
"""Spec section 5, hard-coded: the inventory loader refuses any field that matches."""


def never_collect_ids() -> frozenset[FieldId]:
    """The reserved ids of every never-collected kind of data."""
    return frozenset(item.id for item in NEVER_COLLECT)


def never_collect_match(name: str) -> NeverCollect | None:
    """The never-collect entry a field id falls under, or None.

    A match is either the reserved id itself or an id whose words (split on ``.`` and
    ``_``) contain every word of one of the entry's token sets.
    """
    words = set(re.split(r"[._]", name))
    for item in NEVER_COLLECT:
        if name == item.id or any(tokens <= words for tokens in item.tokens):
            return item
    return None


def field_id(name: str) -> FieldId:
    """Name a declared field in code.

    Call it with a string literal only (``field_id("ups.model")``) so the privacy lint
    can check the name against the inventory; build dynamic lists from an
    :class:`Inventory` instead.

    Raises:
        ValueError: ``name`` is not a lower-case dotted id, or names never-collected data.
    """
    if not FIELD_ID_PATTERN.fullmatch(name):
        raise ValueError(f"{name!r} is not a field id (lower-case dotted words, e.g. ups.model)")
    banned = never_collect_match(name)
    if banned is not None:
        raise ValueError(f"{name!r} would be {banned.what}, which Upsight never collects")
    return FieldId(name)


@dataclass(frozen=True)
class Inventory:
    """The loaded, validated inventory.

    Attributes:
        version: ``inventory_version``; increases on every change to the fields.
        fields: Every field by id, in file order.
        digest: SHA-256 of the field declarations in canonical JSON, independent of
            formatting and comments; CI ties it to ``version``.
        source: Where it was read from.
    """

    version: int
    fields: Mapping[FieldId, InventoryField]
    digest: str
    source: str

    def field(self, name: FieldId) -> InventoryField:
        """The declaration of one field.

        Raises:
            InventoryError: The field is not declared (so it must not be uploaded).
        """
        try:
            return self.fields[name]
        except KeyError:
            raise InventoryError(self.source, (f"field {name!r} is not declared",)) from None

    def disclosed_for(self, purpose: Purpose) -> tuple[InventoryField, ...]:
        """Every field that reaches the server for ``purpose``, the connection's own included."""
        return tuple(f for f in self.fields.values() if purpose in f.purposes)

    def fields_for(self, purpose: Purpose) -> tuple[InventoryField, ...]:
        """The fields an envelope for ``purpose`` may carry, before sub-toggles and policy."""
        banned = never_collect_ids()
        return tuple(
            f
            for f in self.disclosed_for(purpose)
            if f.carrier is Carrier.ENVELOPE and f.id not in banned
        )

    def subtoggles_for(self, purpose: Purpose) -> frozenset[str]:
        """The sub-toggles the fields of ``purpose`` refer to."""
        names: set[str] = set()
        for f in self.disclosed_for(purpose):
            names.update(n for n in (f.clear_text_subtoggle, f.requires_subtoggle) if n)
        return frozenset(names)


def content_digest(table: Mapping[str, Any]) -> str:
    """SHA-256 over the ``fields`` table in canonical JSON (dates as ISO text)."""
    text = json.dumps(
        table.get("fields"), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_inventory(path: Path | None = None) -> Inventory:
    """Read and validate the inventory.

    Args:
        path: The file to read; by default the one shipped in ``upsight.resources``.

    Raises:
        InventoryError: The file cannot be read or breaks a rule; every problem is listed.
    """
    if path is None:
        resource = resources.files("upsight.resources") / INVENTORY_RESOURCE
        source = str(resource)
        try:
            text = resource.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(source, (f"cannot be read ({exc})",)) from exc
        return parse_inventory(text, source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(str(path), (f"cannot be read ({exc})",)) from exc
    return parse_inventory(text, str(path))


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    """Validate inventory TOML text.

    Args:
        text: The file's content.
        source: Named in error messages.

    Raises:
        InventoryError: Not TOML, or any field breaks a rule; every problem is listed.
    """
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(source, (f"not valid TOML ({exc})",)) from exc
    problems: list[str] = []
    version = table.get("inventory_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append("top-level 'inventory_version' must be a positive integer")
        version = 0
    for key in table.keys() - {"inventory_version", "fields"}:
        problems.append(f"unknown top-level key {key!r}")
    raw_fields = table.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        problems.append("no [fields] table")
        raw_fields = {}
    fields: dict[FieldId, InventoryField] = {}
    for name, entry in raw_fields.items():
        checker = _FieldChecker(name, entry)
        parsed = checker.parse()
        problems.extend(checker.problems)
        if parsed is not None:
            fields[parsed.id] = parsed
    problems.extend(_cross_checks(fields))
    if problems:
        raise InventoryError(source, tuple(problems))
    return Inventory(version, MappingProxyType(fields), content_digest(table), source)


class _FieldChecker:
    """Parses one ``[fields."<id>"]`` table, collecting every problem instead of stopping."""

    def __init__(self, name: str, entry: object) -> None:
        self.name = name
        self.entry: dict[str, Any] = entry if isinstance(entry, dict) else {}
        self.problems: list[str] = []
        self.missing = REQUIRED_KEYS - self.entry.keys()
        if not isinstance(entry, dict):
            self.problems.append(f"field {name!r}: must be a table")

    def problem(self, text: str) -> None:
        # A missing key is reported once, not again as a value of the wrong kind.
        if not any(text.startswith(repr(key)) for key in self.missing):
            self.problems.append(f"field {self.name!r}: {text}")

    def text(self, key: str) -> str:
        value = self.entry.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{key!r} must be non-empty text")
            return ""
        return value

    def flag(self, key: str) -> bool:
        value = self.entry.get(key)
        if not isinstance(value, bool):
            self.problem(f"{key!r} must be true or false")
            return False
        return value

    def choice(self, key: str, kind: type[_E], value: object) -> _E | None:
        if isinstance(value, str) and value in set(kind):
            return kind(value)
        self.problem(f"{key!r} = {value!r} is not one of {' | '.join(kind)}")
        return None

    def subtoggle(self, key: str) -> str | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, str):
            self.problem(f"{key!r} must be text")
            return None
        return value

    def whole(self, key: str, *, minimum: int) -> int | None:
        value = self.entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(f"{key!r} must be a whole number >= {minimum}")
            return None
        return value

    def parse(self) -> InventoryField | None:
        if not self.entry:
            return None
        if not FIELD_ID_PATTERN.fullmatch(self.name):
            self.problem("id must be lower-case dotted words such as ups.model")
        banned = never_collect_match(self.name)
        if banned is not None:
            self.problem(f"is {banned.what}, which Upsight never collects")
        for key in sorted(self.missing):
            self.problem(f"missing required key {key!r}")
        for key in sorted(self.entry.keys() - REQUIRED_KEYS - OPTIONAL_KEYS):
            self.problem(f"unknown key {key!r}")
        category = self.choice("category", Category, self.entry.get("category"))
        purposes = self.purposes()
        transforms = self.transforms(purposes)
        retention = self.retention()
        expires = self.entry.get("expires")
        if not isinstance(expires, datetime.date) or isinstance(expires, datetime.datetime):
            self.problem("'expires' must be a TOML date such as 2028-01-01")
            expires = datetime.date.min
        owner = self.text("owner")
        if owner and not _OWNER_PATTERN.fullmatch(owner):
            self.problem("'owner' must be an email address")
        review = self.text("data_review")
        if review and not review.startswith("https://"):
            self.problem("'data_review' must be an https:// link")
        step = self.entry.get("round_step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
            self.problem("'round_step' must be a number")
            step = None
        carrier = self.choice("carrier", Carrier, self.entry.get("carrier", "envelope"))
        subtoggles = [self.subtoggle(k) for k in ("clear_text_subtoggle", "requires_subtoggle")]
        field = InventoryField(
            id=FieldId(self.name),
            description=self.text("description"),
            category=category or Category.HIGHLY_SENSITIVE,
            purposes=purposes,
            upload_transform=MappingProxyType(transforms),
            local_retention_days=retention,
            owner=owner,
            data_review=review,
            expires=expires,
            org_grantable=self.flag("org_grantable"),
            free_text=self.flag("free_text"),
            clear_text_subtoggle=subtoggles[0],
            requires_subtoggle=subtoggles[1],
            carrier=carrier or Carrier.ENVELOPE,
            round_step=float(step) if step is not None else None,
            max_bytes=self.whole("max_bytes", minimum=1),
            aggregate_retention_days=self.whole("aggregate_retention_days", minimum=1),
        )
        self.problems.extend(f"field {self.name!r}: {p}" for p in _rules(field))
        return field

    def purposes(self) -> tuple[Purpose, ...]:
        raw = self.entry.get("purposes")
        if not isinstance(raw, list) or not raw:
            self.problem("'purposes' must be a non-empty list")
            return ()
        found: list[Purpose] = []
        for value in raw:
            purpose = self.choice("purposes", Purpose, value)
            if purpose is None:
                continue
            if PURPOSES[purpose].kind is PurposeKind.LOCAL:
                self.problem("'purposes' cannot list 'local', which is never uploaded")
            elif purpose in found:
                self.problem(f"'purposes' lists {purpose} twice")
            else:
                found.append(purpose)
        return tuple(found)

    def transforms(self, purposes: tuple[Purpose, ...]) -> dict[Purpose, Transform]:
        raw = self.entry.get("upload_transform")
        if isinstance(raw, str):
            single = self.choice("upload_transform", Transform, raw)
            return {p: single for p in purposes} if single else {}
        if not isinstance(raw, dict):
            self.problem("'upload_transform' must be a transform or a table of purpose = transform")
            return {}
        if set(raw) != {str(p) for p in purposes}:
            self.problem("'upload_transform' table must have exactly one entry per purpose")
        out: dict[Purpose, Transform] = {}
        for key, value in raw.items():
            transform = self.choice("upload_transform", Transform, value)
            if transform is not None and key in {str(p) for p in purposes}:
                out[Purpose(key)] = transform
        return out

    def retention(self) -> int | Retention:
        raw = self.entry.get("local_retention_days")
        if isinstance(raw, str):
            return self.choice("local_retention_days", Retention, raw) or 0
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            self.problem("'local_retention_days' must be days >= 0 or a retention condition")
            return 0
        return raw


def _rules(f: InventoryField) -> list[str]:
    """Privacy rules about one field that the file's types cannot express."""
    found: list[str] = []
    transforms = set(f.upload_transform.values())
    if f.category is Category.HIGHLY_SENSITIVE and f.org_grantable:
        found.append("a highly_sensitive field cannot be org_grantable")
    if f.free_text and f.category not in (Category.STORED_CONTENT, Category.HIGHLY_SENSITIVE):
        found.append("free text must be stored_content or highly_sensitive")
    if f.free_text and f.org_grantable:
        found.append("free text cannot be org_grantable")
    if f.org_grantable and not any(PURPOSES[p].org_grantable for p in f.purposes):
        found.append("org_grantable, but none of its purposes is")
    if Transform.ROUND in transforms and f.round_step is None:
        found.append("'round' needs a 'round_step'")
    if f.round_step is not None and not transforms & {Transform.ROUND, Transform.AGGREGATE_15MIN}:
        found.append("'round_step' is allowed only with 'round' or 'aggregate_15min'")
    if (Transform.SCRUB_STACK in transforms) != (f.max_bytes is not None):
        found.append("'max_bytes' is required with 'scrub_stack' and allowed only there")
    if f.clear_text_subtoggle and Transform.HMAC_INSTALL_SECRET not in transforms:
        found.append("'clear_text_subtoggle' only makes sense for a pseudonymised field")
    for name in (f.clear_text_subtoggle, f.requires_subtoggle):
        if name and not any(name in {s.id for s in PURPOSES[p].subtoggles} for p in f.purposes):
            found.append(f"sub-toggle {name!r} is not declared by any of its purposes")
    if f.carrier is Carrier.CONNECTION and transforms != {Transform.SERVER_TRUNCATES}:
        found.append("a connection-carried field can only be 'server_truncates'")
    return found


def _cross_checks(fields: Mapping[FieldId, InventoryField]) -> list[str]:
    """Rules about the inventory as a whole."""
    found: list[str] = []
    for purpose, info in PURPOSES.items():
        if info.kind is PurposeKind.LOCAL:
            continue
        declared = [f for f in fields.values() if purpose in f.purposes]
        if not declared:
            found.append(f"purpose '{purpose}' has no fields")
        if info.org_grantable and not any(f.org_grantable for f in declared):
            found.append(f"purpose '{purpose}' is org-grantable but none of its fields is")
        used = {n for f in declared for n in (f.clear_text_subtoggle, f.requires_subtoggle)}
        for sub in info.subtoggles:
            if sub.id not in used:
                found.append(f"purpose '{purpose}' declares sub-toggle {sub.id!r} no field uses")
    return found
