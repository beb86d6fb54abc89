"""Admin policy: locations per OS, per-key validation, merging and precedence (§9)."""

from __future__ import annotations

import json
import plistlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from upsight.agent.privacy.admin_policy import (
    Carrier,
    EffectivePolicy,
    Level,
    PolicyDocument,
    Scope,
    load_policy,
    policy_locations,
    resolve,
    validate_file,
)
from upsight.agent.privacy.effective import (
    PolicyDecision,
    Source,
    Stored,
    effective_state,
)
from upsight.agent.privacy.purposes import ORG_GRANTABLE, USER_ONLY

D = PolicyDecision
ALL_PURPOSES = sorted(ORG_GRANTABLE | USER_ONLY)

# The example of privacy-design.md §9.2.
SPEC_EXAMPLE = {
    "CloudConnection": {"Value": "allowed", "Locked": True},
    "Endpoint": {"Url": "https://eu.cloud.upsight.example", "Locked": True},
    "CABundle": "C:\\ProgramData\\Corp\\corp-root.pem",
    "Proxy": "http://proxy.corp:8080",
    "Purposes": {
        "cloud_alerts": {"Value": "granted", "Status": "locked"},
        "energy_history": {"Value": "granted", "Status": "default"},
        "device_registration": {"Value": "granted", "Status": "locked", "SendSerialClear": False},
        "diagnostics": {"Value": "denied", "Status": "locked"},
        "usage_analytics": {"Value": "denied", "Status": "locked"},
        "location": {"Value": "denied", "Status": "locked"},
    },
    "ShowFirstRunPrompt": True,
    "EnrollmentToken": "tok-123",
    "LedgerRetentionDays": 30,
    "LocalRetentionDays": 90,
}


def write(root: Path, level: str, name: str, content: object) -> Path:
    """A policy file; a dict is wrapped as a version-1 document, a str written as is."""
    directory = root / "etc" / "upsight" / "policies" / level
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    text = (
        content
        if isinstance(content, str)
        else json.dumps({"schema_version": 1, "policies": content})
    )
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path) -> EffectivePolicy:
    return load_policy(root, "linux")


def decisions(policy: EffectivePolicy) -> dict[str, PolicyDecision]:
    return {p: policy.decision(p).decision for p in ALL_PURPOSES}


def problems(policy: EffectivePolicy) -> dict[str, str]:
    return {e.key: e.problem for e in policy.errors}


def only(purpose: str, decision: PolicyDecision) -> dict[str, PolicyDecision]:
    return {p: decision if p == purpose else D.NONE for p in ALL_PURPOSES}


# --- The schema -------------------------------------------------------------------------


def test_the_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    text = resources.files("upsight.resources").joinpath("policy.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"*.json"' in pyproject


def test_the_spec_example_is_clean(tmp_path: Path) -> None:
    assert validate_file(write(tmp_path, "managed", "corp.json", SPEC_EXAMPLE)) == ()


# --- Locations ----------------------------------------------------------------------------


def test_linux_locations(tmp_path: Path) -> None:
    base = tmp_path / "etc" / "upsight" / "policies"
    assert [(loc.where, loc.scope, loc.level) for loc in policy_locations("linux", tmp_path)] == [
        (str(base / "managed"), Scope.MACHINE, Level.MANDATORY),
        (str(base / "recommended"), Scope.MACHINE, Level.RECOMMENDED),
    ]
    assert policy_locations("linux")[0].where == "/etc/upsight/policies/managed"


def test_windows_locations_put_hkcu_below_machine_policy(tmp_path: Path) -> None:
    found = [(loc.carrier, loc.where, loc.scope) for loc in policy_locations("win32", tmp_path)]
    policies = tmp_path / "ProgramData" / "Upsight" / "policies"
    assert found == [
        (Carrier.REGISTRY, r"HKLM\SOFTWARE\Policies\Upsight", Scope.MACHINE),
        (Carrier.JSON_DIR, str(policies / "managed"), Scope.MACHINE),
        (Carrier.REGISTRY, r"HKCU\SOFTWARE\Policies\Upsight", Scope.USER),
        (Carrier.JSON_DIR, str(policies / "recommended"), Scope.MACHINE),
    ]


def test_no_policy_at_all(tmp_path: Path) -> None:
    policy = load(tmp_path)
    assert policy.entries == ()
    assert policy.errors == ()
    assert set(decisions(policy).values()) == {D.NONE}
    assert not policy.active
    assert len(policy.searched) == 2


def test_only_json_files_count_and_dot_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "managed", "notes.txt", "not policy")
    write(tmp_path, "managed", ".10-corp.json.swp", "{")
    write(tmp_path, "managed", ".hidden.json", "{")
    assert load(tmp_path).errors == ()


