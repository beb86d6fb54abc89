"""Group Policy templates (ADMX and ADML) generated from the admin policy's JSON Schema.

Every policy of ``resources/policy.schema.json`` becomes one Group Policy setting
writing the registry layout the agent reads (``HKLM\\SOFTWARE\\Policies\\Upsight``):
an object is a subkey with one value per property, a purpose is a subkey of
``Purposes``, a setting is a value of ``Settings`` named by its config key, a list is
a subkey of values named 1, 2, ..., booleans are REG_DWORD 0/1, whole numbers
REG_DWORD and other numbers REG_SZ text. The explanation of each setting is the
schema's description, so the templates never say something the schema does not.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from upsight.agent.privacy.admin_policy import REGISTRY_KEY, policy_schema
from upsight.agent.privacy.purposes import PURPOSES, Purpose

ADMX_NS: Final = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"
NAMESPACE: Final = "Upsight.Policies.Upsight"
TEMPLATE: Final = "upsight"
LANGUAGE: Final = "en-US"
SUPPORTED: Final = "SUPPORTED_Upsight"

_ROOT_CATEGORY: Final = "Upsight"
_CATEGORIES: Final = {
    _ROOT_CATEGORY: "Upsight",
    "Upsight_Purposes": "Upload purposes",
    "Upsight_Settings": "Agent settings",
}
# Registry paths in templates are relative to the hive GPO writes (HKLM for Machine).
_KEY: Final = REGISTRY_KEY.replace("SOFTWARE", "Software")


@dataclass(frozen=True)
class TemplatePolicy:
    """One Group Policy setting.

    Attributes:
        name: the ADMX policy name (letters, digits and underscores).
        path: where it lives in the JSON policy (``Purposes.location``).
        display: its title in the Group Policy editor.
        explain: its help text, from the schema.
        key: the registry key it writes, relative to HKLM.
        category: the ADMX category it is listed under.
        schema: the (dereferenced) schema of its value.
        value_name: for a single value: the registry value name; ``None`` for an object.
    """

    name: str
    path: str
    display: str
    explain: str
    key: str
    category: str
    schema: Mapping[str, Any]
    value_name: str | None


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", text)


def _deref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = root["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _words(name: str) -> str:
    """``CloudConnection`` -> ``Cloud connection``; acronyms stay: ``CABundle`` -> ``CA bundle``."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return " ".join(w if w.isupper() or i == 0 else w.lower() for i, w in enumerate(words))


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _explain(node: Mapping[str, Any], *lead: str) -> str:
    """The schema's words on a policy: its description, then each described property's."""
    properties = node.get("properties", {}) if node.get("type") == "object" else {}
    details = [
        f"{_words(prop)}: {sub['description']}"
        for prop, sub in properties.items()
        if "description" in sub and "const" not in sub
    ]
    return _join(*lead, node.get("description", ""), "\n".join(details))


def template_policies(schema: Mapping[str, Any] | None = None) -> list[TemplatePolicy]:
    """Every Group Policy setting the schema defines, in schema order.

    Args:
        schema: the admin policy JSON Schema; the packaged one when ``None``.
    """
    root = schema if schema is not None else policy_schema()
    policies: Mapping[str, Any] = root["properties"]["policies"]["properties"]
    out: list[TemplatePolicy] = []
    for name, raw in policies.items():
        node = _deref(raw, root)
        if name == "Purposes":
            for purpose, sub in node["properties"].items():
                rule = _deref(sub, root)
                info = PURPOSES[Purpose(purpose)]
                explain = _explain(rule, f"{info.name}: {info.why}", node["description"])
                out.append(
                    TemplatePolicy(
                        f"Purposes_{purpose}",
                        f"Purposes.{purpose}",
                        f"Upload purpose: {info.name}",
                        explain,
                        rf"{_KEY}\Purposes\{purpose}",
                        "Upsight_Purposes",
                        rule,
                        None,
                    )
                )
        elif name == "Settings":
            for key, sub in node["properties"].items():
                out.append(
                    TemplatePolicy(
                        f"Settings_{_ident(key)}",
                        f"Settings.{key}",
                        f"Setting {key}",
                        _join(sub["description"], node["description"]),
                        rf"{_KEY}\Settings",
                        "Upsight_Settings",
                        _deref(sub, root),
                        key,
                    )
                )
        elif node.get("type") == "object":
            out.append(
                TemplatePolicy(
                    name,
                    name,
                    _words(name),
                    _explain(node),
                    rf"{_KEY}\{name}",
                    _ROOT_CATEGORY,
                    node,
                    None,
                )
            )
        else:
            out.append(
                TemplatePolicy(
                    name,
                    name,
                    _words(name),
                    node["description"],
                    _KEY,
                    _ROOT_CATEGORY,
                    node,
                    name,
                )
            )
    return out


