"""The upload history: every envelope sent, rejected or dropped, with its exact payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from PySide6.QtCore import QCoreApplication, Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.ledger import Ledger, LedgerEntry, LedgerResult
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.gui.display import tr_noop
from upsight.gui.privacy_rows import purpose_name, time_text

_CONTEXT: Final = "PrivacyLedger"

_RESULTS: Final[dict[LedgerResult, str]] = {
    LedgerResult.SENT: tr_noop("PrivacyLedger", "Sent"),
    LedgerResult.SENT_BEFORE_WITHDRAWAL: tr_noop("PrivacyLedger", "Sent before you withdrew"),
    LedgerResult.REJECTED: tr_noop("PrivacyLedger", "Rejected by the server"),
    LedgerResult.DROPPED_CONSENT: tr_noop("PrivacyLedger", "Dropped: consent withdrawn or blocked"),
    LedgerResult.DROPPED_QUOTA: tr_noop("PrivacyLedger", "Dropped: queue full"),
    LedgerResult.DROPPED_EXPIRED: tr_noop("PrivacyLedger", "Dropped: too old"),
    LedgerResult.DROPPED_INVALID: tr_noop("PrivacyLedger", "Dropped: failed its checks"),
    LedgerResult.DROPPED_CORRUPT: tr_noop("PrivacyLedger", "Dropped: damaged on disk"),
}

COLUMNS: Final = ("time", "purpose", "result", "bytes", "envelope", "detail")


def result_text(result: LedgerResult) -> str:
    """What became of an envelope, in words."""
    return QCoreApplication.translate(_CONTEXT, _RESULTS[result])


def payload_text(entry: LedgerEntry) -> str:
    """The entry's exact payload, pretty-printed, or why there is none."""
    if entry.payload is None:
        return QCoreApplication.translate(
            "PrivacyLedger", "No payload was kept: the envelope could not be read back."
        )
    return json.dumps(json.loads(entry.payload), indent=2, sort_keys=True, ensure_ascii=False)


class LedgerView(QWidget):
    """A filterable table of the ledger, newest first, and the payload of the selected entry."""

    def __init__(self, ledger: Ledger, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ledger = ledger
        self.entries: list[LedgerEntry] = []
        layout = QVBoxLayout(self)
        layout.addLayout(self._filters())
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Time"),
                self.tr("Purpose"),
                self.tr("Result"),
                self.tr("Bytes"),
                self.tr("Envelope id"),
                self.tr("Detail"),
            ]
        )
        self.table.setAccessibleName(self.tr("Upload history"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.payload = QPlainTextEdit()
        self.payload.setReadOnly(True)
        self.payload.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.payload.setAccessibleName(self.tr("Payload of the selected upload"))
        self.payload.setPlaceholderText(self.tr("Select an upload to see exactly what it held."))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.payload)
        layout.addWidget(split, 1)
        self.summary = QLabel()
        self.summary.setAccessibleName(self.tr("Upload history summary"))
        layout.addWidget(self.summary)
        self.table.itemSelectionChanged.connect(self.on_selection_changed)

    def _filters(self) -> QHBoxLayout:
        filters = QHBoxLayout()
        self.purpose_filter = QComboBox()
        self.purpose_filter.setAccessibleName(self.tr("Show uploads for purpose"))
        self.purpose_filter.addItem(self.tr("All purposes"), None)
        for purpose in (*UPLOAD_PURPOSES, Purpose.CONTROL):
            self.purpose_filter.addItem(purpose_name(purpose), purpose)
        self.result_filter = QComboBox()
        self.result_filter.setAccessibleName(self.tr("Show uploads with result"))
        self.result_filter.addItem(self.tr("All results"), None)
        for result in LedgerResult:
            self.result_filter.addItem(result_text(result), result)
        for text, combo in (
            (self.tr("&Purpose:"), self.purpose_filter),
            (self.tr("&Result:"), self.result_filter),
        ):
            label = QLabel(text)
            label.setBuddy(combo)
            filters.addWidget(label)
            filters.addWidget(combo)
            combo.currentIndexChanged.connect(self.refresh)
        filters.addStretch(1)
        self.export_json = QPushButton(self.tr("Export as &JSON\u2026"))
        self.export_json.setAccessibleName(self.tr("Export the upload history as JSON"))
        self.export_json.clicked.connect(self.on_export_json_clicked)
        self.export_csv = QPushButton(self.tr("Export as &CSV\u2026"))
        self.export_csv.setAccessibleName(self.tr("Export the upload history as CSV"))
        self.export_csv.clicked.connect(self.on_export_csv_clicked)
        self.clear = QPushButton(self.tr("C&lear history\u2026"))
        self.clear.setAccessibleName(self.tr("Clear the upload history on this computer"))
        self.clear.clicked.connect(self.on_clear_clicked)
        for button in (self.export_json, self.export_csv, self.clear):
            filters.addWidget(button)
        return filters

    @Slot()
    def refresh(self) -> None:
        """Read the ledger again, applying the filters."""
        purpose = self.purpose_filter.currentData()
        result = self.result_filter.currentData()
        found = self._ledger.entries(purpose=purpose)
        self.entries = [e for e in found if result is None or e.result is result]
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            cells = (
                time_text(entry.at),
                purpose_name(entry.purpose),
                result_text(entry.result),
                str(entry.size),
                entry.envelope_id,
                entry.detail,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == COLUMNS.index("bytes"):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
        self.payload.clear()
        self.summary.setText(self.tr("Uploads shown: {count}").format(count=len(self.entries)))

    def select(self, row: int) -> None:
        """Select one row and show its payload."""
        self.table.selectRow(row)

    @Slot()
    def on_selection_changed(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            self.payload.clear()
            return
        self.payload.setPlainText(payload_text(self.entries[rows.pop()]))

    def _save_as(self, title: str, name: str, kinds: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(self, title, name, kinds)
        return Path(chosen) if chosen else None

    @Slot()
    def on_export_json_clicked(self) -> None:
        out = self._save_as(
            self.tr("Export the upload history"), "upsight-ledger.json", self.tr("JSON (*.json)")
        )
        if out is not None:
            with out.open("w", encoding="utf-8") as handle:
                self._ledger.export_json(handle)

    @Slot()
    def on_export_csv_clicked(self) -> None:
        out = self._save_as(
            self.tr("Export the upload history"), "upsight-ledger.csv", self.tr("CSV (*.csv)")
        )
        if out is not None:
            with out.open("w", encoding="utf-8", newline="") as handle:
                self._ledger.export_csv(handle)

    @Slot()
    def on_clear_clicked(self) -> None:
        answer = QMessageBox.question(
            self,
            self.tr("Clear the upload history?"),
            self.tr(
                "This deletes the upload history kept on this computer. It does not delete "
                "anything the cloud received and does not change your choices."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._ledger.clear()
            self.refresh()