# --- A clean file ---------------------------------------------------------------------------


def test_the_spec_example_applies_with_sources_scopes_and_locks(tmp_path: Path) -> None:
    path = write(tmp_path, "managed", "10-corp.json", SPEC_EXAMPLE)
    policy = load(tmp_path)
    assert policy.errors == ()
    assert policy.active
    assert decisions(policy) == {
        "cloud_alerts": D.GRANTED_LOCKED,
        "energy_history": D.GRANTED_DEFAULT,
        "device_registration": D.GRANTED_LOCKED,
        "diagnostics": D.DENIED_LOCKED,
        "usage_analytics": D.DENIED_LOCKED,
        "location": D.DENIED_LOCKED,
        "account": D.NONE,
    }
    assert {e.name: (e.value, e.locked) for e in policy.entries} == {
        "CloudConnection": ("allowed", True),
        "Endpoint": ("https://eu.cloud.upsight.example", True),
        "CABundle": ("C:\\ProgramData\\Corp\\corp-root.pem", True),
        "Proxy": ("http://proxy.corp:8080", True),
        "Purposes.cloud_alerts": ("granted", True),
        "Purposes.device_registration": ("granted", True),
        "Purposes.device_registration.SendSerialClear": (False, True),
        "Purposes.energy_history": ("granted", False),
        "Purposes.diagnostics": ("denied", True),
        "Purposes.usage_analytics": ("denied", True),
        "Purposes.location": ("denied", True),
        "ShowFirstRunPrompt": (True, True),
        "EnrollmentToken": ("tok-123", True),
        "LedgerRetentionDays": (30, True),
        "LocalRetentionDays": (90, True),
    }
    assert {(e.source, e.scope, e.level) for e in policy.entries} == {
        (str(path), Scope.MACHINE, Level.MANDATORY)
    }
    assert [e.name for e in policy.entries][:2] == ["CloudConnection", "Endpoint"]
    assert policy.decision("cloud_alerts").source == str(path)


def test_status_defaults_to_locked_in_mandatory_and_default_in_recommended(
    tmp_path: Path,
) -> None:
    write(tmp_path, "managed", "a.json", {"Purposes": {"cloud_alerts": {"Value": "granted"}}})
    write(tmp_path, "recommended", "a.json", {"Purposes": {"energy_history": {"Value": "denied"}}})
    policy = load(tmp_path)
    assert decisions(policy)["cloud_alerts"] is D.GRANTED_LOCKED
    assert decisions(policy)["energy_history"] is D.DENIED_DEFAULT


def test_unset_leaves_the_purpose_to_the_user(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", {"Purposes": {"location": {"Value": "unset"}}})
    policy = load(tmp_path)
    assert decisions(policy) == only("location", D.NONE)
    assert policy.errors == ()


# --- Per-key validation (§9.3) -------------------------------------------------------------


def test_an_unknown_key_is_reported_and_the_rest_applies(tmp_path: Path) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {
            "Telemetry": True,
            "Purposes": {
                "cloud_alerts": {"Value": "granted", "Colour": "red"},
                "crash_dumps": {"Value": "denied"},
            },
        },
    )
    policy = load(tmp_path)
    assert set(problems(policy)) == {
        "policies.Telemetry",
        "policies.Purposes.cloud_alerts.Colour",
        "policies.Purposes.crash_dumps",
    }
    assert all("unknown key" in p for p in problems(policy).values())
    assert decisions(policy) == only("cloud_alerts", D.GRANTED_LOCKED)


