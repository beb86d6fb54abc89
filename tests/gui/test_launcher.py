"""The ``upsight`` command picks the desktop app or the CLI from its arguments."""

from __future__ import annotations

import pytest

from upsight.gui.launcher import main, wants_desktop


@pytest.mark.parametrize(
    ("argv", "desktop"),
    [
        ([], True),
        (["--device", "sim://normal"], True),
        (["--minimized"], True),
        (["status"], False),
        (["-v", "run", "--device", "sim://normal"], False),
        (["--version"], False),
        (["--help"], False),
        (["protect", "simulate", "outage"], False),
    ],
)
def test_the_app_starts_only_when_no_command_is_named(argv: list[str], desktop: bool) -> None:
    assert wants_desktop(argv) is desktop


def test_a_named_command_runs_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--device", "sim://normal"]) == 0
    out = capsys.readouterr().out
    assert "ups.status: OL" in out
    assert "battery.charge: 100" in out
