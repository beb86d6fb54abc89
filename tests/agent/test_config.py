"""Config loading, validation messages, atomic saves and corrupt files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from upsight.agent import config as cfg
from upsight.agent.config import Config, ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_is_the_defaults(tmp_path: Path) -> None:
    result = cfg.load(tmp_path / "config.toml")
    assert result == cfg.LoadResult(Config(), ())


def test_every_config_field_has_exactly_one_setting() -> None:
    assert sorted(s.field_name for s in cfg.SETTINGS) == sorted(
        f.name for f in dataclasses.fields(Config)
    )


def test_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        """
version = 1
[agent]
devices = ["sim://outage?speed=10", "dummy:/tmp/x.dev"]
poll_interval_s = 2
onbatt_debounce_s = 5.5
[history]
raw_hours = 24
""",
    )
    result = cfg.load(path)
    assert result.problems == ()
    assert result.config == Config(
        devices=("sim://outage?speed=10", "dummy:/tmp/x.dev"),
        poll_interval_s=2.0,
        onbatt_debounce_s=5.5,
        history_raw_hours=24.0,
    )


def test_bad_values_name_file_key_and_expected_form_and_fall_back(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        """
version = 1
[agent]
poll_interval_s = "fast"
onbatt_debounce_s = -3
devices = ["usb:thing"]
colour = "blue"
""",
    )
    result = cfg.load(path)
    assert result.config == Config()
    text = "\n".join(result.problems)
    assert len(result.problems) == 4
    assert f"{path}: 'agent.poll_interval_s' = 'fast' is invalid" in text
    assert "expected a number of seconds from 0.2 to 60" in text
    assert "'agent.onbatt_debounce_s' = -3 is invalid" in text
    assert "'agent.devices'" in text
    assert "expected one of sim://SCENARIO" in text
    assert "unknown key 'agent.colour' ignored" in text


def test_booleans_are_not_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "version = 1\n[agent]\npoll_interval_s = true\n")
    assert cfg.load(path).config.poll_interval_s == 1.0


def test_corrupt_file_gives_defaults_and_one_clear_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "version = 1\n[agent\npoll = \x00")
    result = cfg.load(path)
    assert result.config == Config()
    assert len(result.problems) == 1
    assert str(path) in result.problems[0]
    assert "not valid TOML" in result.problems[0]


def test_binary_garbage_is_handled(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(bytes(range(256)))
    assert cfg.load(path).config == Config()


def test_other_version_is_reported_but_known_keys_still_apply(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "version = 7\n[agent]\npoll_interval_s = 3\n")
    result = cfg.load(path)
    assert result.config.poll_interval_s == 3.0
    assert "version 7 is not 1" in result.problems[0]


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    config = Config(devices=("sim://normal",), poll_interval_s=0.5, history_hour_days=100.0)
    cfg.save(path, config)
    assert cfg.load(path) == cfg.LoadResult(config, ())
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"], "no temp files left"


def test_save_keeps_a_corrupt_file_aside(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[[[ broken")
    cfg.save(path, Config())
    backups = list(tmp_path.glob("config.toml.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == "[[[ broken"
    assert cfg.load(path).problems == ()


def test_save_failure_leaves_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    cfg.save(path, Config(poll_interval_s=2.0))

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("upsight.agent.config.os.fsync", fail)
    with pytest.raises(OSError, match="No space"):
        cfg.save(path, Config(poll_interval_s=9.0))
    assert cfg.load(path).config.poll_interval_s == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_with_value_validates() -> None:
    assert cfg.with_value(Config(), "agent.poll_interval_s", 5).poll_interval_s == 5.0
    with pytest.raises(ConfigError, match=r"expected a number of seconds from 0\.2 to 60"):
        cfg.with_value(Config(), "agent.poll_interval_s", 0)
    with pytest.raises(ConfigError, match=r"unknown setting 'agent\.nope'; known settings: agent"):
        cfg.with_value(Config(), "agent.nope", 1)
