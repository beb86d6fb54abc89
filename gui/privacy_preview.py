"""The "Preview next upload" window: the exact envelope, with Copy and Save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from upsight.gui.privacy_link import Preview
from upsight.gui.privacy_rows import purpose_name


class PreviewDialog(QDialog):
    """Shows one purpose's next envelope as the uploader would send it."""

    def __init__(self, preview: Preview, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview = preview
        name = purpose_name(preview.purpose)
        self.setWindowTitle(self.tr("Next upload: {name}").format(name=name))
        layout = QVBoxLayout(self)
        if preview.allowed:
            said = self.tr("This is exactly what Upsight sends next for \u201c{name}\u201d.")
        else:
            said = self.tr(
                "\u201c{name}\u201d is off, so nothing is sent. This is exactly what would be "
                "sent if you allowed it."
            )
        self.note = QLabel(said.format(name=name))
        self.note.setWordWrap(True)
        self.note.setAccessibleName(self.tr("About this preview"))
        layout.addWidget(self.note)
        if not preview.from_agent:
            self.without_readings = QLabel(
                self.tr(
                    "No uploading Upsight service answered, so this preview has no UPS "
                    "readings: it holds only what describes this installation."
                )
            )
            self.without_readings.setWordWrap(True)
            self.without_readings.setAccessibleName(self.tr("Preview limitation"))
            layout.addWidget(self.without_readings)
        self.body = QPlainTextEdit(preview.text)
        self.body.setReadOnly(True)
        self.body.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.body.setAccessibleName(self.tr("Envelope content"))
        layout.addWidget(self.body, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy = QPushButton(self.tr("&Copy"))
        self.copy.setAccessibleName(self.tr("Copy the envelope"))
        self.save = QPushButton(self.tr("&Save\u2026"))
        self.save.setAccessibleName(self.tr("Save the envelope to a file"))
        buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy.clicked.connect(self.on_copy_clicked)
        self.save.clicked.connect(self.on_save_clicked)
        layout.addWidget(buttons)
        self.resize(640, 560)

    @property
    def document(self) -> dict[str, Any]:
        """The envelope shown, as JSON."""
        return self.preview.document

    def on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.preview.text)

    def on_save_clicked(self) -> None:
        name = f"upsight-preview-{self.preview.purpose}.json"
        chosen, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save the envelope"), name, self.tr("JSON files (*.json)")
        )
        if chosen:
            Path(chosen).write_text(self.preview.text + "\n", encoding="utf-8")