def test_an_unknown_top_level_key_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", json.dumps({"schema_version": 1, "policy": {}}))
    assert set(problems(load(tmp_path))) == {"policy", "policies"}


def test_a_wrong_type_ignores_that_policy_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {
            "LedgerRetentionDays": "30",
            "ShowFirstRunPrompt": 1,
            "LocalRetentionDays": 0,
            "Proxy": "proxy.corp:8080",
            "Endpoint": {"Url": "http://insecure.example"},
            "EnrollmentToken": "tok",
            "Purposes": {"location": {"Value": "denied"}},
        },
    )
    policy = load(tmp_path)
    assert set(problems(policy)) == {
        "policies.LedgerRetentionDays",
        "policies.ShowFirstRunPrompt",
        "policies.LocalRetentionDays",
        "policies.Proxy",
        "policies.Endpoint.Url",
    }
    assert all(p.endswith("this policy is ignored") for p in problems(policy).values())
    assert [e.name for e in policy.entries] == ["Purposes.location", "EnrollmentToken"]
    assert decisions(policy) == only("location", D.DENIED_LOCKED)


@pytest.mark.parametrize(
    "cloud",
    ["blocked", {"Value": "off"}, {"Locked": True}, {"Value": "allowed", "Locked": "yes"}],
    ids=["string", "bad-value", "no-value", "bad-locked"],
)
def test_a_bad_cloud_connection_blocks_everything(tmp_path: Path, cloud: object) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {"CloudConnection": cloud, "Purposes": {"cloud_alerts": {"Value": "granted"}}},
    )
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert any(
        key.startswith("policies.CloudConnection") and "every upload purpose is off" in problem
        for key, problem in problems(policy).items()
    )


@pytest.mark.parametrize("purposes", [[], "granted", None], ids=["list", "string", "null"])
def test_a_bad_purposes_object_blocks_every_purpose(tmp_path: Path, purposes: object) -> None:
    write(tmp_path, "managed", "a.json", {"Purposes": purposes, "EnrollmentToken": "tok"})
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert set(problems(policy)) == {"policies.Purposes"}
    assert policy.entry("EnrollmentToken") is not None


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("denied", "policies.Purposes.energy_history"),
        ({"Value": "maybe"}, "policies.Purposes.energy_history.Value"),
        ({"Value": "denied", "Status": "forced"}, "policies.Purposes.energy_history.Status"),
        ({"Status": "locked"}, "policies.Purposes.energy_history.Value"),
    ],
    ids=["not-an-object", "bad-value", "bad-status", "no-value"],
)
def test_a_bad_purpose_entry_blocks_that_purpose(tmp_path: Path, setting: object, key: str) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {"Purposes": {"energy_history": setting, "cloud_alerts": {"Value": "granted"}}},
    )
    policy = load(tmp_path)
    assert decisions(policy) == {
        **only("cloud_alerts", D.GRANTED_LOCKED),
        "energy_history": D.INVALID,
    }
    assert "energy_history is blocked (fail closed)" in problems(policy)[key]


@pytest.mark.parametrize("purpose", sorted(USER_ONLY))
@pytest.mark.parametrize("status", ["locked", "default"])
def test_granting_a_user_only_purpose_is_rejected_and_blocks_it(
    tmp_path: Path, purpose: str, status: str
) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {"Purposes": {purpose: {"Value": "granted", "Status": status}}},
    )
    policy = load(tmp_path)
    assert decisions(policy) == only(purpose, D.INVALID)
    problem = problems(policy)[f"policies.Purposes.{purpose}.Value"]
    assert "'granted' is rejected" in problem
    assert "never switch it on" in problem
    assert effective_state(purpose, policy.decision(purpose).decision, Stored.GRANTED).on is False


