"""The first-start consent dialog against a real privacy center and a personal-mode agent."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_LINE, write_dump
from tests.keyrings import MemoryKeyring
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentState, Surface
from upsight.agent.privacy.inventory import Inventory, load_inventory
from upsight.agent.privacy.purposes import ORG_GRANTABLE, UPLOAD_PURPOSES, USER_ONLY, Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.service import Agent
from upsight.gui.bridge import Bridge
from upsight.gui.first_run import FirstRunDialog, needs_first_run

DIAGNOSTICS = Purpose.DIAGNOSTICS
ALERTS = Purpose.CLOUD_ALERTS


def write_policy(root: Path, policies: dict[str, object], level: str = "managed") -> None:
    folder = root / "etc" / "upsight" / "policies" / level
    folder.mkdir(parents=True, exist_ok=True)
    document = {"schema_version": 1, "policies": policies}
    (folder / "10-corp.json").write_text(json.dumps(document), encoding="utf-8")


class Install:
    """One install's privacy directory, keychain and policy tree, reopened at will."""

    def __init__(self, paths: AppPaths, root: Path) -> None:
        self.directory = paths.data_dir / "privacy"
        self.keyring = MemoryKeyring()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.opened: list[PrivacyCenter] = []

    def open(self, inventory: Inventory | None = None) -> PrivacyCenter:
        center = PrivacyCenter(
            self.directory,
            secrets=Secrets(self.keyring),
            policy=lambda: load_policy(self.root),
            inventory=inventory,
        )
        self.opened.append(center)
        return center

    def close(self) -> None:
        for center in self.opened:
            center.close()


@pytest.fixture
def install(paths: AppPaths, tmp_path: Path) -> Iterator[Install]:
    made = Install(paths, tmp_path / "policy-root")
    yield made
    made.close()


@pytest.fixture
def bridge(qtbot: QtBot, paths: AppPaths) -> Iterator[Bridge]:
    dump = paths.data_dir.parent / "ups.dev"
    write_dump(dump, ON_LINE)
    agent = Agent(paths, Config(poll_interval_s=0.2), [f"dummy:{dump}"], serve_api=False)
    made = Bridge.in_process(agent)
    agent.start()
    yield made
    made.close()
    agent.stop()


def dialog_for(qtbot: QtBot, bridge: Bridge, center: PrivacyCenter) -> FirstRunDialog:
    dialog = FirstRunDialog(bridge, center=center)
    qtbot.addWidget(dialog)
    return dialog


def stored(center: PrivacyCenter) -> dict[Purpose, ConsentState]:
    return {p: center.store.consent(p).stored for p in UPLOAD_PURPOSES}


def test_every_purpose_is_asked_with_nothing_selected(
    qtbot: QtBot, bridge: Bridge, install: Install
) -> None:
    center = install.open()
    assert needs_first_run(center)
    dialog = dialog_for(qtbot, bridge, center)
    assert [r.purpose for r in dialog.rows] == list(UPLOAD_PURPOSES)
    for row in dialog.rows:
        assert not row.allow.isChecked()
        assert not row.deny.isChecked()


@pytest.mark.parametrize("close", ["escape", "window"])
def test_closing_the_dialog_grants_nothing_and_asks_again(
    qtbot: QtBot, bridge: Bridge, install: Install, close: str
) -> None:
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    dialog.rows[0].allow.click()
    dialog.show()
    if close == "escape":
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    else:
        dialog.close()
    assert dialog.result() == FirstRunDialog.DialogCode.Rejected
    assert set(stored(center).values()) == {ConsentState.UNDETERMINED}
    assert center.store.history() == ()
    assert needs_first_run(install.open())


def test_continue_without_choices_grants_nothing_and_is_not_asked_again(
    qtbot: QtBot, bridge: Bridge, install: Install
) -> None:
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    dialog.continue_.click()
    assert dialog.result() == FirstRunDialog.DialogCode.Accepted
    assert set(stored(center).values()) == {ConsentState.DENIED}
    assert not any(v.effective.on for v in center.views())
    assert not needs_first_run(install.open())


def test_allow_on_one_purpose_grants_only_it(
    qtbot: QtBot, bridge: Bridge, install: Install
) -> None:
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    [row] = [r for r in dialog.rows if r.purpose is DIAGNOSTICS]
    row.allow.click()
    dialog.continue_.click()
    states = stored(center)
    assert states.pop(DIAGNOSTICS) is ConsentState.GRANTED
    assert set(states.values()) == {ConsentState.DENIED}
    record = center.store.consent(DIAGNOSTICS).record
    assert record.surface is Surface.FIRST_RUN_DIALOG
    assert [v.purpose for v in center.views() if v.effective.on] == [DIAGNOSTICS]


def test_allow_none_answers_every_row_no(qtbot: QtBot, bridge: Bridge, install: Install) -> None:
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    dialog.rows[0].allow.click()
    dialog.allow_none.click()
    assert set(stored(center).values()) == {ConsentState.DENIED}
    assert all(r.deny.isChecked() for r in dialog.rows)


def test_a_new_inventory_version_asks_again(qtbot: QtBot, bridge: Bridge, install: Install) -> None:
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    dialog.continue_.click()
    assert not needs_first_run(install.open())
    current = load_inventory()
    newer = dataclasses.replace(current, version=current.version + 1)
    assert needs_first_run(install.open(newer))


def test_skipped_when_policy_decides_every_purpose(install: Install) -> None:
    purposes: dict[str, object] = {
        str(p): {"Value": "granted", "Status": "locked"} for p in ORG_GRANTABLE
    }
    purposes.update({str(p): {"Value": "denied", "Status": "locked"} for p in USER_ONLY})
    write_policy(install.root, {"Purposes": purposes})
    center = install.open()
    assert not any(v.effective.prompt for v in center.views())
    assert not needs_first_run(center)


def test_skipped_when_policy_turns_the_prompt_off(install: Install) -> None:
    write_policy(install.root, {"ShowFirstRunPrompt": False})
    assert not needs_first_run(install.open())


def test_only_undecided_purposes_are_asked_and_suggestions_are_prefilled(
    qtbot: QtBot, bridge: Bridge, install: Install
) -> None:
    write_policy(
        install.root, {"Purposes": {"diagnostics": {"Value": "denied", "Status": "locked"}}}
    )
    write_policy(
        install.root,
        {"Purposes": {"cloud_alerts": {"Value": "granted", "Status": "default"}}},
        level="recommended",
    )
    center = install.open()
    dialog = dialog_for(qtbot, bridge, center)
    rows = {r.purpose: r for r in dialog.rows}
    assert DIAGNOSTICS not in rows
    assert rows[ALERTS].allow.isChecked()
    dialog.continue_.click()
    # Left as suggested, the organisation's recommendation stays the organisation's.
    assert center.store.consent(ALERTS).stored is ConsentState.UNDETERMINED
    assert center.store.consent(DIAGNOSTICS).stored is ConsentState.UNDETERMINED
    assert center.gate.view(ALERTS).effective.on
    assert not needs_first_run(install.open())
