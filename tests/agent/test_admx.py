"""Group Policy templates: well-formed, complete, and writing what the agent reads."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from upsight.agent import admx
from upsight.agent.cli import main
from upsight.agent.privacy.admin_policy import Scope, load_policy, policy_schema
from upsight.agent.settings_policy import SETTING_SCHEMAS

NS = {"p": admx.ADMX_NS}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[ET.Element, ET.Element]:
    outdir = tmp_path_factory.mktemp("admx")
    paths = admx.write(outdir)
    assert paths == [outdir / "upsight.admx", outdir / "en-US" / "upsight.adml"]
    # ET.parse raises on anything that is not well-formed XML.
    return ET.parse(paths[0]).getroot(), ET.parse(paths[1]).getroot()


def policies_of(root: ET.Element) -> dict[str, ET.Element]:
    return {p.get("name", ""): p for p in root.iterfind("p:policies/p:policy", NS)}


def strings_of(adml: ET.Element) -> dict[str, str]:
    table = adml.iterfind("p:resources/p:stringTable/p:string", NS)
    return {s.get("id", ""): s.text or "" for s in table}


def test_every_schema_policy_is_a_group_policy_setting(
    written: tuple[ET.Element, ET.Element],
) -> None:
    schema = policy_schema()["properties"]["policies"]["properties"]
    purposes = schema["Purposes"]["properties"]
    expected = (
        [n for n in schema if n not in ("Purposes", "Settings")]
        + [f"Purposes_{p}" for p in purposes]
        + [f"Settings_{k.replace('.', '_')}" for k in SETTING_SCHEMAS]
    )
    assert sorted(policies_of(written[0])) == sorted(expected)


def test_every_string_and_presentation_referenced_exists(
    written: tuple[ET.Element, ET.Element],
) -> None:
    admx_root, adml = written
    strings = strings_of(adml)
    text = ET.tostring(admx_root, encoding="unicode")
    referenced = set(re.findall(r"\$\(string\.([^)]+)\)", text))
    assert referenced
    assert referenced - set(strings) == set()
    presentations = {
        p.get("id"): p for p in adml.iterfind("p:resources/p:presentationTable/p:presentation", NS)
    }
    for name, policy in policies_of(admx_root).items():
        elements = {e.get("id") for e in policy.iterfind("p:elements/*", NS)}
        if policy.get("presentation") is None:
            assert elements == set(), name
            continue
        assert policy.get("presentation") == f"$(presentation.{name})"
        controls = {c.get("refId") for c in presentations[name]}
        assert controls == elements, name


def test_explanations_are_the_schema_descriptions(written: tuple[ET.Element, ET.Element]) -> None:
    admx_root, adml = written
    strings = strings_of(adml)
    schema = policy_schema()["properties"]["policies"]["properties"]
    policies = policies_of(admx_root)

    def explain(name: str) -> str:
        ident = policies[name].get("explainText", "")
        return strings[ident.removeprefix("$(string.").removesuffix(")")]

    assert schema["CloudConnection"]["description"] in explain("CloudConnection")
    assert schema["Endpoint"]["properties"]["Url"]["description"] in explain("Endpoint")
    assert schema["Purposes"]["description"] in explain("Purposes_location")
    for key, fragment in SETTING_SCHEMAS.items():
        assert explain(f"Settings_{key.replace('.', '_')}").startswith(fragment["description"])


def registry_value(element: ET.Element, example: Any) -> object:
    """What Group Policy writes for ``example`` through this template element."""
    kind = element.tag.split("}")[1]
    if kind == "boolean":
        return int(example)
    if kind == "list":
        return {str(i): item for i, item in enumerate(example, 1)}
    if kind == "text":
        return str(example)
    return example


def test_what_the_templates_write_is_what_the_agent_reads(
    written: tuple[ET.Element, ET.Element], tmp_path: Path
) -> None:
    root = r"Software\Policies\Upsight"
    tree: dict[str, Any] = {}
    expected: dict[str, object] = {}
    for name, policy in policies_of(written[0]).items():
        if not name.startswith("Settings_"):
            continue
        assert policy.get("key") == root + r"\Settings"
        elements = list(policy.iterfind("p:elements/*", NS))
        if elements:
            [element] = elements
            key = element.get("valueName") or element.get("key", "").rsplit("\\", 1)[1]
            example = SETTING_SCHEMAS[key]["examples"][0]
            value = registry_value(element, example)
        else:
            # A yes/no setting: Enabled writes enabledValue, Disabled writes disabledValue.
            key = policy.get("valueName", "")
            example = SETTING_SCHEMAS[key]["examples"][0]
            state = "p:enabledValue/p:decimal" if example else "p:disabledValue/p:decimal"
            value = int(policy.findall(state, NS)[0].get("value", ""))
        tree.setdefault("Settings", {})[key] = value
        expected[f"Settings.{key}"] = example

    def registry(scope: Scope) -> Mapping[str, object] | None:
        return tree if scope is Scope.MACHINE else None

    effective = load_policy(tmp_path, "win32", registry)
    assert effective.errors == ()
    assert {e.name: e.value for e in effective.entries} == expected
    assert all(e.locked for e in effective.entries)


def test_cli_writes_the_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "admx", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / "upsight.admx"),
        str(tmp_path / "en-US" / "upsight.adml"),
    ]
    adml = ET.parse(tmp_path / "en-US" / "upsight.adml").getroot()
    assert adml.tag == f"{{{admx.ADMX_NS}}}policyDefinitionResources"


def test_privacy_policies_land_where_the_agent_reads_them(
    written: tuple[ET.Element, ET.Element], tmp_path: Path
) -> None:
    policies = policies_of(written[0])
    chosen: dict[str, dict[str, object]] = {
        "CloudConnection": {"CloudConnection_Value": "allowed", "CloudConnection_Locked": 1},
        "Endpoint": {"Endpoint_Url": "https://ups.corp.example", "Endpoint_Locked": 1},
        "Purposes_location": {"Purposes_location_Value": "denied"},
        "LedgerRetentionDays": {"LedgerRetentionDays": 30},
    }
    tree: dict[str, Any] = {}
    for name, values in chosen.items():
        policy = policies[name]
        node = tree
        for part in policy.get("key", "").split("\\")[3:]:
            node = node.setdefault(part, {})
        for element in policy.iterfind("p:elements/*", NS):
            if element.get("id") in values:
                node[element.get("valueName", "")] = values[element.get("id", "")]
    flag = policies["ShowFirstRunPrompt"]
    tree[flag.get("valueName", "")] = int(
        flag.findall("p:disabledValue/p:decimal", NS)[0].get("value", "")
    )

    def registry(scope: Scope) -> Mapping[str, object] | None:
        return tree if scope is Scope.MACHINE else None

    effective = load_policy(tmp_path, "win32", registry)
    assert effective.errors == ()
    assert {e.name: e.value for e in effective.entries} == {
        "CloudConnection": "allowed",
        "Endpoint": "https://ups.corp.example",
        "Purposes.location": "denied",
        "ShowFirstRunPrompt": False,
        "LedgerRetentionDays": 30,
    }