def test_send_serial_clear_true_is_rejected_and_blocks_device_registration(tmp_path: Path) -> None:
    write(
        tmp_path,
        "managed",
        "a.json",
        {"Purposes": {"device_registration": {"Value": "granted", "SendSerialClear": True}}},
    )
    policy = load(tmp_path)
    assert decisions(policy) == only("device_registration", D.INVALID)
    problem = problems(policy)["policies.Purposes.device_registration.SendSerialClear"]
    assert "true is rejected" in problem
    assert policy.entry("Purposes.device_registration.SendSerialClear") is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"schema_version": 1, "policies": {', "is not valid JSON"),
        ('{"schema_version": 1, "policies": {}, "policies": {}}', "appears twice"),
        ("[]", "must be a JSON object"),
        (b"\xff\xfe{}", "is not UTF-8"),
    ],
    ids=["truncated", "duplicate-key", "array", "not-utf8"],
)
def test_an_unreadable_file_is_named_and_fails_closed(
    tmp_path: Path, text: str | bytes, why: str
) -> None:
    write(tmp_path, "managed", "10-good.json", {"Purposes": {"cloud_alerts": {"Value": "granted"}}})
    bad = tmp_path / "etc" / "upsight" / "policies" / "recommended" / "20-bad.json"
    bad.parent.mkdir(parents=True)
    if isinstance(text, bytes):
        bad.write_bytes(text)
    else:
        bad.write_text(text)
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert policy.decision("cloud_alerts").source == str(bad)
    [error] = policy.errors
    assert (error.source, error.key) == (str(bad), "")
    assert why in error.problem
    assert "fail closed" in error.problem


def test_a_file_that_cannot_be_read_fails_closed(tmp_path: Path) -> None:
    # A directory where a file should be: reading it fails the same way a denied read does.
    (tmp_path / "etc" / "upsight" / "policies" / "managed" / "odd.json").mkdir(parents=True)
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert "cannot be read" in policy.errors[0].problem


def test_a_file_with_a_bom_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "managed", "a.json", {"Proxy": "http://p:1"})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load(tmp_path).errors == ()


def test_schema_version(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", json.dumps({"policies": {"Proxy": "http://p:1"}}))
    policy = load(tmp_path)
    assert problems(policy) == {"schema_version": "missing; read as version 1"}
    assert policy.entry("Proxy") is not None
    write(tmp_path, "managed", "a.json", json.dumps({"schema_version": 2, "policies": {}}))
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert "whole source is ignored" in problems(policy)["schema_version"]


# --- Merging files of one level ---------------------------------------------------------------


def test_files_of_one_level_merge_with_the_most_restrictive_value(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "managed",
        "10-a.json",
        {
            "Purposes": {
                "cloud_alerts": {"Value": "granted", "Status": "locked"},
                "energy_history": {"Value": "granted", "Status": "locked"},
                "device_registration": {"Value": "denied", "Status": "default"},
                "usage_analytics": {"Value": "denied"},
            },
            "LedgerRetentionDays": 60,
            "ShowFirstRunPrompt": False,
        },
    )
    second = write(
        tmp_path,
        "managed",
        "20-b.json",
        {
            "Purposes": {
                "cloud_alerts": {"Value": "denied", "Status": "default"},
                "energy_history": {"Value": "granted", "Status": "default"},
                "device_registration": {"Value": "denied", "Status": "locked"},
            },
            "LedgerRetentionDays": 7,
            "ShowFirstRunPrompt": True,
        },
    )
    policy = load(tmp_path)
    assert policy.errors == ()
    assert decisions(policy) == {
        **only("cloud_alerts", D.DENIED_DEFAULT),
        "energy_history": D.GRANTED_DEFAULT,
        "device_registration": D.DENIED_LOCKED,
        "usage_analytics": D.DENIED_LOCKED,
    }
    assert policy.decision("cloud_alerts").source == str(second)
    ledger = policy.entry("LedgerRetentionDays")
    assert ledger is not None
    assert (ledger.value, ledger.source) == (7, str(second))
    prompt = policy.entry("ShowFirstRunPrompt")
    assert prompt is not None
    assert (prompt.value, prompt.source) == (True, str(second))
    assert policy.decision("usage_analytics").source == str(first)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("Endpoint", {"Url": "https://eu.example"}, {"Url": "https://us.example"}),
        ("Proxy", "http://a:1", "http://b:1"),
        ("CABundle", "/a.pem", "/b.pem"),
        ("EnrollmentToken", "one", "two"),
    ],
)
def test_conflicting_destinations_at_one_level_fail_closed(
    tmp_path: Path, name: str, a: object, b: object
) -> None:
    write(tmp_path, "managed", "10-a.json", {name: a})
    second = write(tmp_path, "managed", "20-b.json", {name: b})
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.INVALID}
    [error] = policy.errors
    assert (error.source, error.key) == (str(second), f"policies.{name}")
    assert "conflicts with" in error.problem


