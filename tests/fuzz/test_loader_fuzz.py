"""Fuzzing the config loader, device specs and the admin policy loaders (JSON, plist, registry)."""

from __future__ import annotations

import json
import plistlib
import struct
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.seeds import POLICIES, SEEDS
from tests.fuzz.strategies import FUZZ, mutated, run
from tests.fuzz.targets import (
    config_toml,
    device_spec,
    policy_json,
    policy_plist,
    policy_registry,
)
from upsight.agent import config
from upsight.agent.privacy import admin_policy
from upsight.drivers.errors import DeviceSpecError
from upsight.drivers.spec import parse_spec

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "granted", "denied", "blocked", "sim://", "127.0.0.1:3493", "x" * 300]),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
POLICY_NAMES = st.sampled_from([*admin_policy.POLICY_NAMES, "Nope"])
SETTING_KEYS = st.sampled_from([s.key for s in config.SETTINGS] + ["agent.nope"])


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The real policy with some values replaced by any JSON, at any depth."""
    policies: dict[str, Any] = json.loads(json.dumps(POLICIES))
    for _ in range(draw(st.integers(1, 5))):
        where = draw(st.sampled_from(["top", "purpose", "setting"]))
        if where == "top":
            policies[draw(POLICY_NAMES)] = draw(JSON_VALUES)
        elif where == "purpose":
            purpose = draw(st.sampled_from(["cloud_alerts", "location", "account", "bogus"]))
            purposes = policies.get("Purposes")
            rule = purposes.setdefault(purpose, {}) if isinstance(purposes, dict) else None
            if isinstance(rule, dict):
                rule[draw(st.sampled_from(["Value", "Locked", "Extra"]))] = draw(JSON_VALUES)
        elif isinstance(policies.get("Settings"), dict):
            policies["Settings"][draw(SETTING_KEYS)] = draw(JSON_VALUES)
    version = draw(st.sampled_from([1, 1, 1, 2, "1", None]))
    return {"schema_version": version, "policies": policies}


@st.composite
def config_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A config table with real keys given values of any TOML type."""
    table: dict[str, Any] = {"version": draw(st.sampled_from([1, 1, 2, "1"]))}
    toml_values = st.recursive(
        st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(["sim://", "hid://051d:0002", "nut://h/ups", "[::1]:3493", "hibernate"]),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=6,
    )
    for key in draw(st.lists(SETTING_KEYS, max_size=8)):
        section, _, name = key.partition(".")
        table.setdefault(section, {})[name] = draw(toml_values)
    return table


@FUZZ
@given(st.binary(max_size=300))
def test_config_random_bytes(data: bytes) -> None:
    run(config_toml, data)


@FUZZ
@given(mutated(SEEDS["config"]()))
def test_config_mutated_file(data: bytes) -> None:
    run(config_toml, data)


@FUZZ
@given(config_tables())
def test_config_any_values_for_real_keys(table: dict[str, Any]) -> None:
    run(config_toml, tomli_w.dumps(table).encode())


@FUZZ
@given(st.binary(max_size=80) | mutated(SEEDS["device-spec"]()))
def test_device_specs(data: bytes) -> None:
    run(device_spec, data)


@FUZZ
@given(st.binary(max_size=300) | mutated(SEEDS["policy-json"]()))
def test_policy_json_bytes(data: bytes) -> None:
    run(policy_json, data)


@FUZZ
@given(policy_documents())
def test_policy_json_any_values(document: dict[str, Any]) -> None:
    run(policy_json, json.dumps(document).encode())


@FUZZ
@given(mutated(SEEDS["policy-plist"]()))
def test_policy_plist_mutated(data: bytes) -> None:
    run(policy_plist, data)


@FUZZ
@given(policy_documents())
def test_policy_registry_any_tree(document: dict[str, Any]) -> None:
    run(policy_registry, json.dumps(document["policies"]).encode())


# --- Findings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a = " + "[" * 2000 + "]" * 2000, "not valid TOML (nested too deeply)"),
        ("[agent]\npoll_interval_s = " + "1" * 5000, "not valid TOML (Exceeds the limit"),
    ],
    ids=["deep-array", "5000-digit-integer"],
)
def test_config_that_breaks_the_toml_parser_is_reported(
    tmp_path: Path, text: str, why: str
) -> None:
    # Finding: RecursionError and ValueError escaped config.load and stopped the agent.
    path = tmp_path / "upsight.toml"
    path.write_text(text)
    result = config.load(path)
    assert result.config == config.Config()
    assert result.problems[0].startswith(f"{path}: {why}")


