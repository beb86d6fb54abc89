"""The generated envelope schemas and the payload schema shipped in resources/."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from upsight.agent.privacy import schemas
from upsight.agent.privacy.builder import FIELD_SOURCES
from upsight.agent.privacy.inventory import (
    Inventory,
    InventoryError,
    field_id,
    load_inventory,
    parse_inventory,
)
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.schemas import (
    ENVELOPE_PURPOSES,
    PAYLOAD_RESOURCE,
    REGENERATE,
    payload_schema,
    payload_validator,
    purpose_schema,
    render_payload_schema,
    validator,
)

HEADER = {
    "schema",
    "envelope_id",
    "purpose",
    "consent_epoch",
    "notice_version",
    "prompt_version",
    "inventory_version",
    "created_at",
    "client",
    "data",
}
INVENTORY_TEXT = (resources.files("upsight.resources") / "inventory.toml").read_text("utf-8")
NEW_FIELD = """
[fields."ups.beeper"]
description = "Whether the UPS beeper is enabled."
category = "technical"
purposes = ["cloud_alerts"]
upload_transform = "enum"
local_retention_days = 90
owner = "device-team@example.invalid"
data_review = "https://review.example.invalid/PRIV-99"
expires = 2028-01-01
org_grantable = true
free_text = false
"""


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory()


@pytest.fixture(scope="module")
def raw_fields() -> dict[str, Any]:
    fields: dict[str, Any] = tomllib.loads(INVENTORY_TEXT)["fields"]
    return fields


def objects(schema: object, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object-typed subschema, with where it sits."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield path, schema
        for key, value in schema.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from objects(value, f"{path}/{index}")


def expected_fields(raw: dict[str, Any], purpose: Purpose) -> set[str]:
    """The envelope fields of ``purpose``, read from the TOML itself rather than the loader."""
    names = set()
    for name, entry in raw.items():
        transform = entry["upload_transform"]
        if isinstance(transform, dict):
            transform = transform.get(str(purpose))
        if (
            str(purpose) in entry["purposes"]
            and entry.get("carrier", "envelope") == "envelope"
            and transform != "sign_in_request_only"
        ):
            names.add(name)
    return names


def test_the_shipped_payload_schema_is_the_generated_one(inventory: Inventory) -> None:
    shipped = (resources.files("upsight.resources") / PAYLOAD_RESOURCE).read_text("utf-8")
    assert shipped == render_payload_schema(inventory), (
        f"resources/{PAYLOAD_RESOURCE} is out of date; regenerate it with: {REGENERATE}"
    )


def test_the_module_prints_the_payload_schema(inventory: Inventory) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "upsight.agent.privacy.schemas"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    assert done.stdout == render_payload_schema(inventory)


def test_the_rendering_is_indented_sorted_and_ends_with_a_newline(inventory: Inventory) -> None:
    text = render_payload_schema(inventory)
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("purpose", ENVELOPE_PURPOSES)
def test_each_purpose_schema_is_a_valid_draft_2020_12_schema(
    purpose: Purpose, inventory: Inventory
) -> None:
    schema = purpose_schema(purpose, inventory)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("purpose", ENVELOPE_PURPOSES)
def test_the_header_keys_are_exact(purpose: Purpose, inventory: Inventory) -> None:
    schema = purpose_schema(purpose, inventory)
    assert set(schema["properties"]) == HEADER
    assert set(schema["required"]) == HEADER
    assert schema["additionalProperties"] is False
    assert schema["properties"]["purpose"] == {"const": str(purpose)}


@pytest.mark.parametrize("purpose", ENVELOPE_PURPOSES)
def test_every_object_level_forbids_additional_properties(
    purpose: Purpose, inventory: Inventory
) -> None:
    found = list(objects(purpose_schema(purpose, inventory)))
    assert len(found) >= 3  # the envelope, client and data at least
    assert [path for path, node in found if node.get("additionalProperties") is not False] == []


@pytest.mark.parametrize("purpose", ENVELOPE_PURPOSES)
def test_client_and_data_hold_exactly_the_purposes_fields(
    purpose: Purpose, inventory: Inventory, raw_fields: dict[str, Any]
) -> None:
    properties = purpose_schema(purpose, inventory)["properties"]
    client = set(properties["client"]["properties"])
    data = set(properties["data"]["properties"])
    assert client | data == expected_fields(raw_fields, purpose)
    assert all(name.startswith("client.") for name in client)
    assert not any(name.startswith("client.") for name in data)


def test_the_account_envelope_carries_client_fields_only(inventory: Inventory) -> None:
    properties = purpose_schema(Purpose.ACCOUNT, inventory)["properties"]
    assert properties["data"]["properties"] == {}
    assert "client.install_id" in properties["client"]["properties"]


def test_control_envelopes_carry_epoch_zero_and_no_connection_field(
    inventory: Inventory,
) -> None:
    properties = purpose_schema(Purpose.CONTROL, inventory)["properties"]
    assert properties["consent_epoch"] == {"const": 0}
    assert set(properties["client"]["properties"]) == {"client.install_id"}
    assert "connection.ip_address" not in json.dumps(properties)


def test_field_schemas_come_from_the_builder_table_with_the_inventory_description(
    inventory: Inventory,
) -> None:
    data = purpose_schema(Purpose.CLOUD_ALERTS, inventory)["properties"]["data"]["properties"]
    charge = data["ups.battery.charge_pct"]
    assert charge["description"] == "Battery charge in percent."
    assert {k: v for k, v in charge.items() if k != "description"} == dict(
        FIELD_SOURCES[field_id("ups.battery.charge_pct")].schema
    )


def test_aggregated_fields_are_series_of_buckets_with_the_value_schema(
    inventory: Inventory,
) -> None:
    data = purpose_schema(Purpose.ENERGY_HISTORY, inventory)["properties"]["data"]["properties"]
    charge = data["ups.battery.charge_pct"]
    assert charge["type"] == "array"
    bucket = charge["items"]
    assert set(bucket["required"]) == {"t", "min", "avg", "max"}
    assert bucket["properties"]["t"]["multipleOf"] == 900
    assert bucket["properties"]["max"] == {"type": "number", "minimum": 0, "maximum": 100}


def test_local_has_no_envelope_schema(inventory: Inventory) -> None:
    with pytest.raises(ValueError, match="never uploaded"):
        purpose_schema(Purpose.LOCAL, inventory)


def test_a_declared_field_without_a_source_stops_schema_generation() -> None:
    grown = parse_inventory(INVENTORY_TEXT + NEW_FIELD, "grown.toml")
    with pytest.raises(InventoryError, match=r"'ups\.beeper' has no source"):
        purpose_schema(Purpose.CLOUD_ALERTS, grown)
    with pytest.raises(InventoryError, match=r"'ups\.beeper' has no source"):
        payload_schema(grown)
    # Purposes that do not carry the field are unaffected.
    assert purpose_schema(Purpose.DIAGNOSTICS, grown)["properties"]["purpose"]["const"] == (
        "diagnostics"
    )


def test_an_aggregated_field_without_a_series_source_stops_schema_generation() -> None:
    text = INVENTORY_TEXT.replace(
        'description = "UPS model name as the device reports it."\n'
        'category = "technical"\n'
        'purposes = ["cloud_alerts", "device_registration", "energy_history"]\n'
        'upload_transform = "as_is"',
        'description = "UPS model name as the device reports it."\n'
        'category = "technical"\n'
        'purposes = ["cloud_alerts", "device_registration", "energy_history"]\n'
        'upload_transform = { cloud_alerts = "as_is", device_registration = "as_is", '
        'energy_history = "aggregate_15min" }',
    )
    assert text != INVENTORY_TEXT
    changed = parse_inventory(text, "changed.toml")
    with pytest.raises(InventoryError, match=r"'ups\.model' is aggregated for energy_history"):
        purpose_schema(Purpose.ENERGY_HISTORY, changed)
    assert "ups.model" in json.dumps(purpose_schema(Purpose.CLOUD_ALERTS, changed))


def test_the_payload_schema_describes_itself_and_picks_a_definition_by_purpose(
    inventory: Inventory,
) -> None:
    document = payload_schema(inventory)
    Draft202012Validator.check_schema(document)
    assert document["$id"].startswith("https://")
    assert document["title"]
    assert "purpose" in document["description"]
    assert set(document["$defs"]) == {str(p) for p in (*UPLOAD_PURPOSES, Purpose.CONTROL)}
    assert document["oneOf"] == [{"$ref": f"#/$defs/{p}"} for p in ENVELOPE_PURPOSES]
    for name, definition in document["$defs"].items():
        assert definition["properties"]["purpose"] == {"const": name}
        assert "$schema" not in definition


def minimal(purpose: Purpose, **data: object) -> dict[str, Any]:
    return {
        "schema": "upsight.envelope/1",
        "envelope_id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
        "purpose": str(purpose),
        "consent_epoch": 0,
        "notice_version": "2026-09-01",
        "prompt_version": 1,
        "inventory_version": 1,
        "created_at": "2026-09-02T10:15:03Z",
        "client": {},
        "data": data,
    }


def test_the_payload_schema_accepts_a_field_only_under_its_own_purpose(
    inventory: Inventory,
) -> None:
    check = payload_validator(inventory)
    serial = {"ups.serial": "ab" * 32}
    assert check.is_valid(minimal(Purpose.DEVICE_REGISTRATION, **serial))
    assert not check.is_valid(minimal(Purpose.CLOUD_ALERTS, **serial))
    assert not check.is_valid(minimal(Purpose.LOCAL))
    assert not check.is_valid({**minimal(Purpose.CLOUD_ALERTS), "extra": 1})


def test_header_values_are_checked(inventory: Inventory) -> None:
    check = validator(Purpose.CLOUD_ALERTS, inventory)
    assert check.is_valid(minimal(Purpose.CLOUD_ALERTS))
    bad: list[tuple[str, Any]] = [
        ("envelope_id", "not-a-uuid"),
        ("created_at", "2026-09-02 10:15:03"),
        ("inventory_version", inventory.version + 1),
        ("consent_epoch", -1),
        ("schema", "upsight.envelope/2"),
    ]
    for key, value in bad:
        assert not check.is_valid({**minimal(Purpose.CLOUD_ALERTS), key: value}), key
    control = validator(Purpose.CONTROL, inventory)
    assert not control.is_valid({**minimal(Purpose.CONTROL), "consent_epoch": 1})


def test_validators_are_made_once_per_purpose_and_inventory(inventory: Inventory) -> None:
    assert validator(Purpose.CLOUD_ALERTS, inventory) is validator(Purpose.CLOUD_ALERTS, inventory)
    assert validator(Purpose.CLOUD_ALERTS, inventory) is not validator(
        Purpose.ENERGY_HISTORY, inventory
    )
    assert payload_validator(inventory) is payload_validator(inventory)
    edited = parse_inventory(INVENTORY_TEXT.replace("Battery charge in percent.", "Charge."))
    assert edited.version == inventory.version
    assert validator(Purpose.CLOUD_ALERTS, edited) is not validator(Purpose.CLOUD_ALERTS, inventory)
    schema = validator(Purpose.CLOUD_ALERTS, edited).schema
    assert isinstance(schema, Mapping)
    charge = schema["properties"]["data"]["properties"]["ups.battery.charge_pct"]
    assert charge["description"] == "Charge."


def test_generating_does_not_alter_the_builder_table(inventory: Inventory) -> None:
    before = json.dumps({k: dict(v.schema) for k, v in FIELD_SOURCES.items()}, sort_keys=True)
    schema = purpose_schema(Purpose.ENERGY_HISTORY, inventory)
    schema["properties"]["data"]["properties"]["ups.battery.charge_pct"]["items"]["properties"][
        "max"
    ]["maximum"] = 5
    schemas.purpose_schema(Purpose.CLOUD_ALERTS, inventory)
    after = json.dumps({k: dict(v.schema) for k, v in FIELD_SOURCES.items()}, sort_keys=True)
    assert after == before
