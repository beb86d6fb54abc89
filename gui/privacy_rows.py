"""One upload purpose on screen: what it is for, exactly what it sends, and its switch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from PySide6.QtCore import QCoreApplication, QDateTime, QLocale, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.consent import ConsentState
from upsight.agent.privacy.effective import Source
from upsight.agent.privacy.gate import PurposeView
from upsight.agent.privacy.inventory import (
    Carrier,
    Category,
    Inventory,
    InventoryField,
    Retention,
    Transform,
)
from upsight.agent.privacy.purposes import PURPOSES, Purpose, Subtoggle
from upsight.gui.display import tr_noop, translate

_CONTEXT: Final = "PrivacyRows"


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


def purpose_text(text: str) -> str:
    """A sentence from the agent's purpose table, translated (the agent has no Qt)."""
    return QCoreApplication.translate("Purposes", text)


def purpose_name(purpose: Purpose) -> str:
    """The user-facing name of a purpose, translated."""
    return purpose_text(PURPOSES[purpose].name)


# A shape and a word for each sensitivity category, so the badge reads without colour.
_BADGES: Final[dict[Category, tuple[str, str]]] = {
    Category.TECHNICAL: ("\u25cb", tr_noop("PrivacyRows", "Technical")),
    Category.INTERACTION: ("\u25c7", tr_noop("PrivacyRows", "How you use the app")),
    Category.STORED_CONTENT: ("\u25a1", tr_noop("PrivacyRows", "Your content")),
    Category.HIGHLY_SENSITIVE: ("\u25b2", tr_noop("PrivacyRows", "Identifies you or this device")),
}

_RETENTION: Final[dict[Retention, str]] = {
    Retention.WHILE_DEVICE_PRESENT: tr_noop("PrivacyRows", "While the UPS is connected"),
    Retention.WHILE_SET: tr_noop("PrivacyRows", "While you keep it set"),
    Retention.UNTIL_RESET: tr_noop("PrivacyRows", "Until you reset identifiers"),
    Retention.CONSENT_RECORD: tr_noop("PrivacyRows", "With the record of your choices"),
    Retention.UNTIL_DELIVERED: tr_noop("PrivacyRows", "Until it is delivered"),
}

_TRANSFORMS: Final[dict[Transform, str]] = {
    Transform.AS_IS: tr_noop("PrivacyRows", "As it is"),
    Transform.ENUM: tr_noop("PrivacyRows", "As one of a fixed list of values"),
    Transform.MAJOR_MINOR: tr_noop("PrivacyRows", "Major and minor version only"),
    Transform.LANGUAGE_TAG: tr_noop("PrivacyRows", "As a language tag"),
    Transform.UTC_OFFSET_MINUTES: tr_noop(
        "PrivacyRows", "As an offset in minutes, not the zone name"
    ),
    Transform.HMAC_INSTALL_SECRET: tr_noop(
        "PrivacyRows", "As a code that cannot be turned back into the value"
    ),
    Transform.ENUM_UTC_TIMESTAMP_S: tr_noop("PrivacyRows", "Event type and time to the second"),
    Transform.ROUND: tr_noop("PrivacyRows", "Rounded"),
    Transform.AGGREGATE_15MIN: tr_noop("PrivacyRows", "As 15-minute minimum, average and maximum"),
    Transform.SUM_15MIN: tr_noop("PrivacyRows", "As 15-minute totals"),
    Transform.NUMBERS_ONLY: tr_noop("PrivacyRows", "Numbers only"),
    Transform.DAILY_COUNTERS: tr_noop("PrivacyRows", "As daily counts"),
    Transform.SCRUB_STACK: tr_noop("PrivacyRows", "Cleaned of paths, names and values"),
    Transform.ENUM_COUNT: tr_noop("PrivacyRows", "As error codes and counts"),
    Transform.SIGN_IN_REQUEST_ONLY: tr_noop("PrivacyRows", "Only in the sign-in request"),
    Transform.SERVER_TRUNCATES: tr_noop("PrivacyRows", "Seen by the server, which shortens it"),
}