def test_config_integer_beyond_float_range_is_invalid_not_a_crash(tmp_path: Path) -> None:
    # Finding: float() raised OverflowError for a 401-digit integer.
    path = tmp_path / "upsight.toml"
    path.write_text("version = 1\n[agent]\npoll_interval_s = 1" + "0" * 400 + "\n")
    result = config.load(path)
    assert result.config.poll_interval_s == config.Config().poll_interval_s
    assert result.problems == (
        f"{path}: 'agent.poll_interval_s' = {'1' + '0' * 56}... is invalid; "
        "expected a number of seconds from 0.2 to 60; using the default",
    )
    with pytest.raises(config.ConfigError, match=r"'agent\.poll_interval_s' = 1000"):
        config.with_value(config.Config(), "agent.poll_interval_s", 10**400)


def _problems(path: Path) -> dict[str, str]:
    return {p.key: p.problem for p in admin_policy.validate_file(path)}


def test_policy_json_nested_too_deeply_fails_closed(tmp_path: Path) -> None:
    # Finding: json.loads raised RecursionError out of the policy loader.
    path = tmp_path / "a.json"
    path.write_bytes(b"[" * 100_000)
    assert _problems(path) == {
        "": "is not valid JSON (nested too deeply); the whole source is ignored and every "
        "upload purpose is blocked (fail closed)"
    }


def test_binary_plist_with_a_number_as_key_fails_closed(tmp_path: Path) -> None:
    # Finding: a corrupt binary plist gave a dictionary an integer key, and the schema
    # check raised TypeError joining it into a key path.
    path = tmp_path / "com.upsight.upsight.plist"
    path.write_bytes(
        bytes.fromhex(
            "62706c6973743030d2010203041b100f536c6f7564436f6e6e656374696f6e58507572706f736573"
            "09d105065161a307080910011002d10a0b51624178080d1f28292c2e323436393b00000000000001"
            "01000000000000000c0000000000000000000000000000003d"
        )
    )
    assert any(not isinstance(k, str) for k in plistlib.loads(path.read_bytes()))
    location = admin_policy.PolicyLocation(
        admin_policy.Carrier.PLIST,
        str(path),
        admin_policy.Scope.MACHINE,
        admin_policy.Level.MANDATORY,
    )
    (document,) = admin_policy.read_documents([location])
    assert document.failure == "is not a valid plist (a key is not text)"
    assert admin_policy.resolve([document]).network_blocked == str(path)


@pytest.mark.parametrize("text", ["nut://[", "nut://[]", "nut://[zz]/ups"])
def test_nut_spec_with_a_broken_bracketed_host_is_a_spec_error(text: str) -> None:
    # Finding: urlsplit's ValueError ("Invalid IPv6 URL") escaped parse_spec.
    with pytest.raises(DeviceSpecError, match="the host is not a valid address"):
        parse_spec(text)
    assert parse_spec("nut://[::1]:3493/ups").params["host"] == "::1"


# A binary plist whose only object is an array holding itself: the object, its offset,
# then the trailer (offset and reference sizes, object count, top object, table offset).
_SELF_CONTAINING = b"bplist00\xa1\x00\x08" + bytes(6) + b"\x01\x01" + struct.pack(">QQQ", 1, 0, 10)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (
            b'<?xml version="1.0" encoding="UTF-9"?><plist version="1.0"><dict/></plist>',
            "unknown encoding: UTF-9",
        ),
        (b"<plist><key>a</key></plist>", "list index out of range"),
        (_SELF_CONTAINING, "maximum recursion depth exceeded"),
    ],
    ids=["unknown-encoding", "key-outside-dict", "self-containing-array"],
)
def test_plist_that_breaks_plistlib_fails_closed(tmp_path: Path, data: bytes, why: str) -> None:
    # Findings of the long run: LookupError, IndexError and RecursionError escaped the
    # macOS policy reader (MemoryError too, on binary size fields, but not reproducibly).
    path = tmp_path / "com.upsight.upsight.plist"
    path.write_bytes(data)
    location = admin_policy.PolicyLocation(
        admin_policy.Carrier.PLIST,
        str(path),
        admin_policy.Scope.MACHINE,
        admin_policy.Level.MANDATORY,
    )
    (document,) = admin_policy.read_documents([location])
    assert document.failure is not None
    assert document.failure.startswith(f"is not a valid plist ({why}")
    assert admin_policy.resolve([document]).network_blocked == str(path)
