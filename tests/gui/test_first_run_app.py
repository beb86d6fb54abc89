"""The app asks the first-start consent questions once its agent runs, until they are answered."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_LINE, write_dump
from tests.keyrings import MemoryKeyring
from upsight.agent.paths import AppPaths
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentState, Surface
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES
from upsight.agent.privacy.secrets import Secrets
from upsight.gui.app import DesktopApp, start
from upsight.gui.first_run import FirstRunDialog


@pytest.fixture
def user_dirs(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    monkeypatch.setenv("UPSIGHT_CONFIG_DIR", str(paths.config_dir))
    monkeypatch.setenv("UPSIGHT_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("UPSIGHT_RUNTIME_DIR", str(paths.runtime_dir))
    return paths


@pytest.fixture
def keychain(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    # The OS keychain is a boundary. Without one, cloud features stay off and there is
    # nothing to ask, so the app and its agent get this one.
    memory = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: memory)
    return memory


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "ups.dev"
    write_dump(path, ON_LINE)
    return path


def launch(qtbot: QtBot, dump: Path) -> DesktopApp:
    desktop = start(["--device", f"dummy:{dump}"], ask=lambda: False)
    # The questions are settled in the same step that connects the agent.
    qtbot.wait_until(lambda: desktop.bridge.connected, timeout=10_000)
    return desktop


def stored(paths: AppPaths, keychain: MemoryKeyring) -> dict[str, ConsentState]:
    center = PrivacyCenter(paths.data_dir / "privacy", secrets=Secrets(keychain))
    try:
        return {str(p): center.store.consent(p).stored for p in UPLOAD_PURPOSES}
    finally:
        center.close()


def shown_dialog(qtbot: QtBot, desktop: DesktopApp) -> FirstRunDialog:
    dialog = desktop.first_run
    assert dialog is not None, "the first start did not ask the consent questions"
    qtbot.wait_until(dialog.isVisible, timeout=5000)
    assert dialog.parent() is desktop.window
    assert [r.purpose for r in dialog.rows] == list(UPLOAD_PURPOSES)
    return dialog


@pytest.mark.usefixtures("user_dirs")
def test_the_first_start_asks_and_closing_grants_nothing(
    qtbot: QtBot, paths: AppPaths, keychain: MemoryKeyring, dump: Path
) -> None:
    desktop = launch(qtbot, dump)
    try:
        dialog = shown_dialog(qtbot, desktop)
        dialog.rows[0].allow.click()
        dialog.close()
        assert dialog.result() == FirstRunDialog.DialogCode.Rejected
    finally:
        desktop.quit()
    assert set(stored(paths, keychain).values()) == {ConsentState.UNDETERMINED}

    again = launch(qtbot, dump)
    try:
        shown_dialog(qtbot, again)
    finally:
        again.quit()
    # Quitting with the questions open records nothing either.
    assert set(stored(paths, keychain).values()) == {ConsentState.UNDETERMINED}


@pytest.mark.usefixtures("user_dirs")
def test_once_answered_the_questions_are_not_asked_again(
    qtbot: QtBot, paths: AppPaths, keychain: MemoryKeyring, dump: Path
) -> None:
    desktop = launch(qtbot, dump)
    try:
        dialog = shown_dialog(qtbot, desktop)
        dialog.allow_none.click()
        assert dialog.result() == FirstRunDialog.DialogCode.Accepted
        assert not dialog.isVisible()
    finally:
        desktop.quit()
    assert set(stored(paths, keychain).values()) == {ConsentState.DENIED}

    again = launch(qtbot, dump)
    try:
        assert again.first_run is None
        assert again.agent is not None
    finally:
        again.quit()
    center = PrivacyCenter(paths.data_dir / "privacy", secrets=Secrets(keychain))
    try:
        assert {e.surface for e in center.store.history()} == {Surface.FIRST_RUN_DIALOG}
    finally:
        center.close()


@pytest.mark.usefixtures("user_dirs")
def test_without_a_keychain_nothing_is_asked(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, dump: Path
) -> None:
    # No system keychain: cloud features stay off, so there is nothing to ask.
    monkeypatch.setattr(keyring, "get_keyring", FailKeyring)
    desktop = launch(qtbot, dump)
    try:
        assert desktop.first_run is None
    finally:
        desktop.quit()
