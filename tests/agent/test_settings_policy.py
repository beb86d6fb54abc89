"""Agent settings from admin policy: coverage of every key, locks, defaults and bad values."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from upsight.agent import cli, policy_cli
from upsight.agent import config as config_file
from upsight.agent.config import Config, ConfigError
from upsight.agent.paths import AppPaths
from upsight.agent.privacy import admin_policy
from upsight.agent.privacy.admin_policy import EffectivePolicy, Scope, load_policy
from upsight.agent.service import Agent
from upsight.agent.settings_policy import (
    CARRIED_BY,
    SETTING_SCHEMAS,
    apply_policy,
    setting_problems,
    settings_schema,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ORIGINAL_LOAD_POLICY = admin_policy.load_policy


def write(root: Path, level: str, name: str, policies: Mapping[str, Any]) -> str:
    directory = root / "etc" / "upsight" / "policies" / level
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps({"schema_version": 1, "policies": policies}))
    return str(path)


def load(root: Path) -> EffectivePolicy:
    return load_policy(root, "linux")


# --- The table covers every key -----------------------------------------------------------


def test_every_config_key_is_carried_by_policy_exactly_once() -> None:
    keys = {s.key for s in config_file.SETTINGS}
    assert set(SETTING_SCHEMAS) | set(CARRIED_BY) == keys
    assert not set(SETTING_SCHEMAS) & set(CARRIED_BY)
    assert set(CARRIED_BY.values()) <= set(admin_policy.POLICY_NAMES)


def test_the_packaged_schema_holds_the_settings_table() -> None:
    packaged = admin_policy.policy_schema()["properties"]["policies"]["properties"]["Settings"]
    assert packaged == settings_schema(), (
        "resources/policy.schema.json is out of date; its policies.Settings must be:\n"
        + json.dumps(settings_schema(), indent=2)
    )


@pytest.mark.parametrize("key", sorted(SETTING_SCHEMAS))
def test_schema_fragment_agrees_with_the_config(key: str) -> None:
    fragment = SETTING_SCHEMAS[key]
    assert fragment["description"]
    for example in fragment["examples"]:
        Draft202012Validator(fragment).validate(example)
        config_file.with_value(Config(), key, example)
    if "minimum" in fragment:
        low, high = fragment["minimum"], fragment["maximum"]
        config_file.with_value(Config(), key, low)
        config_file.with_value(Config(), key, high)
        step = 1 if fragment["type"] == "integer" else max(1e-6, abs(low) * 1e-6)
        for outside in (low - step, high + step):
            assert not Draft202012Validator(fragment).is_valid(outside)
            with pytest.raises(ConfigError):
                config_file.with_value(Config(), key, outside)
    for choice in fragment.get("enum", ()):
        config_file.with_value(Config(), key, choice)


def test_the_admin_guide_lists_every_key() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [k for k in (s.key for s in config_file.SETTINGS) if f"`{k}`" not in text] == []


# --- Managed, recommended, the user's choice ------------------------------------------------


def test_managed_value_overrides_the_user_and_locks_the_key(tmp_path: Path) -> None:
    source = write(tmp_path, "managed", "10-corp.json", {"Settings": {"agent.poll_interval_s": 5}})
    config, locks = apply_policy(Config(poll_interval_s=2.0), load(tmp_path))
    assert config.poll_interval_s == 5.0
    assert locks.source("agent.poll_interval_s") == source
    assert "agent.poll_interval_s" in locks
    assert "agent.nocomm_warn_s" not in locks


def test_recommended_value_is_a_default_the_user_may_change(tmp_path: Path) -> None:
    write(tmp_path, "recommended", "10-corp.json", {"Settings": {"agent.nocomm_warn_s": 600}})
    policy = load(tmp_path)
    config, locks = apply_policy(Config(), policy)
    assert config.nocomm_warn_s == 600.0
    assert locks.sources == {}
    mine, _ = apply_policy(Config(nocomm_warn_s=120.0), policy)
    assert mine.nocomm_warn_s == 120.0


def test_managed_wins_over_recommended(tmp_path: Path) -> None:
    write(tmp_path, "managed", "a.json", {"Settings": {"history.raw_hours": 24}})
    write(tmp_path, "recommended", "a.json", {"Settings": {"history.raw_hours": 100}})
    config, locks = apply_policy(Config(), load(tmp_path))
    assert config.history_raw_hours == 24.0
    assert "history.raw_hours" in locks


def test_endpoint_policy_carries_cloud_endpoint(tmp_path: Path) -> None:
    source = write(tmp_path, "managed", "a.json", {"Endpoint": {"Url": "https://ups.corp.example"}})
    config, locks = apply_policy(Config(), load(tmp_path))
    assert config.cloud_endpoint == "https://ups.corp.example"
    assert locks.source("cloud.endpoint") == source


def test_two_files_of_one_level_disagreeing_is_reported(tmp_path: Path) -> None:
    first = write(tmp_path, "managed", "10-a.json", {"Settings": {"agent.poll_interval_s": 5}})
    second = write(tmp_path, "managed", "20-b.json", {"Settings": {"agent.poll_interval_s": 9}})
    policy = load(tmp_path)
    config, _ = apply_policy(Config(), policy)
    assert config.poll_interval_s == 5.0
    [problem] = policy.errors
    assert (problem.source, problem.key) == (second, "policies.Settings.agent.poll_interval_s")
    assert first in problem.problem


def test_user_scope_policy_cannot_set_settings(tmp_path: Path) -> None:
    def registry(scope: Scope) -> Mapping[str, object] | None:
        return {"Settings": {"agent.poll_interval_s": "5"}} if scope is Scope.USER else None

    policy = load_policy(tmp_path, "win32", registry)
    assert apply_policy(Config(), policy)[0] == Config()
    assert [e.key for e in policy.errors] == ["policies.Settings"]


def test_registry_values_become_json_types(tmp_path: Path) -> None:
    tree = {
        "Settings": {
            "agent.poll_interval_s": "0.5",
            "nut_server.max_clients": 8,
            "protection.on_low_battery": 0,
            "agent.devices": {"2": "sim://outage", "1": "sim://normal", "10": "sim://flicker"},
        }
    }

    def registry(scope: Scope) -> Mapping[str, object] | None:
        return tree if scope is Scope.MACHINE else None

    config, locks = apply_policy(Config(), load_policy(tmp_path, "win32", registry))
    assert config.poll_interval_s == 0.5
    assert config.nut_max_clients == 8
    assert config.protection_on_low_battery is False
    assert config.devices == ("sim://normal", "sim://outage", "sim://flicker")
    assert locks.source("agent.devices") == r"HKLM\SOFTWARE\Policies\Upsight"


# --- Problems are reported with their source, and never stop anything --------------------


def test_a_managed_value_out_of_range_is_reported_and_locks_the_users_value(
    tmp_path: Path,
) -> None:
    source = write(
        tmp_path,
        "managed",
        "a.json",
        {"Settings": {"history.raw_hours": 0, "agent.poll_interval_s": 3}},
    )
    policy = load(tmp_path)
    [problem] = policy.errors
    assert (problem.source, problem.key) == (source, "policies.Settings.history.raw_hours")
    assert "out of range" in problem.problem
    config, locks = apply_policy(Config(), policy)
    assert config.history_raw_hours == Config().history_raw_hours
    # Fail-safe: a broken managed value never unlocks the key it meant to manage.
    assert locks.source("history.raw_hours") == source
    assert config.poll_interval_s == 3.0


def test_a_value_the_agent_refuses_is_reported_with_its_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = write(tmp_path, "managed", "a.json", {"Settings": {"agent.devices": ["usb:thing"]}})
    policy = load(tmp_path)
    [problem] = setting_problems(policy)
    assert (problem.source, problem.key) == (source, "policies.Settings.agent.devices")
    assert "bad device spec 'usb:thing'" in problem.problem
    with caplog.at_level(logging.WARNING):
        config, locks = apply_policy(Config(devices=("sim://normal",)), policy)
    assert config.devices == ("sim://normal",)
    # Fail-safe: a refused managed value keeps the key locked at the user's value.
    assert locks.source("agent.devices") == source
    assert f"policy {source}: policies.Settings.agent.devices" in caplog.text


def test_a_broken_managed_source_locks_every_setting_at_the_users_value(tmp_path: Path) -> None:
    write(tmp_path, "recommended", "r.json", {"Settings": {"agent.poll_interval_s": 9}})
    broken = tmp_path / "etc/upsight/policies/managed/10-broken.json"
    broken.parent.mkdir()
    broken.write_bytes(b'{"schema_version": 1, "policies": {"Settings": {"agent.poll')
    config, locks = apply_policy(Config(poll_interval_s=2.0), load(tmp_path))
    assert config.poll_interval_s == 2.0
    assert {locks.source(s.key) for s in config_file.SETTINGS} == {str(broken)}
    with pytest.raises(ConfigError, match=r"'agent.poll_interval_s' is managed by your organiz"):
        locks.check("agent.poll_interval_s")


def test_an_unreadable_policy_file_is_reported_and_the_rest_applies(tmp_path: Path) -> None:
    write(tmp_path, "managed", "20-good.json", {"Settings": {"agent.poll_interval_s": 4}})
    # A directory where a file should be cannot be read, even by root.
    broken = tmp_path / "etc/upsight/policies/managed/10-broken.json"
    broken.mkdir()
    policy = load(tmp_path)
    [problem] = policy.errors
    assert problem.source == str(broken)
    assert "cannot be read" in problem.problem
    config, _ = apply_policy(Config(), policy)
    assert config.poll_interval_s == 4.0


# --- The agent and the command line honour the locks -----------------------------------------


@pytest.fixture
def app_paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")


def test_agent_refuses_a_locked_key_and_keeps_policy_values_out_of_the_file(
    tmp_path: Path, app_paths: AppPaths
) -> None:
    source = write(tmp_path, "managed", "a.json", {"Settings": {"agent.poll_interval_s": 5}})
    write(tmp_path, "recommended", "a.json", {"Settings": {"agent.nocomm_warn_s": 600}})
    config, locks = apply_policy(Config(), load(tmp_path))
    agent = Agent(app_paths, config, ["sim://normal"], serve_api=False, locks=locks)
    try:
        with pytest.raises(ConfigError) as refused:
            agent.set_setting("agent.poll_interval_s", 1)
        assert str(refused.value) == (
            f"'agent.poll_interval_s' is managed by your organization ({source})"
        )
        updated = agent.set_setting("agent.onbatt_debounce_s", 3)
    finally:
        agent.stop()
    assert (updated.poll_interval_s, updated.nocomm_warn_s, updated.onbatt_debounce_s) == (
        5.0,
        600.0,
        3.0,
    )
    saved = config_file.load(app_paths.config_file).config
    assert saved == Config(onbatt_debounce_s=3.0)


@pytest.fixture
def policy_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command line reads policy from a temporary tree instead of /etc."""
    root = tmp_path / "root"
    monkeypatch.setattr(admin_policy, "load_policy", lambda: ORIGINAL_LOAD_POLICY(root, "linux"))
    for name in ("CONFIG", "DATA", "RUNTIME"):
        monkeypatch.setenv(f"UPSIGHT_{name}_DIR", str(tmp_path / name.lower()))
    return root