def category_badge(category: Category) -> str:
    """The badge of a sensitivity category: a shape and a word, never colour alone."""
    shape, words = _BADGES[category]
    return f"{shape} {_tr(words)}"


def transform_text(field: InventoryField, purpose: Purpose) -> str:
    """How a field is changed before it is sent for ``purpose``, in words."""
    text = _tr(_TRANSFORMS[field.transform_for(purpose)])
    if field.carrier is Carrier.CONNECTION:
        return translate("PrivacyRows", "Part of every connection: {how}").format(how=text)
    return text


def time_text(at: float) -> str:
    """A moment in the user's local time and locale."""
    moment = QDateTime.fromSecsSinceEpoch(int(at))
    return QLocale().toString(moment, QLocale.FormatType.ShortFormat)


def recipient_text(status: Mapping[str, object] | None) -> str:
    """Who receives uploads, from the agent's ``privacy.status`` answer (None: no uploads)."""
    endpoint = status.get("endpoint") if status else None
    if endpoint:
        return translate("PrivacyRows", "the Upsight cloud at {endpoint}").format(endpoint=endpoint)
    return translate("PrivacyRows", "the Upsight cloud (no address is set yet, so nothing is sent)")


def group_title(text: str) -> str:
    """``text`` as a group box or button label: a literal ``&`` is not a mnemonic."""
    return text.replace("&", "&&")


def status_text(view: PurposeView) -> tuple[str, str | None]:
    """The effective state in words, and the organisation notice for a row, if any."""
    effective = view.effective
    source = effective.source
    if source is Source.HARD_LIMIT:
        return translate("PrivacyRows", "Off: {reason}").format(reason=view.hard_limit or ""), None
    if source is Source.POLICY_BLOCK:
        return translate("PrivacyRows", "Off: blocked by your organization"), translate(
            "PrivacyRows", "Managed by your organization"
        )
    if source is Source.FAIL_CLOSED:
        return (
            translate("PrivacyRows", "Off: your organization's policy for this could not be used"),
            translate("PrivacyRows", "Managed by your organization"),
        )
    if source is Source.ORG_POLICY:
        if effective.locked:
            return translate("PrivacyRows", "On: enabled by your organization"), translate(
                "PrivacyRows", "Enabled by your organization"
            )
        if effective.on:
            return (
                translate(
                    "PrivacyRows", "On: recommended by your organization; you can switch it off"
                ),
                translate("PrivacyRows", "Recommended by your organization"),
            )
        return (
            translate(
                "PrivacyRows",
                "Off: your organization recommends not allowing it; you can switch it on",
            ),
            translate("PrivacyRows", "Recommended by your organization"),
        )
    if source is Source.USER:
        if effective.on:
            return translate("PrivacyRows", "On: you allowed it"), None
        return translate("PrivacyRows", "Off: you chose not to allow it"), None
    if view.consent.reason:
        return translate(
            "PrivacyRows", "Off: asked again because what it sends or its wording changed"
        ), None
    return translate("PrivacyRows", "Off: not decided yet"), None


