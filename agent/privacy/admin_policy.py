"""Admin policy: read each OS's policy sources, validate every key, merge them into one."""

from __future__ import annotations

import getpass
import json
import os
import plistlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, cast
from xml.parsers.expat import ExpatError

from jsonschema import Draft202012Validator, ValidationError

from upsight.agent.privacy.effective import PolicyDecision
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, USER_ONLY, Purpose

SCHEMA_VERSION: Final = 1
SCHEMA_RESOURCE: Final = "policy.schema.json"
REGISTRY_KEY: Final = r"SOFTWARE\Policies\Upsight"
MAC_DOMAIN: Final = "com.upsight.upsight"

POLICY_NAMES: Final = (
    "CloudConnection",
    "Endpoint",
    "CABundle",
    "Proxy",
    "Purposes",
    "ShowFirstRunPrompt",
    "EnrollmentToken",
    "LedgerRetentionDays",
    "LocalRetentionDays",
    "Settings",
)
"""Every policy key, in the order the diagnostics page lists them."""

# Keys with no "more restrictive" value: two files of one level disagreeing on
# where or how to upload is ambiguous, so uploads fail closed until it is fixed.
_SINGLE_VALUED: Final = ("Endpoint", "CABundle", "Proxy", "EnrollmentToken")
_RETENTION: Final = ("LedgerRetentionDays", "LocalRetentionDays")
_WHOLE: Final = "*"

_LOCKED: Final = "locked"
_DEFAULT: Final = "default"
_GRANTED: Final = "granted"
_DENIED: Final = "denied"
_UNSET: Final = "unset"


class Scope(StrEnum):
    """Whom a policy source applies to."""

    MACHINE = "machine"
    USER = "user"


class Level(StrEnum):
    """Whether a policy source is enforced or only a default the user may change."""

    MANDATORY = "mandatory"
    RECOMMENDED = "recommended"


class Carrier(StrEnum):
    """How a policy source is stored."""

    JSON_DIR = "json_dir"
    REGISTRY = "registry"
    PLIST = "plist"


@dataclass(frozen=True)
class PolicyLocation:
    """One place policy may come from.

    Attributes:
        carrier: how it is stored.
        where: a directory, a plist file or a registry key, as shown to users.
        scope: machine or user.
        level: mandatory or recommended.
    """

    carrier: Carrier
    where: str
    scope: Scope
    level: Level


@dataclass(frozen=True)
class PolicyDocument:
    """One policy document as read from its carrier, before validation.

    Attributes:
        ref: the file path or registry key it came from.
        scope: machine or user.
        level: mandatory or recommended.
        content: the parsed document (``schema_version`` and ``policies``).
        failure: why it could not be read at all, which fails closed; else ``None``.
    """

    ref: str
    scope: Scope
    level: Level
    content: object = None
    failure: str | None = None


@dataclass(frozen=True)
class PolicyProblem:
    """One problem found in a policy source.

    Attributes:
        source: the file path or registry key.
        key: the JSON path of the offending key (``policies.Purposes.location.Value``),
            or ``""`` for the whole source.
        problem: what is wrong and what Upsight does about it.
    """

    source: str
    key: str
    problem: str


@dataclass(frozen=True)
class PolicyEntry:
    """One policy value in effect.

    Attributes:
        name: the policy name; purposes read ``Purposes.<purpose>``.
        value: the value applied.
        source: the file path or registry key it came from.
        scope: machine or user.
        level: mandatory or recommended.
        locked: the user cannot change it (``False``: a default).
    """

    name: str
    value: object
    source: str
    scope: Scope
    level: Level
    locked: bool


@dataclass(frozen=True)
class PurposePolicy:
    """The merged policy decision for one purpose and where it came from."""

    decision: PolicyDecision = PolicyDecision.NONE
    source: str | None = None