def test_config_show_marks_locked_keys(
    policy_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(policy_root, "managed", "a.json", {"Settings": {"history.hour_days": 400}})
    assert cli.main(["config", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"history.hour_days = 400.0  # locked: managed by your organization ({source})" in lines
    assert "history.minute_days = 90.0" in lines


def test_config_set_refuses_a_locked_key_without_an_agent(
    policy_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(policy_root, "managed", "a.json", {"Settings": {"history.hour_days": 400}})
    assert cli.main(["config", "set", "history.hour_days", "10"]) == 2
    assert f"managed by your organization ({source})" in capsys.readouterr().err
    assert cli.main(["config", "set", "history.minute_days", "10"]) == 0


def test_policy_show_lists_settings_and_the_values_the_agent_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(
        tmp_path,
        "managed",
        "a.json",
        {"Settings": {"agent.poll_interval_s": 5, "agent.devices": ["usb:x"]}},
    )
    assert policy_cli.main(["show", "--json", "--root", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    active = {e["name"]: e for e in shown["active"]}
    poll = active["Settings.agent.poll_interval_s"]
    assert (poll["value"], poll["source"], poll["locked"]) == (5, source, True)
    assert [(e["source"], e["key"]) for e in shown["errors"]] == [
        (source, "policies.Settings.agent.devices")
    ]
