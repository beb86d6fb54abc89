"""The first-start consent questions: every purpose off, one plain choice each."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import (
    ConsentError,
    ConsentStoreError,
    LocalUser,
    Surface,
)
from upsight.agent.privacy.effective import Stored
from upsight.agent.privacy.gate import PurposeView
from upsight.agent.privacy.inventory import Inventory
from upsight.agent.privacy.purposes import PURPOSES, Purpose
from upsight.gui.bridge import Bridge
from upsight.gui.privacy_link import PrivacyLink
from upsight.gui.privacy_notice import NoticeDialog
from upsight.gui.privacy_rows import (
    FieldsToggle,
    group_title,
    purpose_name,
    purpose_text,
    recipient_text,
    wrapped_label,
)


def _waits_for_answer(view: PurposeView) -> bool:
    # An organisation's recommendation to allow already applies until the user says
    # otherwise; it alone is no reason to interrupt the user at every start.
    return view.effective.prompt and view.effective.prefill is not Stored.GRANTED


def needs_first_run(center: PrivacyCenter) -> bool:
    """Whether to ask the first-start questions now.

    True while some purpose is undecided (never answered, or answered under an older
    prompt or inventory version, which the consent store records per purpose) and policy
    leaves it to the user. False when policy decides every purpose or switches the
    prompt off with ``ShowFirstRunPrompt: false``.
    """
    entry = center.policy().entry("ShowFirstRunPrompt")
    if entry is not None and entry.value is False:
        return False
    return any(_waits_for_answer(v) for v in center.views())


class ChoiceRow(QGroupBox):
    """One purpose in the first-start dialog; neither answer is selected unless policy suggests."""

    def __init__(
        self,
        inventory: Inventory,
        view: PurposeView,
        recipient: str,
        parent: QWidget | None = None,
    ) -> None:
        name = purpose_name(view.purpose)
        super().__init__(group_title(name), parent)
        self.purpose = view.purpose
        self.prefill = view.effective.prefill
        self.setAccessibleName(name)
        info = PURPOSES[view.purpose]
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(
            wrapped_label(purpose_text(info.why), self.tr("Why: {name}").format(name=name)), 1
        )
        # The two answers look alike and sit side by side: no nudge towards either.
        self.allow = QRadioButton(self.tr("Allow"))
        self.allow.setAccessibleName(self.tr("Allow {name}").format(name=name))
        self.deny = QRadioButton(self.tr("Don't allow"))
        self.deny.setAccessibleName(self.tr("Don't allow {name}").format(name=name))
        self._group = QButtonGroup(self)
        for button in (self.allow, self.deny):
            self._group.addButton(button)
            top.addWidget(button)
        layout.addLayout(top)
        if info.caveat:
            layout.addWidget(
                wrapped_label(purpose_text(info.caveat), self.tr("Note: {name}").format(name=name))
            )
        suggestion = None
        if self.prefill is Stored.GRANTED:
            self.allow.setChecked(True)
            suggestion = self.tr("Your organization suggests allowing this; you may say no.")
        elif self.prefill is Stored.DENIED:
            self.deny.setChecked(True)
            suggestion = self.tr("Your organization suggests not allowing this; you may say yes.")
        if suggestion is not None:
            layout.addWidget(
                wrapped_label(
                    suggestion, self.tr("Organization suggestion for {name}").format(name=name)
                )
            )
        layout.addWidget(
            wrapped_label(
                self.tr("Sent to {recipient}.").format(recipient=recipient),
                self.tr("Recipient: {name}").format(name=name),
            )
        )
        layout.addWidget(FieldsToggle(inventory, view.purpose))

    def allowed(self) -> bool:
        """Whether Allow is selected."""
        return self.allow.isChecked()

    def answer_none(self) -> None:
        """Select Don't allow."""
        self.deny.setChecked(True)


