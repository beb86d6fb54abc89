"""The versioned privacy notice in a window, as "Learn more" opens it."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from upsight.agent.privacy.consent import Notice


class NoticeDialog(QDialog):
    """Shows the exact privacy notice text this build asks consent under, and its version."""

    def __init__(self, notice: Notice, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Upsight privacy notice"))
        layout = QVBoxLayout(self)
        version = QLabel(self.tr("Version {version}").format(version=notice.version))
        version.setAccessibleName(self.tr("Privacy notice version"))
        layout.addWidget(version)
        self.body = QTextBrowser()
        self.body.setMarkdown(text)
        self.body.setOpenExternalLinks(True)
        self.body.setAccessibleName(self.tr("Privacy notice"))
        layout.addWidget(self.body, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(600, 560)
