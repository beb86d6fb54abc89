"""Protection settings: config keys, defaults, and combinations that cannot work made safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from upsight.agent import config as config_file
from upsight.agent.config import Config, ConfigError
from upsight.agent.protection.actions import ActionKind
from upsight.agent.protection.settings import ProtectionSettings, duration_text


def test_defaults_are_what_a_careful_user_expects() -> None:
    settings = ProtectionSettings.from_config(Config())
    assert settings == ProtectionSettings(stale_after_s=3.0)
    assert settings.action is ActionKind.SHUTDOWN
    assert (settings.runtime_below_s, settings.charge_below_pct, settings.on_battery_s) == (
        300.0,
        20.0,
        0.0,
    )
    assert (settings.delay_s, settings.postpone_s, settings.max_postpones) == (60.0, 300.0, 1)
    assert settings.on_low_battery
    assert settings.allow_postpone
    assert not settings.ups_power_off
    assert settings.problems == ()


def test_the_protection_section_of_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "version = 1\n"
        "[agent]\npoll_interval_s = 2\n"
        '[protection]\naction = "command"\ncommand = ["/usr/local/bin/vms-down", "--all"]\n'
        "delay_s = 30\nmax_postpones = 2\nups_power_off = true\n"
        'devices = ["ups", "ups2"]\n'
        '[notifications]\nenabled = false\nmin_severity = "critical"\n'
    )
    loaded = config_file.load(path)
    assert loaded.problems == ()
    settings = ProtectionSettings.from_config(loaded.config)
    assert settings.action is ActionKind.COMMAND
    assert settings.command == ("/usr/local/bin/vms-down", "--all")
    assert (settings.delay_s, settings.max_postpones, settings.ups_power_off) == (30.0, 2, True)
    assert settings.devices == ("ups", "ups2")
    assert settings.stale_after_s == 6.0
    assert not loaded.config.notifications_enabled
    assert loaded.config.notifications_min_severity == "critical"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("protection.action", "reboot", '"shutdown", "hibernate", "command"'),
        ("protection.command", "shutdown -h now", "as a list"),
        ("protection.command", ["", "x"], "as a list"),
        ("protection.max_postpones", 1.5, "whole number"),
        ("protection.on_low_battery", "yes", "true or false"),
        ("protection.devices", ["UPS"], '["ups", "ups2"]'),
        ("protection.ups_power_off_delay_s", 5, "from 10 to 600"),
        ("notifications.min_severity", "debug", '"info", "warning" or "critical"'),
    ],
)
def test_bad_values_are_refused_naming_the_expected_form(
    key: str, value: object, expected: str
) -> None:
    with pytest.raises(ConfigError, match="expected") as refused:
        config_file.with_value(Config(), key, value)
    assert expected in str(refused.value)


def test_a_command_action_without_a_command_only_notifies_and_says_why() -> None:
    settings = ProtectionSettings.from_config(Config(protection_action="command"))
    assert settings.action is ActionKind.NOTIFY
    assert "protection.command is empty" in settings.problems[0]
    assert settings.problems[0] in settings.rules()


def test_the_low_battery_flag_cannot_be_the_last_thing_turned_off() -> None:
    config = Config(
        protection_on_low_battery=False,
        protection_runtime_below_s=0.0,
        protection_charge_below_pct=0.0,
    )
    settings = ProtectionSettings.from_config(config)
    assert settings.on_low_battery
    assert "only warning left" in settings.problems[0]
    kept = ProtectionSettings.from_config(Config(protection_on_low_battery=False))
    assert not kept.on_low_battery
    assert kept.problems == ()


def test_rules_read_as_sentences() -> None:
    settings = ProtectionSettings(on_battery_s=600.0, allow_postpone=False, ups_power_off=True)
    assert settings.rules() == [
        "On battery, act 1 min after a warning when: runtime below 5 min; or charge below "
        "20 %, when the UPS reports no runtime; or 10 min on battery.",
        "Act at once when the UPS reports a low battery on battery (OB LB).",
        "Act at once on a forced shutdown (FSD).",
        "Postponing and cancelling are not allowed by settings.",
        "After acting, the UPS turns its output off in 2 min and back on when mains returns.",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.6, "1 min"), (250, "4 min 10 s"), (3600, "1 h"), (3960, "1 h 6 min")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
