"""The Privacy page: each upload purpose as a live choice, what is sent, and your data rights."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.builder import EnvelopeInvalid
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentError, ConsentStoreError, LocalUser, Surface
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import SecureStorageUnavailable
from upsight.drivers.errors import UpsError
from upsight.gui.bridge import Bridge
from upsight.gui.privacy_actions import DataActions
from upsight.gui.privacy_history import ConsentHistoryView
from upsight.gui.privacy_ledger import LedgerView
from upsight.gui.privacy_link import PrivacyLink
from upsight.gui.privacy_notice import NoticeDialog
from upsight.gui.privacy_policy import PolicyView
from upsight.gui.privacy_preview import PreviewDialog
from upsight.gui.privacy_rows import PurposeRow, purpose_name, purpose_text, recipient_text


class PrivacyPage(QWidget):
    """The Privacy page, or why it cannot be shown when the privacy center cannot open.

    Args:
        bridge: The app's bridge to the agent.
        parent: The Qt parent.
        center: Show this privacy center instead of the one ``PrivacyLink`` opens (the
            caller keeps ownership).
    """

    def __init__(
        self, bridge: Bridge, parent: QWidget | None = None, *, center: PrivacyCenter | None = None
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Privacy"))
        layout = QVBoxLayout(self)
        self.panel: PrivacyPanel | None = None
        try:
            link = PrivacyLink(bridge, center)
        except (OSError, ValueError, UpsError) as exc:
            failure = QLabel(
                self.tr(
                    "Privacy settings cannot be opened, so nothing is uploaded: {error}"
                ).format(error=exc)
            )
            failure.setWordWrap(True)
            failure.setAccessibleName(self.tr("Privacy settings unavailable"))
            layout.addWidget(failure)
            return
        self.panel = PrivacyPanel(link)
        bridge.link_changed.connect(self.panel.on_link_changed)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)

    def close_link(self) -> None:
        """Close the privacy center if the page opened it."""
        if self.panel is not None:
            self.panel.link.close()


class PrivacyPanel(QWidget):
    """Privacy choices per purpose, previews, upload and consent history, policy, your data.

    Every change goes through the install's privacy center as the user's own decision on
    the settings panel, and the agent is told at once.
    """

    def __init__(self, link: PrivacyLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.rows: dict[Purpose, PurposeRow] = {}
        self.preview_dialog: PreviewDialog | None = None
        center = link.center
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(self.tr("Privacy sections"))
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._choices(), self.tr("&Choices"))
        self.ledger = LedgerView(center.ledger)
        self.tabs.addTab(self.ledger, self.tr("&Upload history"))
        self.history = ConsentHistoryView(center.store)
        self.tabs.addTab(self.history, self.tr("Consent hi&story"))
        self.policy = PolicyView(center.policy)
        self.tabs.addTab(self.policy, self.tr("&Organization policy"))
        self.data_actions = DataActions(link)
        self.data_actions.changed.connect(self.refresh)
        self.tabs.addTab(self.data_actions, self.tr("Your &data"))
        self.refresh()

    def _choices(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        intro = QLabel(
            self.tr(
                "Nothing leaves this computer unless you allow it. Each purpose is a separate "
                "choice, and switching one off is as quick as switching it on.\n{local}: {why}"
            ).format(
                local=purpose_name(Purpose.LOCAL), why=purpose_text(PURPOSES[Purpose.LOCAL].why)
            )
        )
        intro.setWordWrap(True)
        intro.setAccessibleName(self.tr("About these choices"))
        layout.addWidget(intro)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setAccessibleName(self.tr("Problems keeping uploads off"))
        layout.addWidget(self.problems)
        self.uploads = QLabel()
        self.uploads.setWordWrap(True)
        self.uploads.setAccessibleName(self.tr("Upload status"))
        layout.addWidget(self.uploads)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.feedback.setAccessibleName(self.tr("Result of your last change"))
        layout.addWidget(self.feedback)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        rows = QVBoxLayout(inner)
        for purpose in UPLOAD_PURPOSES:
            row = PurposeRow(self.link.center.inventory, purpose)
            row.decided.connect(self.on_decided)
            row.subtoggle_switched.connect(self.on_subtoggle_switched)
            row.preview_requested.connect(self.on_preview_requested)
            self.rows[purpose] = row
            rows.addWidget(row)
        rows.addStretch(1)
        scroll.setWidget(inner)
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.notice = QPushButton(self.tr("Read the &privacy notice"))
        self.notice.setAccessibleName(self.tr("Read the privacy notice"))
        self.notice.clicked.connect(self.on_notice_clicked)
        self.reload = QPushButton(self.tr("&Refresh"))
        self.reload.setAccessibleName(self.tr("Refresh the privacy page"))
        self.reload.clicked.connect(self.refresh)
        buttons.addWidget(self.notice)
        buttons.addStretch(1)
        buttons.addWidget(self.reload)
        layout.addLayout(buttons)
        return page

    @Slot()
    def refresh(self) -> None:
        """Read consent, policy, the ledger and the upload status again and show them."""
        center = self.link.center
        status = self.link.uploads_status()
        recipient = recipient_text(status)
        last_sent = center.ledger.last_sent()
        for view in center.views():
            row = self.rows[view.purpose]
            row.show_view(view, recipient=recipient, last_sent=last_sent.get(view.purpose))
        problems = center.problems()
        self.problems.setVisible(bool(problems))
        held = self.tr("Uploads are held back: {problem}")
        self.problems.setText("\n".join(held.format(problem=p) for p in problems))
        self.uploads.setText(self._uploads_text(status))
        self.ledger.refresh()
        self.history.refresh()
        self.policy.refresh()

    def _uploads_text(self, status: dict[str, object] | None) -> str:
        if status is None:
            return self.tr("Uploads are not set up here; your choices apply once they are.")
        queued = status.get("queued")
        waiting = sum(int(n) for n in queued.values()) if isinstance(queued, dict) else 0
        text = self.tr("%n upload(s) waiting to be sent.", None, waiting)
        if status.get("problem"):
            text = self.tr("{text} {problem}").format(text=text, problem=status["problem"])
        return text

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        # Choices may have changed elsewhere (the command line, another user's session).
        self.refresh()

    @Slot(bool, str)
    def on_link_changed(self, connected: bool, message: str) -> None:
        self.refresh()

    @Slot(object, bool)
    def on_decided(self, purpose: Purpose, allow: bool) -> None:
        center = self.link.center
        actor = LocalUser.current()
        name = purpose_name(purpose)
        try:
            if allow:
                center.grant(purpose, actor=actor, surface=Surface.SETTINGS_PANEL)
                view = center.gate.view(purpose)
                if view.effective.on:
                    said = self.tr("\u201c{name}\u201d is allowed.").format(name=name)
                else:
                    said = self.tr(
                        "Your choice for \u201c{name}\u201d is recorded, but it stays off: {why}"
                    ).format(name=name, why=view.decided_by)
            else:
                done = center.withdraw(purpose, actor=actor, surface=Surface.SETTINGS_PANEL)
                said = self.tr("\u201c{name}\u201d is not allowed.").format(name=name)
                if done.deletion_request is not None:
                    said = self.tr(
                        "{said} %n waiting upload(s) deleted; the cloud is asked to "
                        "delete what it received.",
                        None,
                        done.purged,
                    ).format(said=said)
        except (ConsentError, ConsentStoreError) as exc:
            said = self.tr("Nothing changed: {error}").format(error=exc)
        told = self.link.changed()
        self.feedback.setText(said if told is None else f"{said}\n{told}")
        self.refresh()

    @Slot(object, str, bool)
    def on_subtoggle_switched(self, purpose: Purpose, subtoggle: str, on: bool) -> None:
        try:
            self.link.center.set_subtoggle(
                purpose, subtoggle, on, actor=LocalUser.current(), surface=Surface.SETTINGS_PANEL
            )
        except (ConsentError, ConsentStoreError) as exc:
            self.feedback.setText(self.tr("Nothing changed: {error}").format(error=exc))
        else:
            told = self.link.changed()
            self.feedback.setText(told or "")
        self.refresh()

    @Slot(object)
    def on_preview_requested(self, purpose: Purpose) -> None:
        try:
            preview = self.link.preview(purpose)
        except (SecureStorageUnavailable, ConsentStoreError, EnvelopeInvalid) as exc:
            self.feedback.setText(
                self.tr("No preview of \u201c{name}\u201d: {error}").format(
                    name=purpose_name(purpose), error=exc
                )
            )
            return
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        self.preview_dialog = PreviewDialog(preview, self)
        self.preview_dialog.show()

    @Slot()
    def on_notice_clicked(self) -> None:
        center = self.link.center
        NoticeDialog(center.notice, center.notice_text, self).exec()
