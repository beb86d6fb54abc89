"""privacy-lint: the data inventory's rules, and every field named in code is declared in it.

Fields are named in code only as ``field_id("ups.model")`` with a string literal (or
taken from a loaded Inventory); envelope payloads are keyed by ``FieldId`` so mypy
rejects plain strings. The scan below checks every such literal in agent/, drivers/
and gui/ against resources/inventory.toml.
"""

from __future__ import annotations

import ast
import copy
import datetime
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from upsight.agent.privacy.inventory import (
    NEVER_COLLECT,
    REQUIRED_KEYS,
    Carrier,
    Category,
    Inventory,
    InventoryError,
    Retention,
    Transform,
    field_id,
    load_inventory,
    never_collect_match,
    parse_inventory,
)
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose, PurposeKind

ROOT = Path(__file__).resolve().parents[2]
INVENTORY_FILE = ROOT / "resources" / "inventory.toml"
SCANNED_LAYERS = ("agent", "drivers", "gui")
# The loader is the one place that turns file content into FieldId values.
FIELD_ID_FACTORY = ROOT / "agent" / "privacy" / "inventory.py"

RECORDED_DIGESTS: dict[int, str] = {
    1: "eb3cfc6d6312cfb0aa6cacb03e571c934949a7a2c4dc8ea44b56718decda056d",
}
"""The content digest of every inventory_version ever released. A change to the fields
must come with a new version and a new line here, which the PR's privacy review sees."""

REVIEWED_FREE_TEXT = {"device.label", "loc.region", "account.name"}
"""Fields a person types. Each was reviewed for being uploaded as typed; a new one fails
the lint until it is reviewed and listed here."""

SPEC_FIELDS = {
    "client.agent_version": UPLOAD_PURPOSES,
    "client.os_family": UPLOAD_PURPOSES,
    "client.os_version": UPLOAD_PURPOSES,
    "client.locale": UPLOAD_PURPOSES,
    "client.tz_offset": ["cloud_alerts", "energy_history"],
    "client.install_id": [*UPLOAD_PURPOSES, "control"],
    "ups.model": ["cloud_alerts", "device_registration", "energy_history"],
    "ups.firmware": ["cloud_alerts", "device_registration", "energy_history"],
    "ups.serial": ["device_registration"],
    "nmc.mac": ["device_registration"],
    "ups.connection": ["cloud_alerts"],
    "ups.status": ["cloud_alerts", "energy_history"],
    "ups.event": ["cloud_alerts"],
    "ups.battery.charge_pct": ["cloud_alerts", "energy_history"],
    "ups.battery.runtime_s": ["cloud_alerts", "energy_history"],
    "ups.battery.voltage": ["cloud_alerts", "energy_history"],
    "ups.battery.replace_flag": ["cloud_alerts", "energy_history"],
    "ups.input.voltage": ["cloud_alerts", "energy_history"],
    "ups.input.frequency": ["cloud_alerts", "energy_history"],
    "ups.output.voltage": ["cloud_alerts", "energy_history"],
    "ups.output.load_pct": ["cloud_alerts", "energy_history"],
    "ups.output.power_w": ["cloud_alerts", "energy_history"],
    "ups.temperature_c": ["cloud_alerts", "energy_history"],
    "energy.kwh": ["energy_history"],
    "config.shutdown_thresholds": ["diagnostics", "usage_analytics"],
    "device.label": ["cloud_alerts"],
    "usage.app_opens": ["usage_analytics"],
    "usage.feature_counts": ["usage_analytics"],
    "usage.active_time_s": ["usage_analytics"],
    "diag.crash": ["diagnostics"],
    "diag.error_codes": ["diagnostics"],
    "loc.region": ["location"],
    "loc.wifi_ssid": ["location"],
    "loc.gps": ["location"],
    "account.email": ["account"],
    "account.name": ["account"],
    "account.phone": ["account"],
    "connection.ip_address": [*UPLOAD_PURPOSES, "control"],
    "host.hostname": ["cloud_alerts"],
}  # fmt: skip
"""privacy-design.md section 4.2, one id per field, with its purposes."""


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return tomllib.loads(INVENTORY_FILE.read_text(encoding="utf-8"))


# --- The shipped file --------------------------------------------------------------