@dataclass(frozen=True)
class EffectivePolicy:
    """Every policy source merged: what applies, why, and what was wrong.

    Attributes:
        entries: the values in effect, in :data:`POLICY_NAMES` order.
        purposes: the decision for every choice purpose.
        errors: every problem found, each naming its source and key.
        searched: every location looked at, present or not.
        network_blocked: the source that blocks every connection to the cloud (a
            ``CloudConnection: blocked``, or a source so broken that it fails closed), or
            ``None``. Even consent receipts and deletion requests wait while it is set.
        unknown_settings: mandatory sources whose agent settings could not be read (the
            file is broken, or its ``Settings`` is not an object); what they lock is unknown.
        refused_settings: ``(config key, source)`` of each managed agent setting whose
            value fails the schema; the key stays locked at the user's value.
    """

    entries: tuple[PolicyEntry, ...] = ()
    purposes: Mapping[str, PurposePolicy] = field(default_factory=dict)
    errors: tuple[PolicyProblem, ...] = ()
    searched: tuple[str, ...] = ()
    network_blocked: str | None = None
    unknown_settings: tuple[str, ...] = ()
    refused_settings: tuple[tuple[str, str], ...] = ()

    def entry(self, name: str) -> PolicyEntry | None:
        """The entry in effect for ``name``, or ``None``."""
        return next((e for e in self.entries if e.name == name), None)

    def decision(self, purpose: str) -> PurposePolicy:
        """The policy decision for ``purpose``; no policy reads as ``NONE``."""
        return self.purposes.get(purpose, PurposePolicy())

    @property
    def active(self) -> bool:
        """Some policy applies, so the GUI shows "Managed by your organization"."""
        return bool(self.entries) or any(
            p.decision is not PolicyDecision.NONE for p in self.purposes.values()
        )


RegistryReader = Callable[[Scope], Mapping[str, object] | None]
"""Reads ``SOFTWARE\\Policies\\Upsight`` of the scope's hive as nested dicts (subkeys)
of values; ``None`` when the key does not exist. May raise ``OSError``."""


# --- Where policy lives ---------------------------------------------------------------


def policy_locations(
    platform: str = sys.platform, root: Path | None = None
) -> tuple[PolicyLocation, ...]:
    """Every policy location of an OS, highest precedence first (§9.1).

    * Linux: ``/etc/upsight/policies/managed/*.json`` (mandatory) and
      ``/etc/upsight/policies/recommended/*.json``.
    * Windows: ``HKLM\\SOFTWARE\\Policies\\Upsight`` and
      ``%ProgramData%\\Upsight\\policies\\managed\\*.json`` (mandatory),
      ``HKCU\\SOFTWARE\\Policies\\Upsight`` (user scope, restrictions only), and
      ``%ProgramData%\\Upsight\\policies\\recommended\\*.json``.
    * macOS: the managed-preferences plist of ``com.upsight.upsight`` that MDM profiles
      write (only forced keys live there), machine-wide and per user, and
      ``/Library/Application Support/Upsight/policies/recommended/*.json``. Untested on
      a real Mac.

    Args:
        platform: a ``sys.platform`` value.
        root: read files under this directory instead of the real file system (tests,
            disk images); registry keys are unaffected.

    Returns:
        The locations, whether they exist or not.
    """
    base = root or Path("/")
    machine, user = Scope.MACHINE, Scope.USER
    mandatory, recommended = Level.MANDATORY, Level.RECOMMENDED
    if platform == "win32":
        data = (
            root / "ProgramData" if root else Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
        )
        policies = data / "Upsight" / "policies"
        return (
            PolicyLocation(Carrier.REGISTRY, rf"HKLM\{REGISTRY_KEY}", machine, mandatory),
            # Where the MSI copies POLICYFILE with POLICYMODE=managed (§9.5).
            PolicyLocation(Carrier.JSON_DIR, str(policies / "managed"), machine, mandatory),
            PolicyLocation(Carrier.REGISTRY, rf"HKCU\{REGISTRY_KEY}", user, mandatory),
            PolicyLocation(Carrier.JSON_DIR, str(policies / "recommended"), machine, recommended),
        )
    if platform == "darwin":
        managed = base / "Library" / "Managed Preferences"
        plist = f"{MAC_DOMAIN}.plist"
        return (
            PolicyLocation(Carrier.PLIST, str(managed / plist), machine, mandatory),
            PolicyLocation(Carrier.PLIST, str(managed / _user_name() / plist), user, mandatory),
            PolicyLocation(
                Carrier.JSON_DIR,
                str(base / "Library/Application Support/Upsight/policies/recommended"),
                machine,
                recommended,
            ),
        )
    etc = base / "etc" / "upsight" / "policies"
    return (
        PolicyLocation(Carrier.JSON_DIR, str(etc / "managed"), machine, mandatory),
        PolicyLocation(Carrier.JSON_DIR, str(etc / "recommended"), machine, recommended),
    )


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name (a service without USER): no per-user plist can match it.
        return "-"


