"""The Events page: recorded and live events, filtered by device, kind, severity and text."""

from __future__ import annotations

import csv
import datetime
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.api.errors import ApiError
from upsight.agent.codec import event_from_json
from upsight.agent.events import Event, EventKind, Severity
from upsight.gui.bridge import Bridge
from upsight.gui.display import event_title, kind_title, severity_name, tr_noop, translate

log = logging.getLogger(__name__)

# The page loads this many recorded events; older ones stay in the history and the CLI.
LOAD_LIMIT: Final = 2000
CSV_COLUMNS: Final = ("time", "device", "kind", "severity", "message")

ModelIndex = QModelIndex | QPersistentModelIndex


def write_csv(events: Iterable[Event], out: TextIO) -> int:
    """Write events as CSV: time (ISO 8601 with offset), device, kind, severity, message.

    The values each event captured follow as one column per variable.

    Returns:
        The number of events written.
    """
    rows = list(events)
    variables = sorted({name for event in rows for name in event.data})
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *variables])
    for event in rows:
        when = datetime.datetime.fromtimestamp(event.at).astimezone().isoformat(timespec="seconds")
        data = [event.data.get(name, "") for name in variables]
        writer.writerow(
            [when, event.device, event.kind.value, event.severity.value, event.message, *data]
        )
    return len(rows)


def export_csv(events: Iterable[Event], path: Path) -> int:
    """Write events to a CSV file at ``path``; returns how many were written."""
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_csv(events, out)


