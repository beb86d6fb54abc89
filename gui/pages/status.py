"""The Status page: one card per device with its condition and the values it reports."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.monitor import DeviceState, Link
from upsight.gui import display
from upsight.gui.bridge import Bridge
from upsight.gui.icons import CONDITION_GLYPHS, Glyph, icon

# How much larger than body text the condition headline is.
HEADLINE_SCALE = 1.6
GLYPH_PX = 48
# "Last seen N s ago" counts up once a second while a device is silent.
REFRESH_MS = 1000


class _ValueRow:
    """The label and value widgets of one metric, created once and shown when reported."""

    def __init__(self, grid: QGridLayout, row: int, label: str) -> None:
        self.label = QLabel(label)
        self.value = QLabel()
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setBuddy(self.value)
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.value, row, 1)
        self.set_visible(False)

    def set_visible(self, visible: bool) -> None:
        self.label.setVisible(visible)
        self.value.setVisible(visible)


class DeviceCard(QFrame):
    """One device: name, source, condition, and a table of its current values."""

    def __init__(self, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = device
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"card-{device}")
        self._state: DeviceState | None = None
        self.title = QLabel()
        title_font = QFont(self.font())
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.simulated_icon = QLabel()
        self.simulated_icon.setPixmap(icon(Glyph.SIMULATED).pixmap(16, 16))
        self.simulated = QLabel(self.tr("Simulated UPS"))
        self.simulated.setAccessibleName(self.tr("Simulated UPS, not a real device"))
        self.source = QLabel()
        self.glyph = QLabel()
        self.glyph.setFixedSize(GLYPH_PX, GLYPH_PX)
        self.headline = QLabel()
        headline_font = QFont(self.font())
        headline_font.setPointSizeF(headline_font.pointSizeF() * HEADLINE_SCALE)
        self.headline.setFont(headline_font)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)

        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addStretch(1)
        heading.addWidget(self.simulated_icon)
        heading.addWidget(self.simulated)
        condition = QHBoxLayout()
        condition.addWidget(self.glyph)
        texts = QVBoxLayout()
        texts.addWidget(self.headline)
        texts.addWidget(self.notes)
        condition.addLayout(texts, 1)
        self._rows: dict[str, _ValueRow] = {}
        self._groups: dict[str, QLabel] = {}
        grid = self._value_grid(title_font)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.source)
        layout.addLayout(condition)
        layout.addWidget(self.detail)
        layout.addLayout(grid)
        for label in (self.title, self.source, self.headline, self.notes, self.detail):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _value_grid(self, heading_font: QFont) -> QGridLayout:
        """A row per metric, under group headings; all hidden until a reading shows them."""
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        line = 0
        for name, metric in display.METRICS.items():
            group = display.translate("Metric", metric.group)
            if group not in self._groups:
                heading = QLabel(group)
                heading.setFont(heading_font)
                heading.setVisible(False)
                grid.addWidget(heading, line, 0, 1, 2)
                self._groups[group] = heading
                line += 1
            self._rows[name] = _ValueRow(grid, line, display.translate("Metric", metric.label))
            line += 1
        return grid

    @property
    def stale(self) -> bool:
        return self._state is not None and self._state.reading is None

    def value_text(self, name: str) -> str | None:
        """The shown text of a variable, or None when its row is hidden."""
        row = self._rows.get(name)
        if row is None or row.value.isHidden():
            return None
        return row.value.text()

    def show_state(self, state: DeviceState, now: float) -> None:
        """Present ``state``; ``now`` is the wall-clock time for "last seen" texts."""
        self._state = state
        label = display.device_label(state)
        self.title.setText(self.tr("{label} ({device})").format(label=label, device=state.device))
        simulated = state.info is not None and state.info.simulated
        self.simulated_icon.setVisible(simulated)
        self.simulated.setVisible(simulated)
        self.source.setText(self.tr("Source: {spec}").format(spec=state.spec))
        condition = display.condition(state)
        self.glyph.setPixmap(icon(CONDITION_GLYPHS[condition]).pixmap(GLYPH_PX, GLYPH_PX))
        self.glyph.setAccessibleName(display.headline(state))
        self.headline.setText(display.headline(state))
        self.notes.setText(" · ".join(display.notes(state)))
        self.notes.setVisible(bool(self.notes.text()))
        self.refresh_detail(now)
        self._show_values(state)

    def refresh_detail(self, now: float) -> None:
        """Update the "last seen" text of a silent device."""
        state = self._state
        if state is None or state.reading is not None:
            self.detail.setVisible(False)
            return
        if state.link is Link.CONNECTING and state.last_reading is None:
            text = self.tr("Waiting for the first reading from {spec}").format(spec=state.spec)
        elif state.last_reading is None:
            text = self.tr("No reading yet")
        else:
            seconds = max(0, round(now - state.last_reading.at))
            text = self.tr("Last reading {seconds} s ago").format(seconds=seconds)
        if state.error:
            text = self.tr("{text} ({error})").format(text=text, error=state.error)
        self.detail.setText(text)
        self.detail.setVisible(True)

    def _show_values(self, state: DeviceState) -> None:
        shown: dict[str, display.Row] = {}
        if state.reading is not None:
            shown = {row.name: row for row in display.rows(state.reading)}
        visible_groups: set[str] = set()
        for name, widgets in self._rows.items():
            row = shown.get(name)
            widgets.set_visible(row is not None)
            if row is None:
                continue
            visible_groups.add(row.group)
            text = row.text
            if row.estimated:
                text = self.tr("{value} (estimated)").format(value=text)
                widgets.value.setToolTip(
                    self.tr("Estimated by Upsight from other readings, not measured by the UPS")
                )
            else:
                widgets.value.setToolTip("")
            widgets.value.setText(text)
            widgets.value.setAccessibleName(
                self.tr("{label}: {value}").format(label=row.label, value=text)
            )
        for group, heading in self._groups.items():
            heading.setVisible(group in visible_groups)


class StatusPage(QWidget):
    """Every monitored device, updated as its states arrive."""

    def __init__(
        self,
        bridge: Bridge,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Status"))
        self._bridge = bridge
        self._clock = clock
        self._cards: dict[str, DeviceCard] = {}
        self._empty = QLabel(self.tr("Waiting for the first reading…"))
        body = QWidget()
        self._column = QVBoxLayout(body)
        self._column.addWidget(self._empty)
        self._column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.on_timer)
        bridge.state_changed.connect(self.on_state_changed)
        for state in bridge.states():
            self.on_state_changed(state)

    def card(self, device: str) -> DeviceCard | None:
        return self._cards.get(device)

    @Slot(object)
    def on_state_changed(self, state: DeviceState) -> None:
        card = self._cards.get(state.device)
        if card is None:
            card = DeviceCard(state.device, self)
            self._cards[state.device] = card
            self._column.insertWidget(self._column.count() - 1, card)
            self._empty.setVisible(False)
        card.show_state(state, self._clock())
        self._update_timer()

    @Slot()
    def on_timer(self) -> None:
        now = self._clock()
        for card in self._cards.values():
            if card.stale:
                card.refresh_detail(now)
        self._update_timer()

    def _update_timer(self) -> None:
        # Tick only while some device is silent, so a healthy app stays idle.
        if any(card.stale for card in self._cards.values()):
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()
