"""The Status page against a real in-process agent reading dummy files and the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_BATTERY, ON_LINE, write_dump
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.pages.status import DeviceCard, StatusPage


@contextmanager
def running_page(qtbot: QtBot, paths: AppPaths, spec: str) -> Iterator[StatusPage]:
    agent = Agent(paths, Config(poll_interval_s=0.1), [spec], serve_api=False)
    bridge = Bridge.in_process(agent)
    page = StatusPage(bridge)
    qtbot.add_widget(page)
    agent.start()
    try:
        yield page
    finally:
        bridge.close()
        agent.stop()


@pytest.fixture
def page(qtbot: QtBot, paths: AppPaths, dump: Path) -> Iterator[StatusPage]:
    with running_page(qtbot, paths, f"dummy:{dump}") as running:
        yield running


def _card(qtbot: QtBot, page: StatusPage) -> DeviceCard:
    qtbot.wait_until(lambda: page.card("ups") is not None, timeout=5000)
    card = page.card("ups")
    assert card is not None
    return card


def test_values_follow_the_readings(qtbot: QtBot, page: StatusPage, dump: Path) -> None:
    card = _card(qtbot, page)
    qtbot.wait_until(lambda: card.value_text("battery.charge") == "100 %", timeout=5000)
    assert card.headline.text() == "On line"
    assert card.notes.text() == "Charging"
    assert card.value_text("battery.runtime") == "30 min"
    assert card.value_text("input.voltage") == "230 V"
    assert card.value_text("input.frequency") == "50.0 Hz"

    write_dump(dump, ON_BATTERY)
    qtbot.wait_until(lambda: card.value_text("battery.charge") == "87 %", timeout=5000)
    assert card.headline.text() == "On battery"
    assert card.value_text("battery.runtime") == "14 min"
    assert card.value_text("input.voltage") == "0 V"
    assert card.value_text("input.frequency") is None


def test_values_the_ups_does_not_report_are_absent(qtbot: QtBot, page: StatusPage) -> None:
    card = _card(qtbot, page)
    qtbot.wait_until(lambda: card.value_text("battery.charge") is not None, timeout=5000)
    for absent in ("ups.load", "output.voltage", "battery.voltage", "ups.temperature"):
        assert card.value_text(absent) is None
    assert card.simulated.isHidden()


def test_a_silent_device_shows_no_communication_and_no_numbers(
    qtbot: QtBot, page: StatusPage, dump: Path
) -> None:
    card = _card(qtbot, page)
    qtbot.wait_until(lambda: card.value_text("battery.charge") == "100 %", timeout=5000)
    dump.unlink()
    qtbot.wait_until(lambda: card.headline.text() == "No communication", timeout=5000)
    assert all(card.value_text(name) is None for name in ("battery.charge", "input.voltage"))
    assert card.detail.text().startswith("Last reading ")
    assert " s ago" in card.detail.text()
    assert card.glyph.accessibleName() == "No communication"


def test_estimated_values_are_marked(qtbot: QtBot, page: StatusPage, dump: Path) -> None:
    card = _card(qtbot, page)
    write_dump(dump, ON_LINE + "upsight.estimated: battery.charge\n")
    qtbot.wait_until(lambda: card.value_text("battery.charge") == "100 % (estimated)", timeout=5000)
    row = card._rows["battery.charge"]
    assert "not measured" in row.value.toolTip()
    assert row.value.accessibleName() == "Charge: 100 % (estimated)"
    assert card.value_text("input.voltage") == "230 V"


def test_the_simulator_is_labelled_simulated(qtbot: QtBot, paths: AppPaths) -> None:
    with running_page(qtbot, paths, "sim://normal?speed=10") as page:
        card = _card(qtbot, page)
        qtbot.wait_until(lambda: card.value_text("battery.charge") is not None, timeout=5000)
        assert card.title.text() == "Simulated UPS (ups)"
        assert not card.simulated.isHidden()
        assert card.simulated.text() == "Simulated UPS"
        assert card.source.text() == "Source: sim://normal?speed=10"