class FirstRunDialog(QDialog):
    """Asks, once, which purposes may upload anything; closing it grants nothing.

    "Continue" records an answer for every purpose shown: Allow where the user selected
    it, Don't allow everywhere else (an organisation's suggestion to allow that the user
    left as it was stays the organisation's). Escape or closing the window records
    nothing, so the questions come back at the next start.

    Args:
        bridge: The app's bridge; the agent is told about the answers.
        parent: The Qt parent.
        center: Record in this privacy center instead of the one ``PrivacyLink`` opens
            (the caller keeps ownership).

    Raises:
        OSError, ValueError, UpsError: The privacy center could not be opened.
    """

    def __init__(
        self, bridge: Bridge, parent: QWidget | None = None, *, center: PrivacyCenter | None = None
    ) -> None:
        super().__init__(parent)
        self.link = PrivacyLink(bridge, center)
        center = self.link.center
        self.setWindowTitle(self.tr("Upsight: what may leave this computer"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            wrapped_label(
                self.tr(
                    "Upsight sends nothing unless you allow it. Choose \u201cAllow\u201d for "
                    "what you want to share; everything else stays off. You can change each "
                    "choice at any time on the Privacy page.\n{local}: {why}"
                ).format(
                    local=purpose_name(Purpose.LOCAL),
                    why=purpose_text(PURPOSES[Purpose.LOCAL].why),
                ),
                self.tr("About these questions"),
            )
        )
        inner = QWidget()
        rows = QVBoxLayout(inner)
        self.rows: list[ChoiceRow] = []
        recipient = recipient_text(self.link.uploads_status())
        for view in center.views():
            if view.effective.prompt:
                row = ChoiceRow(center.inventory, view, recipient)
                self.rows.append(row)
                rows.addWidget(row)
        rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout.addWidget(scroll, 1)
        self.problem = wrapped_label("", self.tr("Problem recording your choices"))
        self.problem.hide()
        layout.addWidget(self.problem)
        buttons = QHBoxLayout()
        self.learn_more = QPushButton(self.tr("&Learn more"))
        self.learn_more.setAccessibleName(self.tr("Read the privacy notice"))
        self.learn_more.clicked.connect(self.on_learn_more_clicked)
        self.allow_none = QPushButton(self.tr("Allow &none"))
        self.allow_none.setAccessibleName(self.tr("Allow none and continue"))
        self.allow_none.clicked.connect(self.on_allow_none_clicked)
        self.continue_ = QPushButton(self.tr("&Continue"))
        self.continue_.setAccessibleName(self.tr("Continue with these choices"))
        self.continue_.clicked.connect(self.on_continue_clicked)
        buttons.addWidget(self.learn_more)
        buttons.addStretch(1)
        buttons.addWidget(self.allow_none)
        buttons.addWidget(self.continue_)
        layout.addLayout(buttons)
        self.resize(720, 640)

    def record(self) -> bool:
        """Record every row's answer as the user's own and tell the agent; False on failure."""
        center = self.link.center
        actor = LocalUser.current()
        surface = Surface.FIRST_RUN_DIALOG
        try:
            for row in self.rows:
                if row.allowed():
                    if row.prefill is not Stored.GRANTED:
                        center.grant(row.purpose, actor=actor, surface=surface)
                else:
                    center.withdraw(row.purpose, actor=actor, surface=surface)
        except (ConsentError, ConsentStoreError) as exc:
            self.problem.setText(
                self.tr("Your choices could not all be recorded: {error}").format(error=exc)
            )
            self.problem.show()
            return False
        finally:
            self.link.changed()
        return True

    def done(self, result: int) -> None:
        """Close the dialog and the privacy center it opened."""
        super().done(result)
        self.link.close()

    @Slot()
    def on_continue_clicked(self) -> None:
        if self.record():
            self.accept()

    @Slot()
    def on_allow_none_clicked(self) -> None:
        for row in self.rows:
            row.answer_none()
        if self.record():
            self.accept()

    @Slot()
    def on_learn_more_clicked(self) -> None:
        center = self.link.center
        NoticeDialog(center.notice, center.notice_text, self).exec()
