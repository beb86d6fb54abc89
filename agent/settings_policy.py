"""Agent settings carried by admin policy: managed values override and lock, recommended preset.

Every config key is reachable from policy, either as ``policies.Settings.<key>``
(its JSON Schema fragment is below, and ``resources/policy.schema.json`` holds the
same fragments) or through a privacy policy that already says the same thing
(``Endpoint`` and ``CABundle``), so that an organisation never has two places to
set one value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from upsight.agent import config as config_file
from upsight.agent.config import Config, ConfigError

if TYPE_CHECKING:
    from upsight.agent.privacy.admin_policy import EffectivePolicy, PolicyProblem

log = logging.getLogger(__name__)

SETTINGS_POLICY: Final = "Settings"
"""The policy whose object maps config keys to values."""


def _seconds(low: float, high: float, what: str, example: float) -> dict[str, Any]:
    return {
        "description": f"{what} A number of seconds from {low:g} to {high:g}.",
        "type": "number",
        "minimum": low,
        "maximum": high,
        "examples": [example],
    }


def _count(low: float, high: float, what: str, unit: str, example: float) -> dict[str, Any]:
    return {
        "description": f"{what} A number of {unit} from {low:g} to {high:g}.",
        "type": "number",
        "minimum": low,
        "maximum": high,
        "examples": [example],
    }


def _flag(what: str) -> dict[str, Any]:
    return {"description": f"{what} true or false.", "type": "boolean", "examples": [True]}


SETTING_SCHEMAS: Final[Mapping[str, Mapping[str, Any]]] = {
    "agent.devices": {
        "description": (
            "The UPSes to monitor, one device spec each: hid://VID:PID (USB), megatec:PORT "
            "or apcsmart:PORT (serial), nut://host/ups (a NUT server), battery: (the "
            "computer's battery). An empty list monitors the one UPS found on the machine."
        ),
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "examples": [["hid://051d:0002"]],
    },
    "agent.poll_interval_s": _seconds(0.2, 60, "How often each UPS is read.", 2),
    "agent.onbatt_debounce_s": _seconds(
        0,
        600,
        "How long the mains must stay off before an on-battery event is raised; 0 reports "
        "every blip.",
        5,
    ),
    "agent.nocomm_warn_s": _seconds(
        10, 86400, "How long a UPS may stay silent before a lost-communication warning.", 300
    ),
    "history.raw_hours": _count(1, 720, "How long every reading is kept.", "hours", 48),
    "history.minute_days": _count(1, 3650, "How long per-minute averages are kept.", "days", 90),
    "history.hour_days": _count(1, 36500, "How long per-hour averages are kept.", "days", 1825),
    "history.flush_s": _seconds(
        0.5,
        300,
        "How often readings are written to disk; a crash or power cut loses at most this "
        "much, and a longer interval means fewer disk writes.",
        10,
    ),
    "cloud.max_requests_per_minute": _count(
        1,
        600,
        "The most uploads sent per minute, for an organisation's own collector that takes "
        "more than the default 15.",
        "uploads",
        60,
    ),
    "device.label": {
        "description": (
            "A name for the UPS, at most 64 characters on one line, shown in cloud alerts "
            "when they are allowed."
        ),
        "type": "string",
        "maxLength": 64,
        "pattern": "^[^\\n]*$",
        "examples": ["Rack 3 UPS"],
    },
    "nut_server.listen": {
        "description": (
            "The address NUT clients connect to, HOST:PORT or [v6]:PORT such as "
            "127.0.0.1:3493. Empty turns the built-in NUT server off."
        ),
        "type": "string",
        "maxLength": 300,
        "examples": ["127.0.0.1:3493"],
    },
    "nut_server.users_file": {
        "description": (
            "The path of the NUT server's users file. Empty means nut-users.toml beside the "
            "agent's config.toml."
        ),
        "type": "string",
        "maxLength": 4096,
        "examples": ["/etc/upsight/nut-users.toml"],
    },
    "nut_server.max_clients": {
        "description": "The most NUT clients connected at once. A whole number from 1 to 1000.",
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "examples": [32],
    },
    "protection.action": {
        "description": (
            "What protecting the computer means: shutdown, hibernate, command (run "
            "protection.command), notify (only tell the user) or none (monitor only)."
        ),
        "enum": ["shutdown", "hibernate", "command", "notify", "none"],
        "examples": ["shutdown"],
    },
    "protection.on_battery_s": _seconds(
        0, 86400, "Act after this long on battery; 0 turns this trigger off.", 600
    ),
    "protection.runtime_below_s": _seconds(
        0,
        7200,
        "Act on battery when the UPS reports less runtime than this; 0 turns this trigger off.",
        300,
    ),
    "protection.charge_below_pct": _count(
        0,
        95,
        "Act on battery below this charge when the UPS reports no runtime; 0 turns this "
        "trigger off.",
        "percent",
        20,
    ),
    "protection.on_low_battery": _flag(
        "Act at once when the UPS reports a low battery while on battery (always honoured "
        "when the UPS reports neither runtime nor charge)."
    ),
    "protection.delay_s": _seconds(0, 3600, "The warning given before acting.", 60),
    "protection.allow_postpone": _flag("Whether a user may postpone or cancel a shutdown."),
    "protection.postpone_s": _seconds(10, 3600, "How much one postponement adds.", 300),
    "protection.max_postpones": {
        "description": "Postponements allowed per warning. A whole number from 0 to 10.",
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
        "examples": [1],
    },
    "protection.command": {
        "description": (
            "The program run when protection.action is command, then its arguments, one "
            "item each; no shell is involved. The service runs it as its own account."
        ),
        "type": "array",
        "items": {"type": "string"},
        "examples": [["/usr/local/bin/ups-down", "--now"]],
    },
    "protection.command_timeout_s": _seconds(
        1, 3600, "How long the command may run before it is stopped.", 120
    ),
    "protection.ups_power_off": _flag(
        "After acting, tell the UPS to turn its output off, and on again when mains returns."
    ),
    "protection.ups_power_off_delay_s": _seconds(
        10, 600, "How long the UPS waits before turning its output off.", 120
    ),
    "protection.devices": {
        "description": (
            "The UPSes that power this computer, by the agent's names (ups, ups2, ...). "
            "Empty means every monitored UPS that is not simulated."
        ),
        "type": "array",
        "items": {"type": "string", "pattern": "^ups([0-9]+)?$"},
        "examples": [["ups"]],
    },
    "notifications.enabled": _flag("Whether the desktop app shows notifications."),
    "notifications.min_severity": {
        "description": "The least severe event the desktop app shows: info, warning or critical.",
        "enum": ["info", "warning", "critical"],
        "examples": ["warning"],
    },
}
"""The JSON Schema fragment of every key settable as ``policies.Settings.<key>``."""

CARRIED_BY: Final[Mapping[str, str]] = {
    "cloud.endpoint": "Endpoint",
    "cloud.ca_bundle": "CABundle",
}
"""Config keys that a privacy policy already carries, and which one."""


def settings_schema() -> dict[str, Any]:
    """The ``Settings`` policy's JSON Schema, as ``resources/policy.schema.json`` must hold it."""
    return {
        "description": (
            "Agent settings, by config key (the keys of upsight config show). In managed "
            "policy a value is enforced and the user cannot change it; in recommended "
            "policy it is the default the user may change. Endpoint and CABundle carry "
            "cloud.endpoint and cloud.ca_bundle."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {key: dict(fragment) for key, fragment in SETTING_SCHEMAS.items()},
    }


@dataclass(frozen=True)
class PolicyValue:
    """One config value set by policy.

    Attributes:
        value: as the policy gives it (JSON types).
        source: the file path or registry key it came from.
        locked: managed policy (the user cannot change it); ``False``: a default.
    """

    value: object
    source: str
    locked: bool


@dataclass(frozen=True)
class Locks:
    """Config keys the organisation manages, each with the policy source that locks it."""

    sources: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, key: object) -> bool:
        return key in self.sources

    def source(self, key: str) -> str | None:
        """The policy source locking ``key``, or ``None`` when the user may change it."""
        return self.sources.get(key)

    def check(self, key: str) -> None:
        """Refuse a change to a locked key.

        Raises:
            ConfigError: ``key`` is locked; the message names the policy source.
        """
        source = self.sources.get(key)
        if source is not None:
            raise ConfigError(f"'{key}' is managed by your organization ({source})")


