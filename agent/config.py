"""The agent's versioned config file: a table of settings, lenient loading, atomic saves.

A bad value never stops the agent: it is reported with the file, the key and
the expected form, and the default is used instead.
"""

from __future__ import annotations

import logging
import os
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from upsight.agent.durable import replace_file
from upsight.drivers.errors import DeviceSpecError, UpsError
from upsight.drivers.spec import parse_spec

log = logging.getLogger(__name__)

CONFIG_VERSION: Final = 1


class ConfigError(UpsError):
    """A setting was given a value it cannot take."""


@dataclass(frozen=True)
class Config:
    """Every setting the agent reads, with its default."""

    devices: tuple[str, ...] = ()
    poll_interval_s: float = 1.0
    onbatt_debounce_s: float = 0.0
    nocomm_warn_s: float = 300.0
    history_raw_hours: float = 48.0
    history_minute_days: float = 90.0
    history_hour_days: float = 1825.0
    history_flush_s: float = 10.0
    cloud_endpoint: str = ""
    cloud_ca_bundle: str = ""
    cloud_max_requests_per_minute: float = 15.0
    device_label: str = ""
    nut_listen: str = ""
    nut_users_file: str = ""
    nut_max_clients: int = 32
    protection_action: str = "shutdown"
    protection_on_battery_s: float = 0.0
    protection_runtime_below_s: float = 300.0
    protection_charge_below_pct: float = 20.0
    protection_on_low_battery: bool = True
    protection_delay_s: float = 60.0
    protection_allow_postpone: bool = True
    protection_postpone_s: float = 300.0
    protection_max_postpones: int = 1
    protection_command: tuple[str, ...] = ()
    protection_command_timeout_s: float = 120.0
    protection_ups_power_off: bool = False
    protection_ups_power_off_delay_s: float = 120.0
    protection_devices: tuple[str, ...] = ()
    notifications_enabled: bool = True
    notifications_min_severity: str = "info"


@dataclass(frozen=True)
class Setting:
    """One config key: where it lives in the file, which field it fills, what it accepts."""

    key: str
    field_name: str
    expected: str
    convert: Callable[[Any], Any]