def test_the_shipped_inventory_loads_without_problems(inventory: Inventory) -> None:
    assert inventory.fields
    assert load_inventory(INVENTORY_FILE).digest == inventory.digest


def test_every_field_states_every_required_key(raw: dict[str, Any]) -> None:
    missing = {
        name: sorted(REQUIRED_KEYS - entry.keys())
        for name, entry in raw["fields"].items()
        if REQUIRED_KEYS - entry.keys()
    }
    assert missing == {}


def test_categories_and_purposes_are_from_the_vocabulary(raw: dict[str, Any]) -> None:
    choices = {str(p) for p in PURPOSES if PURPOSES[p].kind is not PurposeKind.LOCAL}
    for name, entry in raw["fields"].items():
        assert entry["category"] in {str(c) for c in Category}, name
        assert set(entry["purposes"]) <= choices, name


def test_no_field_has_expired(inventory: Inventory) -> None:
    today = datetime.date.today()
    expired = {f.id: f.expires.isoformat() for f in inventory.fields.values() if f.expires <= today}
    assert expired == {}, "review these fields again (new expires) or remove them"


def test_highly_sensitive_fields_are_never_org_grantable(inventory: Inventory) -> None:
    offenders = [
        f.id
        for f in inventory.fields.values()
        if f.category is Category.HIGHLY_SENSITIVE and f.org_grantable
    ]
    assert offenders == []


def test_free_text_fields_are_flagged_for_review(inventory: Inventory) -> None:
    free_text = {f.id for f in inventory.fields.values() if f.free_text}
    assert free_text == REVIEWED_FREE_TEXT
    for name in free_text:
        field = inventory.fields[field_id(name)]
        assert field.category in (Category.STORED_CONTENT, Category.HIGHLY_SENSITIVE), name
        assert not field.org_grantable, name


def test_any_change_to_the_fields_bumps_the_version(inventory: Inventory) -> None:
    latest = max(RECORDED_DIGESTS)
    recorded = RECORDED_DIGESTS.get(inventory.version)
    hint = (
        f"resources/inventory.toml changed: set inventory_version = {latest + 1} and add "
        f"{latest + 1}: {inventory.digest!r} to RECORDED_DIGESTS (the PR needs privacy review)"
    )
    assert recorded == inventory.digest, hint
    assert inventory.version == latest, "inventory_version may only go up"


def test_the_digest_ignores_formatting_but_not_content(raw: dict[str, Any]) -> None:
    reformatted = parse_inventory(tomli_w.dumps(raw))
    assert reformatted.digest == load_inventory().digest
    changed = copy.deepcopy(raw)
    changed["fields"]["ups.model"]["description"] = "Something else."
    assert parse_inventory(tomli_w.dumps(changed)).digest != reformatted.digest


def test_every_spec_field_is_declared_for_its_purposes(inventory: Inventory) -> None:
    for name, purposes in SPEC_FIELDS.items():
        field = inventory.fields.get(field_id(name))
        assert field is not None, f"{name} (section 4.2) is not declared"
        assert set(field.purposes) == {Purpose(p) for p in purposes}, name


def test_spec_transforms_and_subtoggles(inventory: Inventory) -> None:
    def get(name: str) -> Any:
        return inventory.fields[field_id(name)]

    serial = get("ups.serial")
    assert serial.transform_for(Purpose.DEVICE_REGISTRATION) is Transform.HMAC_INSTALL_SECRET
    assert serial.clear_text_subtoggle == "send_serial_clear"
    assert serial.local_retention_days is Retention.WHILE_DEVICE_PRESENT
    assert get("nmc.mac").clear_text_subtoggle is None
    assert get("loc.wifi_ssid").clear_text_subtoggle == "send_ssid_clear"
    assert get("host.hostname").requires_subtoggle == "use_hostname_as_label"
    assert get("loc.gps").round_step == 0.1
    voltage = get("ups.input.voltage")
    assert voltage.transform_for(Purpose.CLOUD_ALERTS) is Transform.AS_IS
    assert voltage.transform_for(Purpose.ENERGY_HISTORY) is Transform.AGGREGATE_15MIN
    assert (voltage.local_retention_days, voltage.aggregate_retention_days) == (90, 730)
    assert get("diag.crash").max_bytes == 65536
    assert get("connection.ip_address").carrier is Carrier.CONNECTION


