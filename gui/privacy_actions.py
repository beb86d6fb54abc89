"""Your data: export it, delete it here, ask the cloud to delete it, or reset identifiers."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.consent import ConsentStoreError
from upsight.agent.privacy.envelope import Envelope
from upsight.gui.privacy_link import PrivacyLink


class DataActions(QWidget):
    """The data-subject actions, each confirmed in words that say exactly what happens.

    Signals:
        changed(): an action changed what the privacy center holds.
    """

    changed = Signal()

    def __init__(self, link: PrivacyLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._link = link
        layout = QVBoxLayout(self)
        self.export = QPushButton(self.tr("&Export my data\u2026"))
        self.export.setAccessibleName(self.tr("Export my data"))
        self.export.setToolTip(
            self.tr("Save a zip of everything Upsight keeps about this installation.")
        )
        self.delete_local = QPushButton(self.tr("&Delete local data\u2026"))
        self.delete_local.setAccessibleName(self.tr("Delete local data"))
        self.request_deletion = QPushButton(self.tr("Request &cloud deletion\u2026"))
        self.request_deletion.setAccessibleName(self.tr("Request cloud deletion"))
        self.reset = QPushButton(self.tr("&Reset identifiers\u2026"))
        self.reset.setAccessibleName(self.tr("Reset identifiers"))
        for button in (self.export, self.delete_local, self.request_deletion, self.reset):
            layout.addWidget(button)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAccessibleName(self.tr("Result of the last action"))
        layout.addWidget(self.result)
        layout.addStretch(1)
        self.export.clicked.connect(self.on_export_clicked)
        self.delete_local.clicked.connect(self.on_delete_local_clicked)
        self.request_deletion.clicked.connect(self.on_request_deletion_clicked)
        self.reset.clicked.connect(self.on_reset_clicked)

    def delete_local_text(self) -> str:
        """What "Delete local data" does, as the confirmation says it."""
        return self.tr(
            "On this computer, Upsight deletes the UPS history, everything waiting to be "
            "sent, the upload history and your sign-in. Every purpose is set to "
            "\u201cDon't allow\u201d and this installation gets new identifiers. Requests "
            "asking the cloud to delete data stay queued, and the record of your privacy "
            "choices is kept. This cannot be undone."
        )

    def request_deletion_text(self) -> str:
        """What "Request cloud deletion" does, as the confirmation says it."""
        return self.tr(
            "Upsight asks the Upsight cloud to delete everything it received from this "
            "installation, for every purpose. The request waits in the queue until it can be "
            "sent and is retried until the cloud confirms it. Your choices on this computer "
            "do not change."
        )

    def reset_text(self) -> str:
        """What "Reset identifiers" does, as the confirmation says it."""
        return self.tr(
            "This installation gets a new random id and a new key for the codes that stand "
            "in for serial numbers. What was sent before can no longer be linked to what is "
            "sent from now on. Nothing is deleted and your choices do not change."
        )

    def _confirmed(self, title: str, text: str, action: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        go = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is go

    def _report(self, text: str) -> None:
        told = self._link.changed()
        self.result.setText(text if told is None else f"{text}\n{told}")
        self.changed.emit()

    @Slot()
    def on_export_clicked(self) -> None:
        name = time.strftime("upsight-my-data-%Y%m%d.zip")
        chosen, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export my data"), name, self.tr("Zip archives (*.zip)")
        )
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, out: Path) -> None:
        """Write the export to ``out`` and say what was written."""
        try:
            files = self._link.export(out)
        except (OSError, ConsentStoreError) as exc:
            self.result.setText(self.tr("Nothing was exported: {error}").format(error=exc))
            return
        self.result.setText(
            self.tr("Saved {path}: a manifest and %n file(s).", None, len(files)).format(path=out)
        )

    @Slot()
    def on_delete_local_clicked(self) -> None:
        refusal = self._link.delete_refusal()
        if refusal is not None:
            self.result.setText(self.tr("Nothing was deleted. {reason}").format(reason=refusal))
            return
        if not self._confirmed(
            self.tr("Delete local data?"), self.delete_local_text(), self.tr("Delete")
        ):
            return
        gone = self._link.delete_local()
        self._report(
            self.tr("Deleted: {uploads}, {entries}, {purposes}. New identifiers were made.").format(
                uploads=self.tr("%n waiting upload(s)", None, gone.envelopes),
                entries=self.tr("%n upload history entry(s)", None, gone.ledger_rows),
                purposes=self.tr("%n purpose(s) switched off", None, gone.withdrawn),
            )
        )

    @Slot()
    def on_request_deletion_clicked(self) -> None:
        if not self._confirmed(
            self.tr("Ask the cloud to delete your data?"),
            self.request_deletion_text(),
            self.tr("Send request"),
        ):
            return
        request: Envelope = self._link.center.request_deletion()
        text = self.tr("Deletion request {id} queued.").format(id=request.envelope_id)
        blocked = self._link.center.policy().network_blocked
        if blocked:
            text = self.tr(
                "{queued} Your organization blocks connections to the cloud ({source}), so it "
                "waits; \u201cExport my data\u201d includes it for manual submission."
            ).format(queued=text, source=blocked)
        self._report(text)

    @Slot()
    def on_reset_clicked(self) -> None:
        if not self._confirmed(self.tr("Reset identifiers?"), self.reset_text(), self.tr("Reset")):
            return
        try:
            self._link.center.reset_identifiers()
        except ConsentStoreError as exc:
            self.result.setText(self.tr("Identifiers were not reset: {error}").format(error=exc))
            return
        self._report(self.tr("This installation now has new identifiers."))
