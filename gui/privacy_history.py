"""The consent history: every privacy decision from the hash-chained log, newest first."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QCoreApplication, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.consent import (
    ConsentState,
    ConsentStore,
    ConsentStoreError,
    LogEntry,
    Source,
    Surface,
)
from upsight.gui.display import tr_noop, translate
from upsight.gui.privacy_rows import purpose_name

_CONTEXT: Final = "PrivacyHistory"

_STATES: Final[dict[ConsentState, str]] = {
    ConsentState.GRANTED: tr_noop("PrivacyHistory", "Allowed"),
    ConsentState.DENIED: tr_noop("PrivacyHistory", "Not allowed"),
    ConsentState.UNDETERMINED: tr_noop("PrivacyHistory", "Not decided"),
}

_SURFACES: Final[dict[Surface, str]] = {
    Surface.FIRST_RUN_DIALOG: tr_noop("PrivacyHistory", "First-start questions"),
    Surface.SETTINGS_PANEL: tr_noop("PrivacyHistory", "Privacy page"),
    Surface.CLI: tr_noop("PrivacyHistory", "Command line"),
    Surface.MSI_PRESET: tr_noop("PrivacyHistory", "Installer preset"),
    Surface.POLICY: tr_noop("PrivacyHistory", "Organization policy"),
}

_SOURCES: Final[dict[Source, str]] = {
    Source.USER: tr_noop("PrivacyHistory", "You"),
    Source.ORG_POLICY: tr_noop("PrivacyHistory", "Your organization"),
}


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


def change_text(entry: LogEntry) -> str:
    """What one log line changed, in words."""
    if entry.subtoggle is not None:
        switch, on = entry.subtoggle
        text = (
            translate("PrivacyHistory", "Switched \u201c{switch}\u201d on")
            if on
            else translate("PrivacyHistory", "Switched \u201c{switch}\u201d off")
        )
        return text.format(switch=switch)
    before = (
        _tr(_STATES[entry.from_state])
        if entry.from_state
        else translate("PrivacyHistory", "Unknown")
    )
    return translate("PrivacyHistory", "{before} \u2192 {after}").format(
        before=before, after=_tr(_STATES[entry.to_state])
    )


class ConsentHistoryView(QWidget):
    """Every line of the consent log, newest first, and whether the chain is intact."""

    def __init__(self, store: ConsentStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.entries: list[LogEntry] = []
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Time (UTC)"),
                self.tr("Purpose"),
                self.tr("Change"),
                self.tr("Decided by"),
                self.tr("Where"),
                self.tr("Versions"),
            ]
        )
        self.table.setAccessibleName(self.tr("Consent history"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.chain = QLabel()
        self.chain.setWordWrap(True)
        self.chain.setAccessibleName(self.tr("Consent history check"))
        layout.addWidget(self.chain)

    @Slot()
    def refresh(self) -> None:
        """Read the log again."""
        try:
            entries = self._store.history()
        except ConsentStoreError:
            # A damaged log is what the check below reports; show what it can.
            entries = ()
        self.entries = list(reversed(entries))
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            versions = self.tr("notice {notice}, prompt {prompt}, fields {inventory}").format(
                notice=entry.notice_version,
                prompt=entry.prompt_version if entry.prompt_version is not None else "-",
                inventory=entry.inventory_version,
            )
            cells = (
                entry.ts,
                purpose_name(entry.purpose) if entry.purpose else self.tr("All purposes"),
                change_text(entry) if entry.note is None else entry.note,
                _tr(_SOURCES[entry.source]),
                _tr(_SURFACES[entry.surface]),
                versions,
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        report = self._store.verify_log()
        if report.ok:
            self.chain.setText(
                self.tr(
                    "Decisions recorded: {count}. The history is complete and unaltered."
                ).format(count=report.entries)
            )
        else:
            self.chain.setText(
                self.tr("The history is damaged: {problem}").format(problem=report.problem)
            )