@dataclass(frozen=True)
class _Field:
    """One registry value a policy writes, with its schema."""

    element_id: str
    value_name: str
    label: str
    schema: Mapping[str, Any]


def _fields(policy: TemplatePolicy) -> Iterator[_Field]:
    if policy.value_name is not None:
        yield _Field(policy.name, policy.value_name, policy.display, policy.schema)
        return
    for prop, sub in policy.schema["properties"].items():
        # A property whose only allowed value is the default needs no setting of its own.
        if "const" not in sub:
            yield _Field(f"{policy.name}_{prop}", prop, _words(prop), sub)


class _Builder:
    """Accumulates the ADMX tree and the ADML strings and presentations together."""

    def __init__(self) -> None:
        self.admx = ET.Element(
            "policyDefinitions", {"revision": "1.0", "schemaVersion": "1.0", "xmlns": ADMX_NS}
        )
        self.adml = ET.Element(
            "policyDefinitionResources",
            {"revision": "1.0", "schemaVersion": "1.0", "xmlns": ADMX_NS},
        )
        self.strings: dict[str, str] = {}
        self.presentations = ET.Element("presentationTable")

    def string(self, ident: str, text: str) -> str:
        self.strings[ident] = text
        return f"$(string.{ident})"

    def head(self) -> ET.Element:
        namespaces = ET.SubElement(self.admx, "policyNamespaces")
        ET.SubElement(namespaces, "target", {"prefix": TEMPLATE, "namespace": NAMESPACE})
        ET.SubElement(self.admx, "resources", {"minRequiredRevision": "1.0"})
        supported = ET.SubElement(ET.SubElement(self.admx, "supportedOn"), "definitions")
        ET.SubElement(
            supported,
            "definition",
            {"name": SUPPORTED, "displayName": self.string(SUPPORTED, "Upsight 0.1 and later")},
        )
        categories = ET.SubElement(self.admx, "categories")
        for ident, title in _CATEGORIES.items():
            category = ET.SubElement(
                categories, "category", {"name": ident, "displayName": self.string(ident, title)}
            )
            if ident != _ROOT_CATEGORY:
                ET.SubElement(category, "parentCategory", {"ref": _ROOT_CATEGORY})
        return ET.SubElement(self.admx, "policies")

    def policy(self, parent: ET.Element, policy: TemplatePolicy) -> None:
        attrs = {
            "name": policy.name,
            "class": "Machine",
            "displayName": self.string(policy.name, policy.display),
            "explainText": self.string(f"{policy.name}_Explain", policy.explain),
            "key": policy.key,
        }
        fields = list(_fields(policy))
        scalar_flag = policy.value_name is not None and policy.schema.get("type") == "boolean"
        if scalar_flag:
            # Enabled writes 1 and Disabled 0: the policy's own state is the value.
            attrs["valueName"] = fields[0].value_name
        else:
            attrs["presentation"] = f"$(presentation.{policy.name})"
        node = ET.SubElement(parent, "policy", attrs)
        ET.SubElement(node, "parentCategory", {"ref": policy.category})
        ET.SubElement(node, "supportedOn", {"ref": SUPPORTED})
        if scalar_flag:
            _decimal(ET.SubElement(node, "enabledValue"), 1)
            _decimal(ET.SubElement(node, "disabledValue"), 0)
            return
        elements = ET.SubElement(node, "elements")
        presentation = ET.SubElement(self.presentations, "presentation", {"id": policy.name})
        for field in fields:
            self.element(elements, presentation, policy, field)

    def element(
        self,
        elements: ET.Element,
        presentation: ET.Element,
        policy: TemplatePolicy,
        field: _Field,
    ) -> None:
        schema = field.schema
        ident = field.element_id
        kind = schema.get("type")
        common = {"id": ident, "valueName": field.value_name}
        if "enum" in schema:
            enum = ET.SubElement(elements, "enum", {**common, "required": "true"})
            for choice in schema["enum"]:
                item = ET.SubElement(
                    enum, "item", {"displayName": self.string(f"{ident}_{choice}", choice)}
                )
                ET.SubElement(ET.SubElement(item, "value"), "string", {"value": choice})
            dropdown = ET.SubElement(presentation, "dropdownList", {"refId": ident})
            dropdown.set("noSort", "true")
            dropdown.text = field.label
        elif kind == "boolean":
            flag = ET.SubElement(elements, "boolean", common)
            _decimal(ET.SubElement(flag, "trueValue"), 1)
            _decimal(ET.SubElement(flag, "falseValue"), 0)
            box = ET.SubElement(presentation, "checkBox", {"refId": ident})
            box.set("defaultChecked", "true")
            box.text = field.label
        elif kind == "integer":
            limits = {"minValue": str(schema["minimum"]), "maxValue": str(schema["maximum"])}
            ET.SubElement(elements, "decimal", {**common, **limits, "required": "true"})
            box = ET.SubElement(presentation, "decimalTextBox", {"refId": ident})
            box.set("defaultValue", str(schema.get("examples", [schema["minimum"]])[0]))
            box.text = field.label
        elif kind == "array":
            key = rf"{policy.key}\{field.value_name}"
            ET.SubElement(elements, "list", {"id": ident, "key": key, "valuePrefix": ""})
            ET.SubElement(presentation, "listBox", {"refId": ident}).text = field.label
        else:
            # Strings, and numbers with fractions (REG_DWORD has none), are typed as text.
            text = ET.SubElement(elements, "text", {**common, "required": "true"})
            if "maxLength" in schema:
                text.set("maxLength", str(schema["maxLength"]))
            box = ET.SubElement(presentation, "textBox", {"refId": ident})
            ET.SubElement(box, "label").text = field.label

    def finish(self) -> tuple[str, str]:
        ET.SubElement(self.adml, "displayName").text = "Upsight"
        ET.SubElement(self.adml, "description").text = "Policies of the Upsight UPS monitor"
        resources = ET.SubElement(self.adml, "resources")
        table = ET.SubElement(resources, "stringTable")
        for ident, text in self.strings.items():
            ET.SubElement(table, "string", {"id": ident}).text = text
        resources.append(self.presentations)
        return _serialise(self.admx), _serialise(self.adml)


