"""``upsight policy show`` and ``upsight policy validate`` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from upsight.agent.cli import main

UPSIGHT = Path(sys.executable).with_name("upsight")

CLEAN = {
    "schema_version": 1,
    "policies": {
        "CloudConnection": {"Value": "allowed", "Locked": True},
        "Purposes": {
            "cloud_alerts": {"Value": "granted", "Status": "locked"},
            "location": {"Value": "denied", "Status": "locked"},
        },
    },
}

# Five problems, one of each kind, at five JSON paths.
MESSY = {
    "schema_version": 1,
    "policies": {
        "Telemetry": True,
        "CloudConnection": "allowed",
        "LedgerRetentionDays": "30",
        "Purposes": {
            "diagnostics": {"Value": "granted", "Status": "locked"},
            "device_registration": {"Value": "granted", "SendSerialClear": True},
        },
    },
}
MESSY_PATHS = [
    "policies.CloudConnection",
    "policies.LedgerRetentionDays",
    "policies.Purposes.device_registration.SendSerialClear",
    "policies.Purposes.diagnostics.Value",
    "policies.Telemetry",
]


def policy_dir(root: Path, level: str) -> Path:
    directory = root / "etc" / "upsight" / "policies" / level
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["policy", *args])
    return code, capsys.readouterr().out


def test_show_without_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", "--root", str(tmp_path))
    assert code == 0
    assert "No policy is set." in out
    assert "left to the user" in out
    assert str(policy_dir(tmp_path, "managed")) in out
    assert "policy.schema.json" in out


def test_show_lists_active_values_with_their_sources_and_the_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = policy_dir(tmp_path, "managed") / "10-corp.json"
    good.write_text(json.dumps(CLEAN))
    bad = policy_dir(tmp_path, "recommended") / "20-oops.json"
    bad.write_text(json.dumps({"schema_version": 1, "policies": {"Colour": "red"}}))
    code, out = run(capsys, "show", "--root", str(tmp_path))
    assert code == 0
    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert sections == ["Active", "Purposes", "Errors", "Documentation"]
    active = out.split("Active\n")[1].split("\n\n")[0].splitlines()
    assert active[0].split() == ["NAME", "VALUE", "SCOPE", "STATUS", "SOURCE"]
    assert active[1].split() == ["CloudConnection", "allowed", "machine", "locked", str(good)]
    assert ["Purposes.cloud_alerts", "granted", "machine", "locked", str(good)] in [
        line.split() for line in active
    ]
    assert f"  {bad}: policies.Colour: unknown key ignored" in out
    assert "upsight policy validate FILE" in out


def test_show_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policy_dir(tmp_path, "managed") / "a.json").write_text(json.dumps(CLEAN))
    (policy_dir(tmp_path, "managed") / "b.json").write_text("{")
    code, out = run(capsys, "show", "--json", "--root", str(tmp_path))
    assert code == 0
    shown = json.loads(out)
    assert set(shown) == {"active", "purposes", "errors", "searched", "schema"}
    assert shown["purposes"]["location"]["decision"] == "invalid"
    [error] = shown["errors"]
    assert error["source"].endswith("b.json")
    assert error["key"] == ""
    assert "not valid JSON" in error["problem"]
    entry = shown["active"][0]
    assert set(entry) == {"name", "value", "source", "scope", "level", "locked"}
    assert entry["scope"] == "machine"
    assert entry["level"] == "mandatory"


def test_validate_a_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "corp.json"
    path.write_text(json.dumps(CLEAN))
    assert run(capsys, "validate", str(path)) == (0, "OK\n")


def test_validate_names_every_problem_with_its_json_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "messy.json"
    path.write_text(json.dumps(MESSY))
    code, out = run(capsys, "validate", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == f"5 problems in {path}"
    assert [line.split(": ")[1] for line in lines[:-1]] == MESSY_PATHS
    assert all(line.startswith(f"{path}: ") for line in lines[:-1])
    assert "'granted' is rejected" in out
    assert "true is rejected" in out
    assert "unknown key ignored" in out


@pytest.mark.parametrize(
    ("content", "why"),
    [("{", "is not valid JSON"), (None, "cannot be read")],
    ids=["bad-json", "missing"],
)
def test_validate_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, why: str
) -> None:
    path = tmp_path / "policy.json"
    if content is not None:
        path.write_text(content)
    code, out = run(capsys, "validate", str(path))
    assert code == 1
    assert out.startswith(f"{path}: (whole source): ")
    assert why in out
    assert out.splitlines()[-1] == f"1 problem in {path}"


def test_the_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "messy.json"
    path.write_text(json.dumps(MESSY))
    result = subprocess.run(
        [str(UPSIGHT), "policy", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "policies.Purposes.diagnostics.Value" in result.stdout
    helped = subprocess.run(
        [str(UPSIGHT), "policy", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert helped.returncode == 0
    assert "validate" in helped.stdout