def read_windows_registry(scope: Scope) -> Mapping[str, object] | None:
    """Read ``HKLM`` or ``HKCU\\SOFTWARE\\Policies\\Upsight`` on Windows.

    Args:
        scope: ``MACHINE`` reads HKLM, ``USER`` reads HKCU.

    Returns:
        Subkeys as nested dicts, values as winreg returns them (``str`` for REG_SZ,
        ``int`` for REG_DWORD); ``None`` when the key is absent or this is not Windows.

    Raises:
        OSError: the key exists but cannot be read.
    """
    # if/else rather than an early return: mypy skips whichever branch is not this platform.
    if sys.platform == "win32":
        return _read_winreg(scope)
    else:
        return None


if sys.platform == "win32":

    def _read_winreg(scope: Scope) -> Mapping[str, object] | None:
        import winreg

        hive = winreg.HKEY_LOCAL_MACHINE if scope is Scope.MACHINE else winreg.HKEY_CURRENT_USER
        # Policies are shared between the registry views, but ask for the 64-bit one so a
        # 32-bit build reads exactly what GPO wrote.
        access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY

        def tree(key: winreg.HKEYType) -> dict[str, object]:
            subkeys, values, _ = winreg.QueryInfoKey(key)
            out: dict[str, object] = {}
            for index in range(values):
                name, value, _kind = winreg.EnumValue(key, index)
                out[name] = value
            for index in range(subkeys):
                name = winreg.EnumKey(key, index)
                with winreg.OpenKey(key, name, 0, access) as sub:
                    out[name] = tree(sub)
            return out

        try:
            with winreg.OpenKey(hive, REGISTRY_KEY, 0, access) as key:
                return tree(key)
        except FileNotFoundError:
            return None


# --- Reading ---------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # json keeps the last one silently; which one the admin meant is unknowable.
            raise ValueError(f"key '{key}' appears twice")
        out[key] = value
    return out


def _read_json_file(path: Path, scope: Scope, level: Level) -> PolicyDocument:
    ref = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return PolicyDocument(ref, scope, level, failure=f"cannot be read ({exc.strerror or exc})")
    try:
        # utf-8-sig: Notepad and PowerShell like to start files with a BOM.
        content = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_reject_duplicates)
    except UnicodeDecodeError:
        return PolicyDocument(ref, scope, level, failure="is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return PolicyDocument(
            ref,
            scope,
            level,
            failure=f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
        )
    except ValueError as exc:
        return PolicyDocument(ref, scope, level, failure=f"is not valid JSON ({exc})")
    except RecursionError:
        return PolicyDocument(ref, scope, level, failure="is not valid JSON (nested too deeply)")
    return PolicyDocument(ref, scope, level, content)