def _decimal(parent: ET.Element, value: int) -> None:
    ET.SubElement(parent, "decimal", {"value": str(value)})


def _serialise(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'


def render(schema: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The ADMX template and its en-US ADML resources.

    Args:
        schema: the admin policy JSON Schema; the packaged one when ``None``.

    Returns:
        ``(admx, adml)`` as XML text.
    """
    builder = _Builder()
    policies = builder.head()
    for policy in template_policies(schema):
        builder.policy(policies, policy)
    return builder.finish()


def write(outdir: Path) -> list[Path]:
    """Write ``upsight.admx`` and ``en-US/upsight.adml`` under ``outdir``.

    Copy both, keeping the layout, into the Group Policy Central Store
    (``\\\\DOMAIN\\SYSVOL\\DOMAIN\\Policies\\PolicyDefinitions``) or import them into Intune.

    Returns:
        The files written.
    """
    admx, adml = render()
    admx_path = outdir / f"{TEMPLATE}.admx"
    adml_path = outdir / LANGUAGE / f"{TEMPLATE}.adml"
    adml_path.parent.mkdir(parents=True, exist_ok=True)
    admx_path.write_text(admx, encoding="utf-8")
    adml_path.write_text(adml, encoding="utf-8")
    return [admx_path, adml_path]