def test_no_declared_field_is_never_collected_data(inventory: Inventory) -> None:
    assert [f.id for f in inventory.fields.values() if never_collect_match(f.id)] == []


def test_every_upload_purpose_has_fields_and_envelopes_skip_the_connection(
    inventory: Inventory,
) -> None:
    for purpose in UPLOAD_PURPOSES:
        envelope = {f.id for f in inventory.fields_for(purpose)}
        disclosed = {f.id for f in inventory.disclosed_for(purpose)}
        assert envelope
        assert disclosed - envelope == {"connection.ip_address"}
    assert inventory.fields_for(Purpose.LOCAL) == ()
    assert inventory.subtoggles_for(Purpose.DEVICE_REGISTRATION) == {"send_serial_clear"}


# --- The loader rejects a bad inventory -------------------------------------------


def mutated(raw: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> str:
    table = copy.deepcopy(raw)
    change(table)
    return tomli_w.dumps(table)


def set_key(name: str, key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda t: t["fields"][name].__setitem__(key, value)


def drop_key(name: str, key: str) -> Callable[[dict[str, Any]], object]:
    return lambda t: t["fields"][name].pop(key)


def add_field(name: str, **overrides: object) -> Callable[[dict[str, Any]], object]:
    def change(table: dict[str, Any]) -> None:
        entry = copy.deepcopy(table["fields"]["ups.model"])
        entry.update(overrides)
        table["fields"][name] = entry

    return change


def without_diagnostics(table: dict[str, Any]) -> None:
    for name in ("diag.crash", "diag.error_codes", "config.shutdown_thresholds"):
        table["fields"][name]["purposes"] = ["usage_analytics"]
        table["fields"][name]["upload_transform"] = "daily_counters"
        table["fields"][name].pop("max_bytes", None)
    for name in ("client.agent_version", "client.os_family", "client.os_version"):
        table["fields"][name]["purposes"].remove("diagnostics")
    for name in ("client.locale", "client.install_id", "connection.ip_address"):
        table["fields"][name]["purposes"].remove("diagnostics")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (drop_key("ups.model", "owner"), "field 'ups.model': missing required key 'owner'"),
        (drop_key("ups.serial", "org_grantable"), "missing required key 'org_grantable'"),
        (set_key("ups.model", "category", "secret"), "'category' = 'secret' is not one of"),
        (set_key("ups.model", "purposes", ["marketing"]), "'purposes' = 'marketing'"),
        (set_key("ups.model", "purposes", ["local"]), "cannot list 'local'"),
        (set_key("ups.model", "purposes", ["cloud_alerts"] * 2), "lists cloud_alerts twice"),
        (set_key("ups.serial", "org_grantable", True), "highly_sensitive field cannot be org"),
        (set_key("ups.model", "free_text", True), "free text must be stored_content"),
        (set_key("device.label", "org_grantable", True), "free text cannot be org_grantable"),
        (set_key("diag.crash", "org_grantable", True), "none of its purposes is"),
        (set_key("ups.model", "upload_transform", "base64"), "'upload_transform' = 'base64'"),
        (
            set_key("ups.model", "upload_transform", {"cloud_alerts": "as_is"}),
            "exactly one entry per purpose",
        ),
        (drop_key("loc.gps", "round_step"), "'round' needs a 'round_step'"),
        (set_key("ups.model", "round_step", 5), "allowed only with 'round'"),
        (set_key("ups.model", "clear_text_subtoggle", "x"), "only makes sense for a pseudonym"),
        (set_key("ups.serial", "clear_text_subtoggle", "send_all"), "'send_all' is not declared"),
        (set_key("ups.model", "local_retention_days", -1), "'local_retention_days' must be"),
        (set_key("ups.model", "local_retention_days", "forever"), "'forever' is not one of"),
        (set_key("ups.model", "expires", "soon"), "'expires' must be a TOML date"),
        (set_key("ups.model", "owner", "nobody"), "'owner' must be an email"),
        (set_key("ups.model", "data_review", "PRIV-1"), "'data_review' must be an https://"),
        (set_key("ups.model", "colour", "blue"), "unknown key 'colour'"),
        (set_key("ups.model", "carrier", "connection"), "can only be 'server_truncates'"),
        (add_field("UPS.Model"), "lower-case dotted words"),
        (add_field("snmp.community_string"), "SNMP community strings"),
        (add_field("host.home_dir"), "file paths"),
        (add_field("diag.env_vars"), "environment variables"),
        (add_field("host.ip_local"), "network interfaces"),
        (lambda t: t.pop("inventory_version"), "'inventory_version' must be a positive"),
        (lambda t: t.__setitem__("inventory_version", 0), "must be a positive integer"),
        (lambda t: t.__setitem__("extra", 1), "unknown top-level key 'extra'"),
        (without_diagnostics, "purpose 'diagnostics' has no fields"),
        (lambda t: t["fields"].pop("host.hostname"), "declares sub-toggle"),
    ],
)
def test_the_loader_names_each_problem(
    raw: dict[str, Any], change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(mutated(raw, change), "test.toml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("test.toml: data inventory rejected")


def test_problems_are_all_listed_at_once(raw: dict[str, Any]) -> None:
    def two(table: dict[str, Any]) -> None:
        del table["fields"]["ups.model"]["owner"]
        table["fields"]["ups.serial"]["org_grantable"] = True

    with pytest.raises(InventoryError) as caught:
        parse_inventory(mutated(raw, two))
    assert len(caught.value.problems) == 2


def test_unparsable_or_missing_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not valid TOML"):
        parse_inventory("fields = [", "bad.toml")
    with pytest.raises(InventoryError, match="cannot be read"):
        load_inventory(tmp_path / "absent.toml")


def test_an_undeclared_field_cannot_be_looked_up(inventory: Inventory) -> None:
    with pytest.raises(InventoryError, match=r"'ups\.colour' is not declared"):
        inventory.field(field_id("ups.colour"))


def test_field_id_refuses_malformed_and_never_collected_names() -> None:
    assert field_id("ups.model") == "ups.model"
    with pytest.raises(ValueError, match="not a field id"):
        field_id("model")
    for item in NEVER_COLLECT:
        with pytest.raises(ValueError, match="never collects"):
            field_id(item.id)


# --- Fields named in code are declared ----------------------------------------------


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def _callee(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def field_violations(path: Path, declared: set[str], *, factory: bool = False) -> list[Violation]:
    """Problems with how ``path`` names fields; ``factory`` exempts the inventory loader."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Violation] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        problem = None
        if callee == "cast" and node.args and "FieldId" in ast.unparse(node.args[0]):
            problem = "cast to FieldId; use field_id()"
        elif callee == "FieldId" and not factory:
            problem = "FieldId() outside the loader; use field_id()"
        elif callee == "field_id" and not factory:
            literal = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if not (isinstance(literal, ast.Constant) and isinstance(literal.value, str)):
                problem = "field_id() needs one string literal"
            elif literal.value not in declared:
                problem = f"field {literal.value!r} is not declared in resources/inventory.toml"
        if problem:
            found.append(Violation(path, node.lineno, problem))
    return found


def test_every_field_named_in_code_is_declared(inventory: Inventory) -> None:
    declared = {str(name) for name in inventory.fields}
    found: list[str] = []
    for layer in SCANNED_LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            factory = path == FIELD_ID_FACTORY
            found.extend(str(v) for v in field_violations(path, declared, factory=factory))
    assert found == []


def test_the_scan_catches_each_kind_of_violation(tmp_path: Path) -> None:
    source = tmp_path / "envelope.py"
    source.write_text(
        "from typing import cast\n"
        "from upsight.agent.privacy.inventory import FieldId, field_id\n"
        "ok = field_id('ups.model')\n"
        "undeclared = field_id('ups.colour')\n"
        "name = 'ups.model'\n"
        "dynamic = field_id(name)\n"
        "forged = FieldId('ups.serial')\n"
        "sneaky = cast(FieldId, 'ups.serial')\n"
        "also = inventory.field_id('host.user_name')\n",
        encoding="utf-8",
    )
    problems = [(v.line, v.problem) for v in field_violations(source, {"ups.model"})]
    assert problems == [
        (4, "field 'ups.colour' is not declared in resources/inventory.toml"),
        (6, "field_id() needs one string literal"),
        (7, "FieldId() outside the loader; use field_id()"),
        (8, "cast to FieldId; use field_id()"),
        (9, "field 'host.user_name' is not declared in resources/inventory.toml"),
    ]