def test_agreeing_endpoints_merge_their_locks(tmp_path: Path) -> None:
    write(
        tmp_path,
        "managed",
        "10-a.json",
        {"Endpoint": {"Url": "https://x.example", "Locked": False}},
    )
    write(
        tmp_path, "managed", "20-b.json", {"Endpoint": {"Url": "https://x.example", "Locked": True}}
    )
    policy = load(tmp_path)
    endpoint = policy.entry("Endpoint")
    assert policy.errors == ()
    assert endpoint is not None
    assert endpoint.locked


# --- Precedence across levels (§9.4) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("managed", "recommended", "expected"),
    [
        (None, {"Value": "granted"}, D.GRANTED_DEFAULT),
        (None, {"Value": "denied"}, D.DENIED_DEFAULT),
        (None, {"Value": "denied", "Status": "locked"}, D.DENIED_LOCKED),
        ({"Value": "granted"}, {"Value": "denied"}, D.GRANTED_LOCKED),
        ({"Value": "granted", "Status": "default"}, {"Value": "denied"}, D.GRANTED_DEFAULT),
        ({"Value": "denied", "Status": "default"}, {"Value": "granted"}, D.DENIED_DEFAULT),
        ({"Value": "unset"}, {"Value": "granted"}, D.GRANTED_DEFAULT),
        # A block from any level wins, even over a locked grant above it.
        ({"Value": "granted"}, {"Value": "denied", "Status": "locked"}, D.DENIED_LOCKED),
        ({"Value": "denied"}, {"Value": "granted"}, D.DENIED_LOCKED),
    ],
)
def test_mandatory_over_recommended(
    tmp_path: Path,
    managed: Mapping[str, str] | None,
    recommended: Mapping[str, str],
    expected: PolicyDecision,
) -> None:
    if managed is not None:
        write(tmp_path, "managed", "a.json", {"Purposes": {"cloud_alerts": managed}})
    write(tmp_path, "recommended", "a.json", {"Purposes": {"cloud_alerts": recommended}})
    assert decisions(load(tmp_path)) == only("cloud_alerts", expected)


def test_recommended_policy_cannot_lock_a_grant(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recommended",
        "a.json",
        {"Purposes": {"cloud_alerts": {"Value": "granted", "Status": "locked"}}},
    )
    policy = load(tmp_path)
    assert decisions(policy) == only("cloud_alerts", D.GRANTED_DEFAULT)
    entry = policy.entry("Purposes.cloud_alerts")
    assert entry is not None
    assert (entry.locked, entry.level) == (False, Level.RECOMMENDED)
    assert policy.errors[0].source == str(path)
    assert "cannot lock a grant" in policy.errors[0].problem


@pytest.mark.parametrize("level", ["managed", "recommended"])
def test_cloud_connection_blocked_at_any_level_blocks_every_purpose(
    tmp_path: Path, level: str
) -> None:
    write(
        tmp_path,
        "managed",
        "10-grants.json",
        {"Purposes": {p: {"Value": "granted"} for p in ORG_GRANTABLE}},
    )
    blocker = write(tmp_path, level, "90-block.json", {"CloudConnection": {"Value": "blocked"}})
    policy = load(tmp_path)
    assert set(decisions(policy).values()) == {D.BLOCKED}
    assert policy.decision("cloud_alerts").source == str(blocker)
    cloud = policy.entry("CloudConnection")
    assert cloud is not None
    assert (cloud.value, cloud.locked) == ("blocked", True)