class FieldList(QTreeWidget):
    """Every field a purpose can send: category badge, how it is sent, retention, what it is.

    Each field is one row; what it is follows on a full-width line beneath it, so plain
    descriptions stay readable without sideways scrolling.
    """

    def __init__(self, inventory: Inventory, purpose: Purpose, parent: QWidget | None = None):
        super().__init__(parent)
        self.purpose = purpose
        self.setColumnCount(4)
        self.setHeaderLabels(
            [
                self.tr("Field"),
                self.tr("Sensitivity"),
                self.tr("How it is sent"),
                self.tr("Kept on this computer"),
            ]
        )
        self.setRootIsDecorated(False)
        self.setItemsExpandable(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName(
            self.tr("Fields sent for {purpose}").format(purpose=purpose_name(purpose))
        )
        self.items: list[QTreeWidgetItem] = []
        subtoggles = {s.id: s for s in PURPOSES[purpose].subtoggles}
        for field in inventory.disclosed_for(purpose):
            what = QCoreApplication.translate("Inventory", field.description)
            needs = field.requires_subtoggle or field.clear_text_subtoggle
            if needs in subtoggles:
                what = self.tr("{what} (only with \u201c{switch}\u201d on)").format(
                    what=what, switch=purpose_text(subtoggles[needs].label)
                )
            item = QTreeWidgetItem(
                [
                    field.id,
                    category_badge(field.category),
                    transform_text(field, purpose),
                    self.retention_text(field.local_retention_days),
                ]
            )
            item.setToolTip(0, what)
            description = QTreeWidgetItem([what])
            item.addChild(description)
            self.items.append(item)
            self.addTopLevelItem(item)
            description.setFirstColumnSpanned(True)
            item.setExpanded(True)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def field_ids(self) -> list[str]:
        """The ids listed, in inventory order."""
        return [item.text(0) for item in self.items]

    def badges(self) -> list[str]:
        """The category badge of each field listed, in order."""
        return [item.text(1) for item in self.items]

    def descriptions(self) -> list[str]:
        """What each field listed is, in order."""
        return [item.toolTip(0) for item in self.items]

    def retention_text(self, value: int | Retention) -> str:
        """How long a field is kept on this computer, in words."""
        if isinstance(value, Retention):
            return _tr(_RETENTION[value])
        if value == 0:
            return translate("PrivacyRows", "Not kept")
        return self.tr("%n day(s)", None, value)


def wrapped_label(text: str, accessible_name: str) -> QLabel:
    """A word-wrapped label with an accessible name."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    return label


class FieldsToggle(QWidget):
    """A button that shows or hides the list of fields a purpose sends."""

    def __init__(self, inventory: Inventory, purpose: Purpose, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.fields = FieldList(inventory, purpose)
        self.fields.hide()
        self.button = QToolButton()
        self.button.setCheckable(True)
        self.button.setArrowType(Qt.ArrowType.RightArrow)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setText(
            self.tr("Show the fields it sends ({count})").format(count=len(self.fields.items))
        )
        self.button.setAccessibleName(
            self.tr("Fields sent for {name}").format(name=purpose_name(purpose))
        )
        self.button.toggled.connect(self.on_button_toggled)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.fields)

    @Slot(bool)
    def on_button_toggled(self, shown: bool) -> None:
        self.fields.setVisible(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.button.setArrowType(arrow)


class PurposeRow(QGroupBox):
    """One purpose in the privacy panel: plain words, fields, state and an Allow switch.

    The row only shows and asks; the page records decisions through the privacy center.
    Nothing is selected until the user decides, and the selection always mirrors the
    choice the consent store counts.

    Signals:
        decided(Purpose, bool): the user chose Allow (True) or Don't allow (False).
        subtoggle_switched(Purpose, str, bool): the user switched a sub-toggle.
        preview_requested(Purpose): the user asked for the next upload's exact content.
    """

    decided = Signal(object, bool)
    subtoggle_switched = Signal(object, str, bool)
    preview_requested = Signal(object)

    def __init__(self, inventory: Inventory, purpose: Purpose, parent: QWidget | None = None):
        info = PURPOSES[purpose]
        name = purpose_name(purpose)
        super().__init__(group_title(name), parent)
        self.purpose = purpose
        self.setAccessibleName(name)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.why = wrapped_label(purpose_text(info.why), self.tr("Why: {name}").format(name=name))
        top.addWidget(self.why, 1)
        self.allow = QRadioButton(self.tr("Allow"))
        self.allow.setAccessibleName(self.tr("Allow {name}").format(name=name))
        self.deny = QRadioButton(self.tr("Don't allow"))
        self.deny.setAccessibleName(self.tr("Don't allow {name}").format(name=name))
        self._choice = QButtonGroup(self)
        for button in (self.allow, self.deny):
            self._choice.addButton(button)
            top.addWidget(button)
        self.allow.clicked.connect(self.on_allow_clicked)
        self.deny.clicked.connect(self.on_deny_clicked)
        layout.addLayout(top)
        if info.caveat:
            layout.addWidget(
                wrapped_label(purpose_text(info.caveat), self.tr("Note: {name}").format(name=name))
            )
        if info.needs_account:
            layout.addWidget(
                wrapped_label(
                    self.tr(
                        "Works only with a signed-in account or your organization's enrolment."
                    ),
                    self.tr("Requirement: {name}").format(name=name),
                )
            )
        state = QHBoxLayout()
        self.status = wrapped_label("", self.tr("State of {name}").format(name=name))
        state.addWidget(self.status, 1)
        self.managed = QLabel()
        self.managed.setFrameShape(QLabel.Shape.StyledPanel)
        self.managed.setAccessibleName(self.tr("Organization setting for {name}").format(name=name))
        self.managed.hide()
        state.addWidget(self.managed)
        layout.addLayout(state)
        self.details = wrapped_label(
            "", self.tr("Recipient and last upload: {name}").format(name=name)
        )
        layout.addWidget(self.details)
        self.subtoggles = {sub.id: self._subtoggle(sub) for sub in info.subtoggles}
        for box in self.subtoggles.values():
            layout.addWidget(box)
        self.fields = FieldsToggle(inventory, purpose)
        layout.addWidget(self.fields)
        self.preview = QPushButton(self.tr("Preview next upload"))
        self.preview.setAccessibleName(self.tr("Preview next upload of {name}").format(name=name))
        self.preview.clicked.connect(self.on_preview_clicked)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignRight)

    def _subtoggle(self, sub: Subtoggle) -> QCheckBox:
        label, explanation = purpose_text(sub.label), purpose_text(sub.explanation)
        box = QCheckBox(group_title(label))
        box.setToolTip(explanation)
        box.setAccessibleName(label)
        box.setAccessibleDescription(explanation)
        box.setProperty("subtoggle", sub.id)
        box.clicked.connect(self.on_subtoggle_clicked)
        return box

    def show_view(self, view: PurposeView, *, recipient: str, last_sent: float | None) -> None:
        """Show the purpose exactly as the privacy center reports it now."""
        counted = view.consent.state
        self._choice.setExclusive(False)
        self.allow.setChecked(counted is ConsentState.GRANTED)
        self.deny.setChecked(counted is ConsentState.DENIED)
        self._choice.setExclusive(True)
        locked = view.effective.locked
        self.allow.setEnabled(not locked)
        # Withdrawing a stored grant stays possible while policy holds the purpose (§6.4).
        self.deny.setEnabled(not locked or view.consent.stored is ConsentState.GRANTED)
        text, notice = status_text(view)
        self.status.setText(text)
        self.managed.setVisible(notice is not None)
        self.managed.setText(notice or "")
        source = view.policy.source or ""
        tip = self.tr("Set by {source}").format(source=source) if source and notice else ""
        for widget in (self.managed, self.allow, self.deny):
            widget.setToolTip(tip)
        if view.consent.reason:
            self.status.setToolTip(view.consent.reason)
        else:
            self.status.setToolTip("")
        sent = (
            self.tr("Last sent: {time}").format(time=time_text(last_sent))
            if last_sent is not None
            else self.tr("Nothing sent yet")
        )
        self.details.setText(
            self.tr("Recipient: {recipient}. {sent}.").format(recipient=recipient, sent=sent)
        )
        for sub_id, box in self.subtoggles.items():
            on = view.consent.granted and view.consent.record.subtoggles.get(sub_id, False)
            box.setChecked(on)
            box.setEnabled(view.consent.granted and not locked)

    @Slot()
    def on_allow_clicked(self) -> None:
        self.decided.emit(self.purpose, True)

    @Slot()
    def on_deny_clicked(self) -> None:
        self.decided.emit(self.purpose, False)

    @Slot(bool)
    def on_subtoggle_clicked(self, checked: bool) -> None:
        box = self.sender()
        if isinstance(box, QCheckBox):
            self.subtoggle_switched.emit(self.purpose, str(box.property("subtoggle")), checked)

    @Slot()
    def on_preview_clicked(self) -> None:
        self.preview_requested.emit(self.purpose)