class EventTableModel(QAbstractTableModel):
    """Events, newest first: time, device, severity, event and message columns."""

    HEADERS: Final = (
        tr_noop("EventTableModel", "Time"),
        tr_noop("EventTableModel", "Device"),
        tr_noop("EventTableModel", "Severity"),
        tr_noop("EventTableModel", "Event"),
        tr_noop("EventTableModel", "Message"),
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events: list[Event] = []

    def set_events(self, events: Sequence[Event]) -> None:
        """Replace every row; ``events`` may come in any order."""
        self.beginResetModel()
        self._events = sorted(events, key=lambda e: e.at, reverse=True)
        self.endResetModel()

    def add(self, event: Event) -> None:
        """Insert a live event at the top."""
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._events.insert(0, event)
        self.endInsertRows()

    def event_at(self, row: int) -> Event:
        return self._events[row]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return translate("EventTableModel", self.HEADERS[section])
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        event = self._events[index.row()]
        column = index.column()
        if column == 0:
            when = QDateTime.fromMSecsSinceEpoch(round(event.at * 1000))
            return QLocale().toString(when, QLocale.FormatType.ShortFormat)
        if column == 1:
            return event.device
        if column == 2:
            return severity_name(event.severity)
        if column == 3:
            return event_title(event)
        return event.message


class EventFilter(QSortFilterProxyModel):
    """Rows of an EventTableModel that match a device, kind, severity and text."""

    def __init__(self, source: EventTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events = source
        self.setSourceModel(source)
        self.device: str | None = None
        self.kind: EventKind | None = None
        self.severity: Severity | None = None
        self.text = ""

    def set_filter(
        self,
        *,
        device: str | None = None,
        kind: EventKind | None = None,
        severity: Severity | None = None,
        text: str = "",
    ) -> None:
        """Show only matching events; None or empty matches everything."""
        self.beginFilterChange()
        self.device, self.kind, self.severity, self.text = device, kind, severity, text.strip()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def matches(self, event: Event) -> bool:
        if self.device is not None and event.device != self.device:
            return False
        if self.kind is not None and event.kind is not self.kind:
            return False
        if self.severity is not None and event.severity is not self.severity:
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = f"{event_title(event)} {event.message} {event.kind.value} {event.device}"
            return needle in haystack.casefold()
        return True

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:  # noqa: N802
        return self.matches(self._events.event_at(source_row))

    def visible_events(self) -> list[Event]:
        """The events shown, in view order."""
        return [
            self._events.event_at(self.mapToSource(self.index(row, 0)).row())
            for row in range(self.rowCount())
        ]


class EventsPage(QWidget):
    """A filterable table of events with CSV export."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Events"))
        self._bridge = bridge
        self.model = EventTableModel(self)
        self.filter = EventFilter(self.model, self)

        self.device = QComboBox()
        self.device.setAccessibleName(self.tr("Device"))
        self.device.addItem(self.tr("All devices"), None)
        self.kind = QComboBox()
        self.kind.setAccessibleName(self.tr("Kind of event"))
        self.kind.addItem(self.tr("All kinds"), None)
        for kind in EventKind:
            self.kind.addItem(kind_title(kind), kind)
        self.severity = QComboBox()
        self.severity.setAccessibleName(self.tr("Severity"))
        self.severity.addItem(self.tr("Any severity"), None)
        for severity in Severity:
            self.severity.addItem(severity_name(severity), severity)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search events"))
        self.search.setAccessibleName(self.tr("Search events"))
        self.search.setClearButtonEnabled(True)
        self.export_button = QPushButton(self.tr("&Export CSV…"))
        self.export_button.setAccessibleName(self.tr("Export the shown events as CSV"))
        self.reload_button = QPushButton(self.tr("&Reload"))
        self.reload_button.setAccessibleName(self.tr("Reload events from the history"))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.table = QTableView()
        self.table.setAccessibleName(self.tr("Events, newest first"))
        self.table.setModel(self.filter)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)

        layout = QVBoxLayout(self)
        layout.addLayout(self._filter_bar())
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

        for combo in (self.device, self.kind, self.severity):
            combo.currentIndexChanged.connect(self.on_filter_changed)
        self.search.textChanged.connect(self.on_filter_changed)
        self.export_button.clicked.connect(self.on_export_clicked)
        self.reload_button.clicked.connect(self.reload)
        bridge.event_raised.connect(self.on_event_raised)
        for state in bridge.states():
            self._add_device(state.device)
        self.reload()

    def _filter_bar(self) -> QHBoxLayout:
        filters = QHBoxLayout()
        for label_text, widget in (
            (self.tr("&Device:"), self.device),
            (self.tr("&Kind:"), self.kind),
            (self.tr("Se&verity:"), self.severity),
            (self.tr("Searc&h:"), self.search),
        ):
            label = QLabel(label_text)
            label.setBuddy(widget)
            filters.addWidget(label)
            filters.addWidget(widget)
        filters.addWidget(self.reload_button)
        filters.addWidget(self.export_button)
        return filters

    @Slot()
    def reload(self) -> None:
        """Load recorded events from the agent's history."""
        try:
            found = [event_from_json(e) for e in self._bridge.call("events", limit=LOAD_LIMIT)]
        except ApiError as exc:
            self._say(self.tr("Could not load events: {error}").format(error=exc))
            return
        self._say("")
        self.model.set_events(found)
        for event in found:
            self._add_device(event.device)

    @Slot(object)
    def on_event_raised(self, event: Event) -> None:
        self.model.add(event)
        self._add_device(event.device)

    @Slot()
    def on_filter_changed(self) -> None:
        self.filter.set_filter(
            device=self.device.currentData(),
            kind=self.kind.currentData(),
            severity=self.severity.currentData(),
            text=self.search.text(),
        )

    @Slot()
    def on_export_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export events"), "upsight-events.csv", self.tr("CSV files (*.csv)")
        )
        if name:
            self.export(Path(name))

    def export(self, path: Path) -> None:
        """Write the shown events to ``path`` and say how it went."""
        try:
            count = export_csv(self.filter.visible_events(), path)
        except OSError as exc:
            self._say(self.tr("Could not export: {error}").format(error=exc.strerror or exc))
            return
        self._say(self.tr("Exported %n event(s) to {path}", None, count).format(path=path))

    def _add_device(self, device: str) -> None:
        if self.device.findData(device) < 0:
            self.device.addItem(device, device)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
