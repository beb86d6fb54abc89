"""JSON Schemas of envelopes, generated per purpose from the inventory and the builder's table.

``resources/payload.schema.json`` is :func:`payload_schema` written out, for a cloud
service or an organisation's own collector to validate what it receives. Regenerate it
after any inventory or table change::

    python -m upsight.agent.privacy.schemas > resources/payload.schema.json
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from upsight.agent.privacy.builder import (
    BUCKET_START,
    CLIENT_PREFIX,
    CONTROL_EPOCH,
    UTC_SECONDS,
    envelope_fields,
    source_of,
)
from upsight.agent.privacy.envelope import ENVELOPE_SCHEMA
from upsight.agent.privacy.inventory import Inventory, Transform, load_inventory
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose, PurposeKind

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
PAYLOAD_RESOURCE: Final = "payload.schema.json"
"""The payload schema's file name in ``upsight.resources``."""
REGENERATE: Final = "python -m upsight.agent.privacy.schemas > resources/payload.schema.json"
"""The command that rewrites the payload schema file."""

ENVELOPE_PURPOSES: Final[tuple[Purpose, ...]] = (*UPLOAD_PURPOSES, Purpose.CONTROL)
"""Every purpose an envelope can be made for, in the order the payload schema lists them."""

_ANY_UUID: Final = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_STATS: Final = ("min", "avg", "max")

_cache: dict[tuple[str, int, str], Validator] = {}
_cache_lock = threading.Lock()


def _plain(value: object) -> Any:
    """A deep copy as plain dicts and lists, so the table's shared schemas stay untouched."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _series(stat: Mapping[str, Any]) -> dict[str, Any]:
    """An ``aggregate_15min`` value: 15-minute buckets whose min/avg/max follow ``stat``."""
    bucket = {"t": _plain(BUCKET_START)} | {name: _plain(stat) for name in _STATS}
    return {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": bucket,
            "required": list(bucket),
            "additionalProperties": False,
        },
    }


def _section(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "additionalProperties": False}


def purpose_schema(purpose: Purpose, inventory: Inventory) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of one purpose's envelope.

    The header keys are exact, every object forbids additional properties, and
    ``client`` / ``data`` hold exactly the fields the purpose may carry, each with its
    value schema from the builder's table.

    Raises:
        ValueError: ``purpose`` is ``local``, which is never uploaded.
        InventoryError: A field of the purpose has no source in the builder's table.
    """
    info = PURPOSES[purpose]
    if info.kind is PurposeKind.LOCAL:
        raise ValueError(f"{purpose} is never uploaded, so it has no envelope schema")
    client: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for item in envelope_fields(purpose, inventory):
        source = source_of(item, purpose, inventory)
        value = _plain(source.schema)
        if item.transform_for(purpose) is Transform.AGGREGATE_15MIN:
            value = _series(value)
        target = client if item.id.startswith(CLIENT_PREFIX) else data
        target[item.id] = {"description": item.description, **value}
    epoch: dict[str, Any] = (
        {"const": CONTROL_EPOCH}
        if info.kind is PurposeKind.CONTROL
        else {"type": "integer", "minimum": 0}
    )
    header: dict[str, Any] = {
        "schema": {"const": ENVELOPE_SCHEMA},
        "envelope_id": {"type": "string", "pattern": _ANY_UUID},
        "purpose": {"const": str(purpose)},
        "consent_epoch": epoch,
        "notice_version": {"type": "string", "minLength": 1, "maxLength": 64},
        "prompt_version": {"type": "integer", "minimum": 1},
        "inventory_version": {"type": "integer", "minimum": 1, "maximum": inventory.version},
        "created_at": _plain(UTC_SECONDS),
        "client": _section(client),
        "data": _section(data),
    }
    return {
        "$schema": DIALECT,
        "title": f"Upsight {purpose} envelope",
        "description": f"{info.name}: {info.why}",
        "type": "object",
        "properties": header,
        "required": list(header),
        "additionalProperties": False,
    }


def payload_schema(inventory: Inventory) -> dict[str, Any]:
    """One schema for every envelope: a definition per purpose, chosen by ``purpose``.

    Raises:
        InventoryError: A field has no source in the builder's table.
    """
    definitions: dict[str, Any] = {}
    for purpose in ENVELOPE_PURPOSES:
        schema = purpose_schema(purpose, inventory)
        del schema["$schema"]
        definitions[str(purpose)] = schema
    return {
        "$schema": DIALECT,
        "$id": f"https://upsight.example/schemas/payload/inventory-{inventory.version}.json",
        "title": "Upsight upload envelope",
        "description": (
            f"Every envelope Upsight can upload under data inventory version "
            f"{inventory.version}: one definition per purpose, selected by the 'purpose' "
            "key. Each lists exactly the fields that purpose may carry and forbids any "
            "other key at every level, so an undeclared field fails validation. "
            "Fields may be absent: a value Upsight does not have is left out, never zero."
        ),
        "$defs": definitions,
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in definitions],
    }


def render_payload_schema(inventory: Inventory) -> str:
    """The payload schema as stored in ``resources/``: indented, sorted keys, final newline."""
    return (
        json.dumps(payload_schema(inventory), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def _compiled(key: tuple[str, int, str], schema: Callable[[], dict[str, Any]]) -> Validator:
    # Keyed by the digest as well as the version, so an edited but unbumped inventory
    # (as in tests and during development) never meets a stale schema.
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = Draft202012Validator(schema())
        return found


def validator(purpose: Purpose, inventory: Inventory) -> Validator:
    """A validator of ``purpose``'s envelopes, made once per purpose and inventory.

    Raises:
        InventoryError: A field of the purpose has no source in the builder's table.
    """
    key = (str(purpose), inventory.version, inventory.digest)
    return _compiled(key, lambda: purpose_schema(purpose, inventory))


def payload_validator(inventory: Inventory) -> Validator:
    """A validator of any envelope against the payload schema, made once per inventory."""
    return _compiled(("", inventory.version, inventory.digest), lambda: payload_schema(inventory))


if __name__ == "__main__":
    sys.stdout.write(render_payload_schema(load_inventory()))