NO_LOCKS: Final = Locks()


def _config_key(policy_name: str) -> str | None:
    prefix = f"{SETTINGS_POLICY}."
    if policy_name.startswith(prefix):
        return policy_name.removeprefix(prefix)
    return next((key for key, name in CARRIED_BY.items() if name == policy_name), None)


def policy_values(policy: EffectivePolicy) -> dict[str, PolicyValue]:
    """Every config key the policy in effect sets, with its source and lock.

    Args:
        policy: the merged admin policy.

    Returns:
        Config key to value, unchecked: see :func:`setting_problems`.
    """
    out: dict[str, PolicyValue] = {}
    for entry in policy.entries:
        key = _config_key(entry.name)
        if key is not None:
            out[key] = PolicyValue(entry.value, entry.source, entry.locked)
    return out


def _checked(policy: EffectivePolicy) -> tuple[list[tuple[str, PolicyValue]], list[PolicyProblem]]:
    """The policy values the agent accepts, and those it refuses as problems."""
    from upsight.agent.privacy.admin_policy import PolicyProblem

    good: list[tuple[str, PolicyValue]] = []
    bad: list[PolicyProblem] = []
    for key, value in policy_values(policy).items():
        try:
            config_file.with_value(Config(), key, value.value)
        except ConfigError as exc:
            # The schema cannot check everything (device specs, listen addresses).
            name = CARRIED_BY.get(key, f"{SETTINGS_POLICY}.{key}")
            bad.append(PolicyProblem(value.source, f"policies.{name}", f"{exc}; ignored"))
        else:
            good.append((key, value))
    return good, bad