def _number(low: float, high: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        # Compared before converting: float() overflows on integers past 1e308.
        if not low <= value <= high:
            raise ValueError
        return float(value)

    return convert


def _endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    if value:
        # The transport refuses plain http except to loopback; say so when it is set.
        from upsight.agent.privacy.transport import check_endpoint

        check_endpoint(value)
    return value


def _text(limit: int) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit or "\n" in value:
            raise ValueError
        return value

    return convert


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError
        return value

    return convert


def _listen(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    if value:
        from upsight.agent.nut_server.server import parse_listen

        parse_listen(value)
    return value


def _devices(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    for spec in value:
        parse_spec(spec)
    return tuple(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError
        return str(value)

    return convert


def _argv(value: Any) -> tuple[str, ...]:
    # An argument list, never a shell line: each item reaches the program as it is.
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    if value and not value[0]:
        raise ValueError
    return tuple(value)


def _device_names(value: Any) -> tuple[str, ...]:
    # The agent's short names: ups, ups2, ups3 ...
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.startswith("ups") and (v == "ups" or v[3:].isdecimal())
        for v in value
    ):
        raise ValueError
    return tuple(value)


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "agent.devices",
        "devices",
        'a list of device specs such as ["sim://normal"]; empty means find one',
        _devices,
    ),
    Setting(
        "agent.poll_interval_s",
        "poll_interval_s",
        "a number of seconds from 0.2 to 60",
        _number(0.2, 60),
    ),
    Setting(
        "agent.onbatt_debounce_s",
        "onbatt_debounce_s",
        "a number of seconds from 0 to 600 (0 reports every mains blip)",
        _number(0, 600),
    ),
    Setting(
        "agent.nocomm_warn_s",
        "nocomm_warn_s",
        "a number of seconds from 10 to 86400",
        _number(10, 86400),
    ),
    Setting(
        "history.raw_hours", "history_raw_hours", "a number of hours from 1 to 720", _number(1, 720)
    ),
    Setting(
        "history.minute_days",
        "history_minute_days",
        "a number of days from 1 to 3650",
        _number(1, 3650),
    ),
    Setting(
        "history.hour_days",
        "history_hour_days",
        "a number of days from 1 to 36500",
        _number(1, 36500),
    ),
    Setting(
        "history.flush_s",
        "history_flush_s",
        "a number of seconds from 0.5 to 300",
        _number(0.5, 300),
    ),
    Setting(
        "cloud.endpoint",
        "cloud_endpoint",
        "an https:// URL of the Upsight cloud (http:// only to 127.0.0.1 or ::1); "
        "empty keeps uploads queued",
        _endpoint,
    ),
    Setting(
        "cloud.ca_bundle",
        "cloud_ca_bundle",
        "the path of a PEM file of extra trusted CA certificates, or empty",
        _text(4096),
    ),
    Setting(
        "cloud.max_requests_per_minute",
        "cloud_max_requests_per_minute",
        "a number of uploads per minute from 1 to 600 (an organisation's own collector "
        "may take more than the default 15)",
        _number(1, 600),
    ),
    Setting(
        "device.label",
        "device_label",
        "a name for the UPS of at most 64 characters, shown in cloud alerts if you allow them",
        _text(64),
    ),
    Setting(
        "nut_server.listen",
        "nut_listen",
        'the address NUT clients connect to, "HOST:PORT" or "[v6]:PORT" such as '
        '"127.0.0.1:3493"; empty turns the NUT server off',
        _listen,
    ),
    Setting(
        "nut_server.users_file",
        "nut_users_file",
        "the path of the NUT server's users file; empty means nut-users.toml beside config.toml",
        _text(4096),
    ),
    Setting(
        "nut_server.max_clients",
        "nut_max_clients",
        "a whole number of simultaneous NUT clients from 1 to 1000",
        _integer(1, 1000),
    ),
    Setting(
        "protection.action",
        "protection_action",
        '"shutdown", "hibernate", "command" (run protection.command), "notify" (only tell '
        'you) or "none" (monitor only)',
        _choice("shutdown", "hibernate", "command", "notify", "none"),
    ),
    Setting(
        "protection.on_battery_s",
        "protection_on_battery_s",
        "a number of seconds on battery after which to act, from 0 to 86400 (0 is off)",
        _number(0, 86400),
    ),
    Setting(
        "protection.runtime_below_s",
        "protection_runtime_below_s",
        "act on battery when the UPS reports less runtime than this many seconds, "
        "from 0 to 7200 (0 is off)",
        _number(0, 7200),
    ),
    Setting(
        "protection.charge_below_pct",
        "protection_charge_below_pct",
        "act on battery below this charge in percent when the UPS reports no runtime, "
        "from 0 to 95 (0 is off)",
        _number(0, 95),
    ),
    Setting(
        "protection.on_low_battery",
        "protection_on_low_battery",
        "true or false: act at once when the UPS reports a low battery on battery (it is "
        "honoured anyway when the UPS reports neither runtime nor charge)",
        _flag,
    ),
    Setting(
        "protection.delay_s",
        "protection_delay_s",
        "a number of seconds of warning before acting, from 0 to 3600",
        _number(0, 3600),
    ),
    Setting(
        "protection.allow_postpone",
        "protection_allow_postpone",
        "true or false: whether a user may postpone or cancel a scheduled shutdown",
        _flag,
    ),
    Setting(
        "protection.postpone_s",
        "protection_postpone_s",
        "a number of seconds one postponement adds, from 10 to 3600",
        _number(10, 3600),
    ),
    Setting(
        "protection.max_postpones",
        "protection_max_postpones",
        "a whole number of postponements allowed per warning, from 0 to 10",
        _integer(0, 10),
    ),
    Setting(
        "protection.command",
        "protection_command",
        'the program and its arguments as a list, such as ["/usr/local/bin/ups-down", '
        '"--now"]; no shell is used',
        _argv,
    ),
    Setting(
        "protection.command_timeout_s",
        "protection_command_timeout_s",
        "a number of seconds the command may run before it is stopped, from 1 to 3600",
        _number(1, 3600),
    ),
    Setting(
        "protection.ups_power_off",
        "protection_ups_power_off",
        "true or false: after acting, tell the UPS to turn its output off and back on when "
        "mains returns (shutdown.return)",
        _flag,
    ),
    Setting(
        "protection.ups_power_off_delay_s",
        "protection_ups_power_off_delay_s",
        "a number of seconds the UPS waits before turning its output off, from 10 to 600",
        _number(10, 600),
    ),
    Setting(
        "protection.devices",
        "protection_devices",
        'the UPSes that power this computer, such as ["ups", "ups2"]; empty means every '
        "monitored UPS that is not simulated",
        _device_names,
    ),
    Setting(
        "notifications.enabled",
        "notifications_enabled",
        "true or false: whether the desktop app shows notifications",
        _flag,
    ),
    Setting(
        "notifications.min_severity",
        "notifications_min_severity",
        '"info", "warning" or "critical": the least severe event the desktop app shows',
        _choice("info", "warning", "critical"),
    ),
)
_BY_KEY: Final[Mapping[str, Setting]] = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class LoadResult:
    """A loaded config and every problem found while loading it."""

    config: Config
    problems: tuple[str, ...] = field(default_factory=tuple)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load(path: Path) -> LoadResult:
    """Read the config file; a missing file is simply the defaults.

    Never raises for content problems: they come back in ``problems``.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadResult(Config())
    except OSError as exc:
        return LoadResult(Config(), (f"{path}: cannot be read ({exc.strerror}); using defaults",))
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # Besides TOMLDecodeError, tomllib lets out ValueError for integers past Python's
        # digit limit and RecursionError for deeply nested arrays.
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        return LoadResult(Config(), (f"{path}: not valid TOML ({why}); using defaults",))
    problems: list[str] = []
    version = table.pop("version", None)
    if version is None:
        problems.append(f"{path}: no 'version' key; reading it as version {CONFIG_VERSION}")
    elif version != CONFIG_VERSION:
        problems.append(
            f"{path}: version {_describe(version)} is not {CONFIG_VERSION}; "
            "reading the keys this version knows"
        )
    values: dict[str, Any] = {}
    for key, value in _flatten(table).items():
        setting = _BY_KEY.get(key)
        if setting is None:
            problems.append(f"{path}: unknown key '{key}' ignored")
            continue
        try:
            values[setting.field_name] = setting.convert(value)
        except (ValueError, DeviceSpecError) as exc:
            detail = f" ({exc})" if isinstance(exc, DeviceSpecError) else ""
            problems.append(
                f"{path}: '{key}' = {_describe(value)} is invalid{detail}; expected "
                f"{setting.expected}; using the default"
            )
    return LoadResult(Config(**values), tuple(problems))


def with_value(config: Config, key: str, value: Any) -> Config:
    """A copy of ``config`` with one setting changed.

    Raises:
        ConfigError: unknown key or a value the key cannot take, naming the expected form.
    """
    setting = _BY_KEY.get(key)
    if setting is None:
        known = ", ".join(s.key for s in SETTINGS)
        raise ConfigError(f"unknown setting '{key}'; known settings: {known}")
    try:
        converted = setting.convert(value)
    except (ValueError, DeviceSpecError) as exc:
        detail = f" ({exc})" if isinstance(exc, DeviceSpecError) else ""
        raise ConfigError(
            f"'{key}' = {_describe(value)} is invalid{detail}; expected {setting.expected}"
        ) from None
    return replace(config, **{setting.field_name: converted})


def as_table(config: Config) -> dict[str, Any]:
    """The config as dotted keys and file values, in the order of ``SETTINGS``."""
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        value = getattr(config, setting.field_name)
        out[setting.key] = list(value) if isinstance(value, tuple) else value
    return out


def _nested(config: Config) -> dict[str, Any]:
    table: dict[str, Any] = {"version": CONFIG_VERSION}
    for key, value in as_table(config).items():
        section, _, name = key.partition(".")
        table.setdefault(section, {})[name] = value
    return table


def save(path: Path, config: Config) -> None:
    """Write the config atomically: temporary file, fsync, rename.

    A file that no longer parses is kept beside it as ``<name>.corrupt-<time>``
    rather than overwritten, so a hand edit gone wrong is never lost.
    """
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and any("not valid TOML" in p for p in load(path).problems):
        backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, backup)
        log.warning("kept the unreadable config file as %s", backup)
    data = tomli_w.dumps(_nested(config)).encode("utf-8")
    replace_file(path, data)