def test_errors_outrank_blocks(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", {"CloudConnection": {"Value": "blocked"}})
    write(tmp_path, "recommended", "b.json", "not json")
    assert set(decisions(load(tmp_path)).values()) == {D.INVALID}


def test_end_to_end_from_files_to_effective_state(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", SPEC_EXAMPLE)
    policy = load(tmp_path)

    def state(purpose: str, stored: Stored) -> tuple[bool, Source, bool]:
        result = effective_state(purpose, policy.decision(purpose).decision, stored)
        return result.on, result.source, result.prompt

    assert state("cloud_alerts", Stored.DENIED) == (True, Source.ORG_POLICY, False)
    assert state("energy_history", Stored.UNDETERMINED) == (True, Source.ORG_POLICY, True)
    assert state("energy_history", Stored.DENIED) == (False, Source.USER, False)
    assert state("location", Stored.GRANTED) == (False, Source.POLICY_BLOCK, False)
    assert state("account", Stored.UNDETERMINED) == (False, Source.DEFAULT, True)


# --- Windows: registry and ProgramData -------------------------------------------------------


class FakeRegistry:
    """Registry trees per hive, as read_windows_registry returns them."""

    def __init__(
        self, machine: Mapping[str, object] | None = None, user: Mapping[str, object] | None = None
    ) -> None:
        self.trees = {Scope.MACHINE: machine, Scope.USER: user}
        self.broken: set[Scope] = set()

    def __call__(self, scope: Scope) -> Mapping[str, object] | None:
        if scope in self.broken:
            raise PermissionError(13, "Access is denied")
        return self.trees[scope]


def load_windows(root: Path, registry: FakeRegistry) -> EffectivePolicy:
    return load_policy(root, "win32", registry)


def test_registry_values_mirror_the_schema(tmp_path: Path) -> None:
    registry = FakeRegistry(
        machine={
            "CloudConnection": {"Value": "allowed", "Locked": 1},
            "Purposes": {
                "cloud_alerts": {"Value": "granted", "Status": "locked"},
                "device_registration": {"Value": "granted", "SendSerialClear": 0},
            },
            "ShowFirstRunPrompt": 0,
            "LedgerRetentionDays": 14,
        }
    )
    policy = load_windows(tmp_path, registry)
    assert policy.errors == ()
    assert {e.name: e.value for e in policy.entries} == {
        "CloudConnection": "allowed",
        "Purposes.cloud_alerts": "granted",
        "Purposes.device_registration": "granted",
        "Purposes.device_registration.SendSerialClear": False,
        "ShowFirstRunPrompt": False,
        "LedgerRetentionDays": 14,
    }
    assert {e.source for e in policy.entries} == {r"HKLM\SOFTWARE\Policies\Upsight"}


def test_a_dword_that_is_not_a_boolean_is_a_wrong_type(tmp_path: Path) -> None:
    policy = load_windows(tmp_path, FakeRegistry(machine={"ShowFirstRunPrompt": 2}))
    assert set(problems(policy)) == {"policies.ShowFirstRunPrompt"}


def test_hkcu_may_only_restrict(tmp_path: Path) -> None:
    registry = FakeRegistry(
        machine={
            "Purposes": {
                "cloud_alerts": {"Value": "granted", "Status": "locked"},
                "energy_history": {"Value": "granted", "Status": "default"},
            }
        },
        user={
            "Purposes": {
                "cloud_alerts": {"Value": "denied", "Status": "locked"},
                "device_registration": {"Value": "granted"},
                "location": {"Value": "denied", "Status": "default"},
            },
            "Endpoint": {"Url": "https://elsewhere.example"},
            "LedgerRetentionDays": 1,
        },
    )
    policy = load_windows(tmp_path, registry)
    hkcu = r"HKCU\SOFTWARE\Policies\Upsight"
    assert decisions(policy) == {
        **only("cloud_alerts", D.DENIED_LOCKED),
        "energy_history": D.GRANTED_DEFAULT,
        "location": D.DENIED_DEFAULT,
    }
    assert policy.decision("cloud_alerts").source == hkcu
    location = policy.entry("Purposes.location")
    assert location is not None
    assert (location.scope, location.source) == (Scope.USER, hkcu)
    assert policy.entry("Endpoint") is None
    assert policy.entry("LedgerRetentionDays") is None
    assert {(e.source, e.key) for e in policy.errors} == {
        (hkcu, "policies.Purposes.device_registration"),
        (hkcu, "policies.Endpoint"),
        (hkcu, "policies.LedgerRetentionDays"),
    }
    assert all("user policy may only" in e.problem for e in policy.errors)


def test_hkcu_can_block_the_cloud_connection(tmp_path: Path) -> None:
    registry = FakeRegistry(
        machine={"Purposes": {"cloud_alerts": {"Value": "granted"}}},
        user={"CloudConnection": {"Value": "blocked"}},
    )
    assert set(decisions(load_windows(tmp_path, registry)).values()) == {D.BLOCKED}


def test_an_unreadable_registry_key_fails_closed(tmp_path: Path) -> None:
    registry = FakeRegistry(machine={"Purposes": {"cloud_alerts": {"Value": "granted"}}})
    registry.broken.add(Scope.USER)
    policy = load_windows(tmp_path, registry)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert policy.errors[0].source == r"HKCU\SOFTWARE\Policies\Upsight"


def test_programdata_files_under_the_registry(tmp_path: Path) -> None:
    policies = tmp_path / "ProgramData" / "Upsight" / "policies"
    (policies / "recommended").mkdir(parents=True)
    (policies / "managed").mkdir(parents=True)
    preset = policies / "recommended" / "msi.json"
    preset.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "policies": {
                    "Purposes": {
                        "energy_history": {"Value": "granted"},
                        "cloud_alerts": {"Value": "granted"},
                    }
                },
            }
        )
    )
    (policies / "managed" / "corp.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "policies": {
                    "Purposes": {"cloud_alerts": {"Value": "denied", "Status": "default"}}
                },
            }
        )
    )
    registry = FakeRegistry(machine={"Purposes": {"cloud_alerts": {"Value": "granted"}}})
    policy = load_windows(tmp_path, registry)
    # HKLM and the managed directory are one level: the more restrictive value wins.
    assert decisions(policy) == {
        **only("cloud_alerts", D.DENIED_DEFAULT),
        "energy_history": D.GRANTED_DEFAULT,
    }
    assert policy.decision("energy_history").source == str(preset)