def setting_problems(policy: EffectivePolicy) -> tuple[PolicyProblem, ...]:
    """Policy values that pass the schema but that the agent still refuses, with their source."""
    return tuple(_checked(policy)[1])


def apply_policy(config: Config, policy: EffectivePolicy) -> tuple[Config, Locks]:
    """The user's config with the admin policy applied (privacy-design.md §9.4).

    A managed value overrides the user's and locks the key. A recommended value is
    the default: it applies while the user's value is still the built-in default, so
    a user who chose otherwise keeps that choice. A value the agent refuses is logged
    with its source and ignored; nothing here raises.

    Fail-safe: a broken managed source never unlocks anything. A managed value the schema
    or the agent refuses still locks its key, and a managed source whose settings cannot be read at
    all locks every key, each at the user's value, until the source is fixed.

    Args:
        config: the user's config, as the config file holds it.
        policy: the merged admin policy.

    Returns:
        The effective config, and the keys it locks.
    """
    built_in = config_file.as_table(Config())
    chosen = config_file.as_table(config)
    good, bad = _checked(policy)
    for problem in bad:
        log.warning("policy %s: %s: %s", problem.source, problem.key, problem.problem)
    locks: dict[str, str] = {
        key: value.source for key, value in policy_values(policy).items() if value.locked
    }
    for key, source in policy.refused_settings:
        locks.setdefault(key, source)
    for source in policy.unknown_settings:
        for key in chosen:
            locks.setdefault(key, source)
    for key, value in good:
        if value.locked:
            locks[key] = value.source
        elif chosen[key] != built_in[key]:
            continue
        config = config_file.with_value(config, key, value.value)
    return config, Locks(locks)
