"""Fault-campaign fixtures: one scoreboard per run, printed (and optionally saved) at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.campaign import Campaign

REPORT_ENV = "UPSIGHT_FAULT_REPORT"
SCALE_ENV = "UPSIGHT_FAULT_SCALE"

_CAMPAIGN = Campaign()


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    """The run's scoreboard; each fault test records what it injected and what came back."""
    return _CAMPAIGN


@pytest.fixture(scope="session")
def scale() -> int:
    """How many times over to inject each fault: 1 in CI, more for a long campaign."""
    return max(1, int(os.environ.get(SCALE_ENV, "1")))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _CAMPAIGN.tallies():
        return
    terminalreporter.write_sep("=", "fault campaign")
    terminalreporter.write_line(_CAMPAIGN.table())
    report = os.environ.get(REPORT_ENV)
    if report:
        _CAMPAIGN.write_json(Path(report))