# --- macOS: managed preferences (the reader is exercised here, not on a real Mac) ----------


def test_macos_managed_preferences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    managed = tmp_path / "Library" / "Managed Preferences"
    (managed / "alice").mkdir(parents=True)
    with (managed / "com.upsight.upsight.plist").open("wb") as handle:
        plistlib.dump(
            {"Purposes": {"cloud_alerts": {"Value": "granted"}}, "LocalRetentionDays": 5}, handle
        )
    with (managed / "alice" / "com.upsight.upsight.plist").open("wb") as handle:
        plistlib.dump({"Purposes": {"location": {"Value": "denied"}}}, handle)
    policy = load_policy(tmp_path, "darwin")
    assert policy.errors == ()
    assert decisions(policy) == {
        **only("cloud_alerts", D.GRANTED_LOCKED),
        "location": D.DENIED_LOCKED,
    }
    retention = policy.entry("LocalRetentionDays")
    assert retention is not None
    assert retention.source == str(managed / "com.upsight.upsight.plist")


def test_a_broken_plist_fails_closed(tmp_path: Path) -> None:
    managed = tmp_path / "Library" / "Managed Preferences"
    managed.mkdir(parents=True)
    (managed / "com.upsight.upsight.plist").write_bytes(b"<plist><dict><key>")
    policy = load_policy(tmp_path, "darwin")
    assert set(decisions(policy).values()) == {D.INVALID}
    assert "not a valid plist" in policy.errors[0].problem


# --- resolve() is pure ------------------------------------------------------------------------


def test_resolve_takes_documents_from_any_carrier() -> None:
    documents = [
        PolicyDocument(
            "mdm",
            Scope.MACHINE,
            Level.MANDATORY,
            {"schema_version": 1, "policies": {"CloudConnection": {"Value": "blocked"}}},
        ),
        PolicyDocument("broken", Scope.MACHINE, Level.RECOMMENDED, failure="cannot be read"),
    ]
    policy = resolve(documents)
    assert set(decisions(policy).values()) == {D.INVALID}
    assert policy.errors[0].source == "broken"
    assert policy.active