def _read_json_dir(location: PolicyLocation) -> list[PolicyDocument]:
    directory = Path(location.where)
    try:
        names = sorted(
            p.name
            for p in directory.iterdir()
            # Dot files are editor and installer temporaries, not policy.
            if p.name.endswith(".json") and not p.name.startswith(".")
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [
            PolicyDocument(
                location.where,
                location.scope,
                location.level,
                failure=f"the directory cannot be listed ({exc.strerror or exc})",
            )
        ]
    return [_read_json_file(directory / n, location.scope, location.level) for n in names]


# Besides InvalidFileException, fuzzing got these out of plistlib on corrupt files:
# LookupError (an unknown XML encoding), IndexError (a stray end tag), MemoryError (a
# binary size field in the gigabytes) and RecursionError (an object that contains
# itself, which _text_keys then follows forever).
_PLIST_ERRORS: Final = (
    plistlib.InvalidFileException,
    ExpatError,
    ValueError,
    LookupError,
    MemoryError,
    RecursionError,
)


def _text_keys(value: object) -> bool:
    """Whether every dictionary key is text: a corrupt binary plist can carry numbers."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _text_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_text_keys(v) for v in value)
    return True


def _read_plist(location: PolicyLocation) -> list[PolicyDocument]:
    path = Path(location.where)
    ref, scope, level = location.where, location.scope, location.level
    try:
        with path.open("rb") as handle:
            policies = plistlib.load(handle)
        text_keys = _text_keys(policies)
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [PolicyDocument(ref, scope, level, failure=f"cannot be read ({exc.strerror})")]
    except _PLIST_ERRORS as exc:
        why = str(exc) or type(exc).__name__
        return [PolicyDocument(ref, scope, level, failure=f"is not a valid plist ({why})")]
    if not isinstance(policies, dict):
        return [PolicyDocument(ref, scope, level, failure="is not a dictionary of policies")]
    if not text_keys:
        failure = "is not a valid plist (a key is not text)"
        return [PolicyDocument(ref, scope, level, failure=failure)]
    # A preferences domain holds the policy names at its top level.
    return [
        PolicyDocument(ref, scope, level, {"schema_version": SCHEMA_VERSION, "policies": policies})
    ]


def _read_registry(location: PolicyLocation, reader: RegistryReader) -> list[PolicyDocument]:
    ref, scope, level = location.where, location.scope, location.level
    try:
        tree = reader(scope)
    except OSError as exc:
        return [
            PolicyDocument(ref, scope, level, failure=f"cannot be read ({exc.strerror or exc})")
        ]
    if tree is None:
        return []
    policies = _from_registry(tree, _schema()["properties"]["policies"])
    return [
        PolicyDocument(ref, scope, level, {"schema_version": SCHEMA_VERSION, "policies": policies})
    ]


def _from_registry(value: object, schema: Mapping[str, Any]) -> object:
    """The registry tree in JSON shape: REG_DWORD 0/1 become booleans where the schema wants one.

    A list is a subkey of values named 1, 2, ... (what an ADMX list element writes), and a
    number with a fraction is REG_SZ text, since REG_DWORD holds only whole numbers.
    """
    schema = _deref(schema)
    if schema.get("type") == "array" and isinstance(value, Mapping):
        return [value[k] for k in sorted(value, key=lambda k: (len(k), k))]
    if schema.get("type") == "number" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        return {k: _from_registry(v, properties.get(k, {})) for k, v in value.items()}
    if schema.get("type") == "boolean" and isinstance(value, int) and value in (0, 1):
        return bool(value)
    return value


def read_documents(
    locations: Iterable[PolicyLocation], read_registry: RegistryReader = read_windows_registry
) -> list[PolicyDocument]:
    """Read every policy document at ``locations``; missing ones are skipped.

    Args:
        locations: where to look, highest precedence first.
        read_registry: reads a registry hive (replaceable in tests).

    Returns:
        The documents in location order, files by name within a directory. A source
        that exists but cannot be read comes back with ``failure`` set.
    """
    documents: list[PolicyDocument] = []
    for location in locations:
        match location.carrier:
            case Carrier.JSON_DIR:
                documents += _read_json_dir(location)
            case Carrier.PLIST:
                documents += _read_plist(location)
            case Carrier.REGISTRY:
                documents += _read_registry(location, read_registry)
    return documents


# --- Validation ------------------------------------------------------------------------


@cache
def _schema() -> Mapping[str, Any]:
    text = resources.files("upsight.resources").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


def policy_schema() -> Mapping[str, Any]:
    """The admin policy JSON Schema as packaged (shared, do not modify)."""
    return _schema()


def schema_location() -> str:
    """Where the installed policy JSON Schema is, for documentation pointers."""
    return str(resources.files("upsight.resources").joinpath(SCHEMA_RESOURCE))


def _deref(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = _schema()["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    """The (dereferenced) subschema an error was raised by."""
    return _deref(error.schema) if isinstance(error.schema, Mapping) else {}


@dataclass(frozen=True)
class _Checked:
    """One document after validation: the values that may apply and what was wrong."""

    policies: Mapping[str, Any]
    invalid: frozenset[str]
    problems: tuple[PolicyProblem, ...]


def _short(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | None) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: object) -> str:
    names = {bool: "boolean", str: "string", int: "integer", float: "number", dict: "object"}
    names |= {list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _describe(error: ValidationError) -> str:
    """A short message for one schema error, without echoing large values."""
    expected = error.validator_value
    match error.validator:
        case "type":
            return f"expected {expected}, got {_json_type(error.instance)} {_short(error.instance)}"
        case "enum":
            choices = " | ".join(map(str, expected)) if isinstance(expected, list) else expected
            return f"{_short(error.instance)} is not one of {choices}"
        case "const":
            return f"must be {json.dumps(expected)}, got {_short(error.instance)}"
        case "pattern":
            form = _schema_of(error).get("description", expected)
            return f"{_short(error.instance)} is not of the required form: {form}"
        case "minimum" | "maximum" | "minLength":
            return f"{_short(error.instance)} is out of range ({error.validator} {expected})"
        case _:
            return error.message if len(error.message) <= 120 else error.message[:117] + "..."


def _invalid_key(path: Sequence[str]) -> str:
    """Which policy a schema error at ``path`` invalidates (``*``: the whole document)."""
    if len(path) < 2 or path[0] != "policies":
        return _WHOLE
    if path[1] in ("Purposes", "Settings") and len(path) >= 3:
        return f"{path[1]}.{path[2]}"
    return path[1]


def _consequence(invalid: str, managed: bool = False) -> str:
    if managed and invalid == "Settings":
        return "every agent setting keeps the user's value, locked until the source is fixed"
    if managed and invalid.startswith("Settings."):
        # Fail-safe: a broken managed value must not hand the setting back to the user.
        return "the user's value stays, locked until the source is fixed"
    if invalid == _WHOLE:
        return "the whole source is ignored and every upload purpose is blocked (fail closed)"
    if invalid in ("CloudConnection", "Purposes"):
        return f"{invalid} is treated as blocked: every upload purpose is off (fail closed)"
    if invalid.startswith("Purposes."):
        return f"{invalid.removeprefix('Purposes.')} is blocked (fail closed)"
    if invalid.startswith("Settings."):
        return "this setting is ignored"
    return "this policy is ignored"


def _rejection(path: Sequence[str], instance: object) -> str | None:
    """The message for a value §9.3 rejects on purpose, rather than a plain type error."""
    if len(path) != 4 or path[:2] != ["policies", "Purposes"]:
        return None
    purpose, key = path[2], path[3]
    if key == "Value" and instance == _GRANTED and purpose in USER_ONLY:
        return (
            f"'granted' is rejected: a policy may deny {purpose} or leave it to the user, "
            "never switch it on"
        )
    if key == "SendSerialClear" and instance is True:
        return "true is rejected: only the user may choose to send the serial in clear"
    return None


def _schema_problems(
    content: Mapping[str, Any], ref: str, managed: bool
) -> tuple[list[PolicyProblem], set[str]]:
    problems: list[PolicyProblem] = []
    invalid: set[str] = set()
    for error in _validator().iter_errors(content):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "additionalProperties":
            known = _schema_of(error).get("properties", {})
            problems += [
                PolicyProblem(
                    ref,
                    ".".join([*path, key]),
                    f"unknown key ignored (known here: {', '.join(known)})",
                )
                for key in error.instance
                if key not in known
            ]
        elif error.validator == "required":
            # One error per missing key; the key is named only in the message text.
            missing = [k for k in error.validator_value if k not in error.instance]
            problems += _missing(ref, path, missing, invalid, managed)
        else:
            target = _invalid_key(path)
            invalid.add(target)
            message = _rejection(path, error.instance) or _describe(error)
            problems.append(
                PolicyProblem(ref, ".".join(path), f"{message}; {_consequence(target, managed)}")
            )
    return sorted(dict.fromkeys(problems), key=lambda p: p.key), invalid


def _missing(
    ref: str, path: list[str], missing: list[str], invalid: set[str], managed: bool
) -> list[PolicyProblem]:
    if path:
        target = _invalid_key(path)
        invalid.add(target)
        consequence = _consequence(target, managed)
        return [
            PolicyProblem(ref, ".".join([*path, key]), f"is required; {consequence}")
            for key in missing
        ]
    messages = {
        "schema_version": f"missing; read as version {SCHEMA_VERSION}",
        "policies": "missing; no policy applies",
    }
    return [PolicyProblem(ref, key, messages[key]) for key in missing]


def _known_only(value: object, schema: Mapping[str, Any]) -> object:
    """``value`` without the unknown keys already reported, at any depth."""
    schema = _deref(schema)
    properties = schema.get("properties")
    if not isinstance(value, Mapping) or properties is None:
        return value
    return {k: _known_only(v, properties[k]) for k, v in value.items() if k in properties}


def _check(document: PolicyDocument) -> _Checked:
    """Validate one document key by key (§9.3)."""
    ref = document.ref
    if document.failure is not None:
        problem = f"{document.failure}; {_consequence(_WHOLE)}"
        return _Checked({}, frozenset({_WHOLE}), (PolicyProblem(ref, "", problem),))
    content = document.content
    if not isinstance(content, dict):
        problem = f"the document must be a JSON object; {_consequence(_WHOLE)}"
        return _Checked({}, frozenset({_WHOLE}), (PolicyProblem(ref, "", problem),))
    managed = _mandatory(document) and document.scope is Scope.MACHINE
    problems, invalid = _schema_problems(content, ref, managed)
    if _WHOLE in invalid or not isinstance(content.get("policies"), dict):
        return _Checked({}, frozenset(invalid), tuple(problems))
    policies_schema = _schema()["properties"]["policies"]
    policies = cast("dict[str, Any]", _known_only(content["policies"], policies_schema))
    kept = {k: v for k, v in policies.items() if k not in invalid}
    if isinstance(kept.get("Purposes"), dict):
        kept["Purposes"] = {
            p: rule for p, rule in kept["Purposes"].items() if f"Purposes.{p}" not in invalid
        }
    if isinstance(kept.get("Settings"), dict):
        kept["Settings"] = {
            k: v for k, v in kept["Settings"].items() if f"Settings.{k}" not in invalid
        }
    return _Checked(kept, frozenset(invalid), tuple(problems))


def validate_file(path: Path) -> tuple[PolicyProblem, ...]:
    """Check one policy file before rollout, as if it were machine mandatory policy.

    Conflicts between files and user- or recommended-level limits are not checked:
    they depend on where the file ends up.

    Args:
        path: the JSON file.

    Returns:
        Every problem, each with the JSON path of its key; empty when the file is clean.
    """
    return _check(_read_json_file(path, Scope.MACHINE, Level.MANDATORY)).problems


# --- Merging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """A purpose's setting from one document, with its status made explicit."""

    value: str
    locked: bool
    document: PolicyDocument

    @property
    def rank(self) -> int:
        """Lower is more restrictive: locked deny, default deny, default grant, locked grant."""
        if self.value == _DENIED:
            return 0 if self.locked else 1
        return 3 if self.locked else 2

    @property
    def decision(self) -> PolicyDecision:
        if self.value == _DENIED:
            return PolicyDecision.DENIED_LOCKED if self.locked else PolicyDecision.DENIED_DEFAULT
        return PolicyDecision.GRANTED_LOCKED if self.locked else PolicyDecision.GRANTED_DEFAULT


def _entry(name: str, value: object, document: PolicyDocument, locked: bool) -> PolicyEntry:
    return PolicyEntry(name, value, document.ref, document.scope, document.level, locked)


def _groups(
    checked: Sequence[tuple[PolicyDocument, _Checked]],
) -> list[list[tuple[PolicyDocument, _Checked]]]:
    """Documents per level, highest first: machine mandatory, user mandatory, recommended."""

    def order(document: PolicyDocument) -> tuple[int, int]:
        return (document.level is Level.RECOMMENDED, document.scope is Scope.USER)

    keys = sorted({order(d) for d, _ in checked})
    return [[(d, c) for d, c in checked if order(d) == key] for key in keys]


def _identity(name: str, value: Any) -> object:
    """What two files must agree on for a single-valued key (an endpoint's lock may differ)."""
    return value["Url"] if name == "Endpoint" else value


def _mandatory(document: PolicyDocument) -> bool:
    return document.level is Level.MANDATORY


class _Merge:
    """Builds an EffectivePolicy from validated documents, highest precedence first."""

    def __init__(self, checked: Sequence[tuple[PolicyDocument, _Checked]]) -> None:
        self.groups = _groups(checked)
        self.problems: list[PolicyProblem] = [p for _, c in checked for p in c.problems]
        self.entries: dict[str, PolicyEntry] = {}
        self.conflicts: set[str] = set()
        self.fail_closed: str | None = next(
            (d.ref for d, c in checked if c.invalid & {_WHOLE, "CloudConnection", "Purposes"}),
            None,
        )
        self.invalid_purposes: dict[str, str] = {}
        for document, result in checked:
            for key in result.invalid:
                if key.startswith("Purposes."):
                    self.invalid_purposes.setdefault(key.removeprefix("Purposes."), document.ref)

    def restrictions_only(self, document: PolicyDocument, checked: _Checked) -> None:
        """Report what a user-scope document tries beyond blocking and denying."""
        for name, value in checked.policies.items():
            if name in ("CloudConnection", "Purposes"):
                continue
            self.problems.append(
                PolicyProblem(
                    document.ref,
                    f"policies.{name}",
                    f"ignored: user policy may only block or deny, not set {_short(value)}",
                )
            )

    def cloud_connection(self) -> bool:
        """Apply ``CloudConnection``; True when some level blocks it."""
        for group in self.groups:
            for document, checked in group:
                setting = checked.policies.get("CloudConnection")
                if setting is not None and setting["Value"] == "blocked":
                    # Enforced whatever the level or Locked says: a block from any level wins.
                    entry = _entry("CloudConnection", "blocked", document, locked=True)
                    self.entries["CloudConnection"] = entry
                    return True
        for group in self.groups:
            for document, checked in group:
                setting = checked.policies.get("CloudConnection")
                if setting is not None and document.scope is Scope.MACHINE:
                    locked = _mandatory(document) and setting.get("Locked", True)
                    entry = _entry("CloudConnection", "allowed", document, locked)
                    self.entries["CloudConnection"] = entry
                    return False
        return False

    def settings(self) -> None:
        """Apply the keys other than CloudConnection and Purposes, highest level first."""
        for group in self.groups:
            for name in POLICY_NAMES:
                if name in (
                    "CloudConnection",
                    "Purposes",
                    "Settings",
                    *self.entries,
                    *self.conflicts,
                ):
                    continue
                found = [
                    (d, c.policies[name])
                    for d, c in group
                    if name in c.policies and d.scope is Scope.MACHINE
                ]
                if found:
                    self.merge_setting(name, found)

    def agent_settings(self) -> None:
        """Apply ``Settings`` per config key: the highest level wins, then the first file."""
        for group in self.groups:
            for document, checked in group:
                if document.scope is Scope.USER:
                    continue
                for key, value in checked.policies.get("Settings", {}).items():
                    name = f"Settings.{key}"
                    first = self.entries.get(name)
                    if first is None:
                        self.entries[name] = _entry(name, value, document, _mandatory(document))
                    elif first.level is document.level and first.value != value:
                        self.problems.append(
                            PolicyProblem(
                                document.ref,
                                f"policies.{name}",
                                f"conflicts with {first.source} at the same level, whose "
                                "value applies (files are read in name order)",
                            )
                        )

    def merge_setting(self, name: str, found: list[tuple[PolicyDocument, Any]]) -> None:
        """Merge one key across the files of one level (§9.4: most restrictive wins)."""
        first, value = found[0]
        if name == "ShowFirstRunPrompt":
            # Showing the consent dialog keeps the user informed: it is the stricter value.
            first, value = next(((d, v) for d, v in found if v), found[0])
        elif name in _RETENTION:
            first, value = min(found, key=lambda item: int(item[1]))
            value = int(value)
        elif name in _SINGLE_VALUED:
            for other, other_value in found[1:]:
                if _identity(name, other_value) != _identity(name, value):
                    self.problems.append(
                        PolicyProblem(
                            other.ref,
                            f"policies.{name}",
                            f"conflicts with {first.ref} at the same level; every upload "
                            "purpose is blocked until one of them is removed (fail closed)",
                        )
                    )
                    self.fail_closed = self.fail_closed or other.ref
                    self.conflicts.add(name)
                    return
        if name == "Endpoint":
            locked = _mandatory(first) and any(v.get("Locked", True) for _, v in found)
            self.entries[name] = _entry(name, value["Url"], first, locked)
        else:
            self.entries[name] = _entry(name, value, first, _mandatory(first))

    def rules(self, group: Sequence[tuple[PolicyDocument, _Checked]]) -> dict[str, _Rule]:
        """The most restrictive rule per purpose among one level's documents."""
        best: dict[str, _Rule] = {}
        for document, checked in group:
            for purpose, setting in checked.policies.get("Purposes", {}).items():
                rule = self.rule(document, purpose, setting)
                if rule is not None and (purpose not in best or rule.rank < best[purpose].rank):
                    best[purpose] = rule
        return best

    def rule(
        self, document: PolicyDocument, purpose: str, setting: Mapping[str, Any]
    ) -> _Rule | None:
        value = setting["Value"]
        if value == _UNSET:
            return None
        mandatory = document.level is Level.MANDATORY
        locked = setting.get("Status", _LOCKED if mandatory else _DEFAULT) == _LOCKED
        key = f"policies.Purposes.{purpose}"
        if value == _GRANTED and document.scope is Scope.USER:
            self.problems.append(
                PolicyProblem(document.ref, key, "ignored: user policy may only deny, not grant")
            )
            return None
        if value == _GRANTED and locked and not mandatory:
            self.problems.append(
                PolicyProblem(
                    document.ref,
                    f"{key}.Status",
                    "recommended policy cannot lock a grant; applied as 'default'",
                )
            )
            locked = False
        return _Rule(value, locked, document)

    def purposes(self, blocked: bool) -> dict[str, PurposePolicy]:
        """The decision per purpose (§9.4): errors, then blocks from any level, then levels."""
        per_level = [self.rules(group) for group in self.groups]
        cloud = self.entries.get("CloudConnection")
        out: dict[str, PurposePolicy] = {}
        for purpose in UPLOAD_PURPOSES:
            rules = [r[purpose] for r in per_level if purpose in r]
            lock = next((r for r in rules if r.decision is PolicyDecision.DENIED_LOCKED), None)
            invalid = self.fail_closed or self.invalid_purposes.get(purpose)
            if invalid is not None:
                out[purpose] = PurposePolicy(PolicyDecision.INVALID, invalid)
            elif blocked and cloud is not None:
                out[purpose] = PurposePolicy(PolicyDecision.BLOCKED, cloud.source)
            elif rules:
                # A locked deny from any level wins; otherwise the highest level decides.
                rule = lock or rules[0]
                out[purpose] = PurposePolicy(rule.decision, rule.document.ref)
                self.entries[f"Purposes.{purpose}"] = _entry(
                    f"Purposes.{purpose}", rule.value, rule.document, rule.locked
                )
            else:
                out[purpose] = PurposePolicy()
        return out

    def serial_clear(self) -> None:
        """Record ``SendSerialClear: false``, the only value a policy may set."""
        for group in self.groups:
            for document, checked in group:
                setting = checked.policies.get("Purposes", {}).get(Purpose.DEVICE_REGISTRATION, {})
                if "SendSerialClear" in setting:
                    name = f"Purposes.{Purpose.DEVICE_REGISTRATION}.SendSerialClear"
                    self.entries[name] = _entry(name, False, document, _mandatory(document))
                    return

    def result(self, searched: tuple[str, ...]) -> EffectivePolicy:
        for group in self.groups:
            for document, checked in group:
                if document.scope is Scope.USER:
                    self.restrictions_only(document, checked)
        blocked = self.cloud_connection()
        self.settings()
        self.agent_settings()
        self.serial_clear()
        purposes = self.purposes(blocked)
        order = {name: i for i, name in enumerate(POLICY_NAMES)}
        purpose_order = {str(p): i for i, p in enumerate(UPLOAD_PURPOSES)}

        def position(entry: PolicyEntry) -> tuple[int, int, str]:
            head, _, rest = entry.name.partition(".")
            return order[head], purpose_order.get(rest.partition(".")[0], -1), rest

        entries = tuple(sorted(self.entries.values(), key=position))
        cloud = self.entries.get("CloudConnection")
        network_blocked = cloud.source if blocked and cloud is not None else self.fail_closed
        unknown = tuple(
            d.ref
            for group in self.groups
            for d, c in group
            if _mandatory(d) and d.scope is Scope.MACHINE and c.invalid & {_WHOLE, "Settings"}
        )
        refused = tuple(
            (name.removeprefix("Settings."), d.ref)
            for group in self.groups
            for d, c in group
            if _mandatory(d) and d.scope is Scope.MACHINE
            for name in sorted(c.invalid)
            if name.startswith("Settings.")
        )
        return EffectivePolicy(
            entries, purposes, tuple(self.problems), searched, network_blocked, unknown, refused
        )


def resolve(documents: Sequence[PolicyDocument], searched: tuple[str, ...] = ()) -> EffectivePolicy:
    """Validate and merge policy documents into the policy in effect (§9.3, §9.4).

    Each key is validated on its own: an unknown key is reported and ignored; a wrong
    value is reported and its policy ignored, except that a bad ``CloudConnection`` or
    ``Purposes`` entry, a rejected grant and an unreadable source fail closed. A block or
    a locked deny from any level wins; otherwise machine mandatory beats user mandatory
    beats recommended, and files of one level merge per key, the most restrictive value
    winning. User-scope policy only ever restricts; recommended policy never locks a
    grant. Pure: no I/O beyond reading the packaged schema.

    Args:
        documents: as :func:`read_documents` returns them, highest precedence first.
        searched: the locations looked at, kept for the diagnostics page.

    Returns:
        The effective policy; never raises for content problems, which land in ``errors``.
    """
    checked = [(d, _check(d)) for d in documents]
    return _Merge(checked).result(searched)


def load_policy(
    root: Path | None = None,
    platform: str = sys.platform,
    read_registry: RegistryReader = read_windows_registry,
) -> EffectivePolicy:
    """Read and merge every policy source of this OS.

    Args:
        root: read files under this directory instead of ``/`` (tests, disk images).
        platform: a ``sys.platform`` value choosing the locations.
        read_registry: reads a registry hive on Windows (replaceable in tests).

    Returns:
        The effective policy, with every problem found.
    """
    locations = policy_locations(platform, root)
    documents = read_documents(locations, read_registry)
    return resolve(documents, tuple(location.where for location in locations))
