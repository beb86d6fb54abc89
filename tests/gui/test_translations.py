"""The translation catalogues: complete, current, compiled, loaded, and every UI string marked."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.gui.dumps import ON_LINE, write_dump
from upsight.agent.config import Config
from upsight.agent.paths import AppPaths
from upsight.agent.service import Agent
from upsight.gui import i18n
from upsight.gui.bridge import Bridge
from upsight.gui.pages.status import StatusPage

ROOT: Final = Path(__file__).resolve().parents[2]
CATALOGUES: Final = ROOT / "resources" / "translations"
ZH: Final = CATALOGUES / "upsight_zh_CN.ts"
EN: Final = CATALOGUES / "upsight_en.ts"
GUI_SOURCES: Final = sorted([*(ROOT / "gui").glob("*.py"), *(ROOT / "gui" / "pages").glob("*.py")])

# {name} placeholders, Qt's %n / %L1 markers, and keyboard mnemonics (&x, not "&&" or "& ").
PLACEHOLDER: Final = re.compile(r"\{\w*\}|%L?n|%L?\d")
MNEMONIC: Final = re.compile(r"(?<!&)&(?=[^&\s])")


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    translations: tuple[str, ...]
    unfinished: bool
    numerus: bool


def messages(path: Path) -> list[Message]:
    found = []
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name", "")
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            numerus = message.get("numerus") == "yes"
            texts = (
                tuple(f.text or "" for f in translation.iter("numerusform"))
                if numerus
                else (translation.text or "",)
            )
            found.append(
                Message(
                    name,
                    message.findtext("source", ""),
                    texts,
                    translation.get("type") is not None,
                    numerus,
                )
            )
    return found


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is missing: it comes with PySide6"
    return found


# -- the catalogues --------------------------------------------------------


def test_every_chinese_message_is_translated() -> None:
    listed = messages(ZH)
    assert len(listed) > 400
    unfinished = [m.source for m in listed if m.unfinished or not all(m.translations)]
    assert unfinished == []


def test_translations_keep_placeholders_and_mnemonics() -> None:
    for message in messages(ZH) + messages(EN):
        wanted = Counter(PLACEHOLDER.findall(message.source))
        for text in message.translations:
            assert Counter(PLACEHOLDER.findall(text)) == wanted, (message.source, text)
            assert len(MNEMONIC.findall(text)) == len(MNEMONIC.findall(message.source)), (
                message.source,
                text,
            )


def test_english_carries_the_plural_forms_of_every_count() -> None:
    plural = {m.source for m in messages(ZH) if m.numerus}
    english = messages(EN)
    assert {m.source for m in english} == plural
    assert "Exported %n event(s) to {path}" in plural
    for message in english:
        one, many = message.translations
        assert one != many
        assert "(s)" not in one + many
        assert "(es)" not in one + many


def test_the_committed_catalogues_match_the_source(tmp_path: Path) -> None:
    # Running the script again must change nothing: every marked string is in the
    # catalogues, none is left over, and the .qm files are compiled from these .ts files.
    for path in CATALOGUES.glob("*.ts"):
        shutil.copy(path, tmp_path / path.name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "translations.sh"), str(tmp_path)],
        check=True,
        env=env,
        timeout=120,
    )
    for name in ("upsight_zh_CN.ts", "upsight_en.ts", "upsight_zh_CN.qm", "upsight_en.qm"):
        fresh = (tmp_path / name).read_bytes()
        assert fresh == (CATALOGUES / name).read_bytes(), (
            f"{name} is out of date: run scripts/translations.sh and translate what is new"
        )


def test_the_committed_qm_files_are_compiled_from_the_ts_files(tmp_path: Path) -> None:
    lrelease = tool("pyside6-lrelease")
    for source in CATALOGUES.glob("*.ts"):
        out = tmp_path / f"{source.stem}.qm"
        subprocess.run([lrelease, "-silent", str(source), "-qm", str(out)], check=True, timeout=60)
        assert out.read_bytes() == (CATALOGUES / out.name).read_bytes(), out.name


# -- loading ---------------------------------------------------------------


@pytest.fixture
def language(qapp: QApplication) -> Iterator[None]:
    before = QLocale()
    yield
    i18n.remove(qapp)
    QLocale.setDefault(before)


def test_catalogue_names_go_from_specific_to_english() -> None:
    names = list(i18n.catalogue_names(QLocale("zh_CN")))
    assert names.index("zh_CN") < names.index("zh") < names.index("en")
    assert names[-1] == "en"


@pytest.mark.usefixtures("language")
def test_the_language_follows_the_request(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(i18n.LANG_ENV, "zh_CN")
    assert i18n.install(qapp, i18n.requested_locale()) == "zh_CN"
    assert QCoreApplication.translate("Status", "On battery") == "电池供电"
    # Qt's own buttons speak the same language.
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"
    # --lang wins over the environment; a language without a catalogue gets English plurals.
    assert i18n.install(qapp, i18n.requested_locale("de_DE")) == "en"
    assert QCoreApplication.translate("Status", "On battery") == "On battery"
    exported = QCoreApplication.translate("EventsPage", "Exported %n event(s) to {path}", None, 1)
    assert exported == "Exported 1 event to {path}"
    assert QLocale().name() == "de_DE"


@pytest.mark.usefixtures("language")
def test_the_status_page_speaks_chinese(qtbot: QtBot, qapp: QApplication, paths: AppPaths) -> None:
    assert i18n.install(qapp, QLocale("zh_CN")) == "zh_CN"
    dump = paths.config_dir.parent / "ups.dev"
    write_dump(dump, ON_LINE)
    agent = Agent(paths, Config(poll_interval_s=0.1), [f"dummy:{dump}"], serve_api=False)
    bridge = Bridge.in_process(agent)
    page = StatusPage(bridge)
    qtbot.add_widget(page)
    agent.start()
    try:
        qtbot.wait_until(lambda: page.card("ups") is not None, timeout=5000)
        card = page.card("ups")
        assert card is not None
        qtbot.wait_until(lambda: card.headline.text() == "市电供电", timeout=5000)
        assert "电量" in [label.text() for label in card.findChildren(type(card.headline))]
    finally:
        bridge.close()
        agent.stop()


# -- every user-visible string is marked -----------------------------------

# Calls whose string arguments users read.
TEXT_METHODS: Final = frozenset(
    {
        "addAction",
        "addButton",
        "addItem",
        "addItems",
        "addRow",
        "addTab",
        "getOpenFileName",
        "getSaveFileName",
        "insertItem",
        "setAccessibleDescription",
        "setAccessibleName",
        "setDetailedText",
        "setHeaderLabels",
        "setHorizontalHeaderLabels",
        "setInformativeText",
        "setItemText",
        "setLabelText",
        "setPlaceholderText",
        "setPrefix",
        "setSpecialValueText",
        "setStatusTip",
        "setSuffix",
        "setTabText",
        "setText",
        "setTitle",
        "setToolTip",
        "setWhatsThis",
        "setWindowTitle",
        "showMessage",
    }
)
TEXT_CLASSES: Final = frozenset(
    {
        "QAction",
        "QCheckBox",
        "QGroupBox",
        "QLabel",
        "QListWidgetItem",
        "QMenu",
        "QMessageBox",
        "QPushButton",
        "QRadioButton",
        "QStandardItem",
        "QTableWidgetItem",
        "QToolButton",
        "QTreeWidgetItem",
    }
)
MESSAGE_BOXES: Final = frozenset({"about", "critical", "information", "question", "warning"})
# Calls lupdate reads (scripts/translations.sh adds tr_noop as QT_TRANSLATE_NOOP).
MARKERS: Final = frozenset({"tr", "translate", "tr_noop", "QT_TRANSLATE_NOOP", "QT_TR_NOOP"})
CONTEXT_MARKERS: Final = MARKERS - {"tr", "QT_TR_NOOP"}
# Literals in those calls that are not words for people: a suggested file name.
NOT_TEXT: Final = frozenset({"upsight-events.csv"})


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _shows_text(call: ast.Call) -> bool:
    name = _name(call.func)
    if name in TEXT_METHODS or name in TEXT_CLASSES:
        return True
    return (
        name in MESSAGE_BOXES
        and isinstance(call.func, ast.Attribute)
        and _name(call.func.value) == "QMessageBox"
    )


def _words(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value) and node.value not in NOT_TEXT
    if isinstance(node, ast.JoinedStr):
        return any(_words(part) for part in node.values)
    return False


def _unmarked(node: ast.AST) -> Iterator[ast.expr]:
    """String literals with words under ``node`` that no translation call wraps."""
    if isinstance(node, ast.Call) and _name(node.func) in MARKERS:
        return
    if isinstance(node, ast.Subscript):
        # A key (state["device"]) is not shown; the value looked up may be.
        yield from _unmarked(node.value)
        return
    if isinstance(node, ast.expr) and _words(node):
        yield node
        return
    for child in ast.iter_child_nodes(node):
        yield from _unmarked(child)


def unmarked_strings(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and _shows_text(node):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                found += [f"{filename}:{n.lineno}: {ast.unparse(n)}" for n in _unmarked(argument)]
    return found


def markers_lupdate_cannot_read(source: str, filename: str) -> list[str]:
    """Marked literals whose context lupdate cannot see, or helpers that hide the marker."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func) or ""
        literal = [isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args]
        hidden_context = name in CONTEXT_MARKERS and literal[1:2] == [True] and not literal[0]
        helper = name not in MARKERS and re.fullmatch(r"_*(tr|translate)\w*", name)
        if hidden_context or (helper and any(literal)):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_every_string_the_gui_shows_is_marked_for_translation() -> None:
    found = [
        problem
        for path in GUI_SOURCES
        for problem in unmarked_strings(path.read_text(encoding="utf-8"), path.name)
    ]
    assert found == []


def test_every_marker_is_one_lupdate_reads() -> None:
    found = [
        problem
        for path in GUI_SOURCES
        for problem in markers_lupdate_cannot_read(path.read_text(encoding="utf-8"), path.name)
    ]
    assert found == []


def test_the_scan_finds_what_it_must() -> None:
    source = """
label = QLabel("Battery low")
label.setToolTip(f"{n} left")
box = QMessageBox.warning(self, self.tr("Title"), "Body text")
ok = QLabel(self.tr("Fine")); ok.setText(state["device"]); log.warning("not shown %s", x)
name = tr_noop(_CONTEXT, "Hidden context")
said = _tr("Hidden helper")
"""
    assert unmarked_strings(source, "x.py") == [
        "x.py:2: 'Battery low'",
        "x.py:3: f'{n} left'",
        "x.py:4: 'Body text'",
    ]
    assert markers_lupdate_cannot_read(source, "x.py") == [
        "x.py:6: tr_noop(_CONTEXT, 'Hidden context')",
        "x.py:7: _tr('Hidden helper')",
    ]
