"""The History page: charts over a chosen range, outage shading and energy per day."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QEvent,
    QLocale,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.api.errors import ApiError
from upsight.agent.monitor import DeviceState
from upsight.drivers.clock import SYSTEM_CLOCK, Clock
from upsight.gui.bridge import Bridge
from upsight.gui.charts import EnergyChart, SeriesChart, format_kwh, outage_swatch
from upsight.gui.pages.history_data import (
    RANGES,
    HistoryData,
    HistoryRequest,
    Series,
    TimeRange,
    fetch,
)

log = logging.getLogger(__name__)

_CONTEXT: Final = "HistoryPage"
# The charts follow new readings this often while the page is visible.
REFRESH_MS: Final = 60_000
# Bounds on points per series: below the lower one a narrow window looks blocky;
# above the upper one no plot is wide enough to show the difference.
MIN_POINTS: Final = 60
MAX_POINTS: Final = 1500
# A resized plot is refetched only when its width changed by this factor from the
# points fetched, and after resizing has paused for this long.
REFETCH_CHANGE: Final = 1.25
RESIZE_SETTLE_MS: Final = 300
DEFAULT_RANGE: Final = "24h"


@dataclass(frozen=True)
class _ChartSpec:
    """How one variable is drawn: title, unit, scale from NUT units, and pinned axis ends."""

    var: str
    title: str
    unit: str
    divisor: float = 1.0
    floor: float | None = 0.0
    ceiling: float | None = None
    decimals: int = 0


_CHARTS: Final = (
    _ChartSpec(
        "battery.charge",
        str(QT_TRANSLATE_NOOP("HistoryPage", "Battery charge")),
        "%",
        ceiling=100.0,
    ),
    _ChartSpec("ups.load", str(QT_TRANSLATE_NOOP("HistoryPage", "Load")), "%", ceiling=100.0),
    _ChartSpec(
        "input.voltage",
        str(QT_TRANSLATE_NOOP("HistoryPage", "Input voltage")),
        "V",
        floor=None,
        decimals=1,
    ),
    _ChartSpec(
        "battery.runtime",
        str(QT_TRANSLATE_NOOP("HistoryPage", "Battery runtime")),
        "min",
        divisor=60.0,
    ),
)
# Runtimes of several hours read better in hours than as hundreds of minutes.
_RUNTIME_IN_HOURS: Final = _ChartSpec(
    "battery.runtime",
    str(QT_TRANSLATE_NOOP("HistoryPage", "Battery runtime")),
    "h",
    divisor=3600.0,
    decimals=1,
)
_HOURS_FROM_S: Final = 3 * 3600.0
_UNITS: Final = {
    "%": str(QT_TRANSLATE_NOOP("HistoryPage", "%")),
    "V": str(QT_TRANSLATE_NOOP("HistoryPage", "V")),
    "min": str(QT_TRANSLATE_NOOP("HistoryPage", "min")),
    "h": str(QT_TRANSLATE_NOOP("HistoryPage", "h")),
}
_RANGE_TEXT: Final = {
    "1h": (
        str(QT_TRANSLATE_NOOP("HistoryPage", "&1 h")),
        str(QT_TRANSLATE_NOOP("HistoryPage", "Last hour")),
    ),
    "24h": (
        str(QT_TRANSLATE_NOOP("HistoryPage", "2&4 h")),
        str(QT_TRANSLATE_NOOP("HistoryPage", "Last 24 hours")),
    ),
    "7d": (
        str(QT_TRANSLATE_NOOP("HistoryPage", "&7 d")),
        str(QT_TRANSLATE_NOOP("HistoryPage", "Last 7 days")),
    ),
    "90d": (
        str(QT_TRANSLATE_NOOP("HistoryPage", "&90 d")),
        str(QT_TRANSLATE_NOOP("HistoryPage", "Last 90 days")),
    ),
}


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


def _spec_for(spec: _ChartSpec, series: Series) -> _ChartSpec:
    if spec.var == "battery.runtime" and max(series.hi, default=0.0) >= _HOURS_FROM_S:
        return _RUNTIME_IN_HOURS
    return spec


class _Fetched(QObject):
    """Carries a worker's result to the page's thread (queued, since it is emitted elsewhere)."""

    finished = Signal(int, object)
    failed = Signal(int, str)


class _FetchTask(QRunnable):
    """Runs one fetch on a pool thread; only the frozen HistoryData or a message comes back."""

    def __init__(
        self, call: Callable[..., Any], request: HistoryRequest, generation: int, sink: _Fetched
    ) -> None:
        super().__init__()
        self._call = call
        self._request = request
        self._generation = generation
        self._sink = sink

    def run(self) -> None:
        try:
            data = fetch(self._call, self._request)
        except ApiError as exc:
            self._deliver(self._sink.failed, str(exc))
        except Exception as exc:
            log.exception("Fetching history for %s failed", self._request.device)
            self._deliver(self._sink.failed, str(exc))
        else:
            self._deliver(self._sink.finished, data)

    def _deliver(self, signal: Any, payload: object) -> None:
        try:
            signal.emit(self._generation, payload)
        except RuntimeError:
            # The page was closed while the fetch ran; nobody is waiting for it.
            log.debug("History page gone before its fetch finished")


class _ChartBox(QWidget):
    """A chart with its title above and a one-line summary of its values below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.chart = SeriesChart(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.summary)


class HistoryPage(QWidget):
    """Charts of battery charge, load, input voltage and runtime for one device.

    Data comes from the agent's ``history``, ``events`` and ``energy`` routes,
    fetched on a pool thread. A result that arrives after the device or range
    changed again is dropped.

    Signals:
        history_shown(HistoryData): a fetch finished and the page now shows it.
    """

    history_shown = Signal(object)

    def __init__(
        self,
        bridge: Bridge,
        parent: QWidget | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        pool: QThreadPool | None = None,
    ) -> None:
        """Build the page; the first fetch starts when it is shown.

        Args:
            bridge: The way to the agent.
            parent: The Qt parent.
            clock: Where "now" comes from: the charts end at ``clock.time()``.
            pool: Threads to fetch on, for this page alone: each new fetch clears
                the queue. By default the page's own, which waits for a running
                fetch when the page is deleted.
        """
        super().__init__(parent)
        self._bridge = bridge
        self._clock = clock
        self._pool = pool if pool is not None else QThreadPool(self)
        if pool is None:
            self._pool.setMaxThreadCount(2)
        self._sink = _Fetched(self)
        self._sink.finished.connect(self._on_fetched)
        self._sink.failed.connect(self._on_failed)
        self._generation = 0
        self._range = next(r for r in RANGES if r.key == DEFAULT_RANGE)
        self._shown: HistoryData | None = None
        self._max_points = 0
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(RESIZE_SETTLE_MS)
        self._resize_timer.timeout.connect(self._on_resize_settled)
        self._build()
        for box in self._boxes.values():
            box.chart.installEventFilter(self)
        self._fill_devices()
        bridge.state_changed.connect(self._on_state_changed)
        bridge.link_changed.connect(self._on_link_changed)

    # -- public ------------------------------------------------------------

    def device(self) -> str | None:
        """The device whose history is shown."""
        name = self._devices.currentData()
        return None if name is None else str(name)

    def time_range(self) -> TimeRange:
        """The selected range."""
        return self._range

    def set_time_range(self, key: str) -> None:
        """Select a range by key ("1h", "24h", "7d" or "90d") as its button does."""
        self._range_buttons[key].click()

    def set_device(self, name: str) -> None:
        """Select a device by its short name."""
        index = self._devices.findData(name)
        if index < 0:
            raise KeyError(f"no device named {name!r}")
        self._devices.setCurrentIndex(index)

    def chart(self, var: str) -> SeriesChart:
        """The chart of a variable: ``battery.charge``, ``ups.load``, ``input.voltage``..."""
        return self._boxes[var].chart

    def chart_visible(self, var: str) -> bool:
        """Whether the variable's chart is shown (it is hidden when there is no data for it)."""
        return not self._boxes[var].isHidden()

    @property
    def energy_chart(self) -> EnergyChart:
        return self._energy

    def message(self) -> str | None:
        """The text shown instead of the charts (no device, no history, an error), or None."""
        if self._stack.currentWidget() is self._message:
            return self._message.text()
        return None

    @Slot()
    def refresh(self) -> None:
        """Fetch again for the selected device and range, ending now."""
        device = self.device()
        self._generation += 1
        if device is None:
            self._show_message(self.tr("No UPS is being monitored yet."))
            return
        self._max_points = min(MAX_POINTS, max(MIN_POINTS, self._plot_width()))
        request = HistoryRequest(device, self._range, self._clock.time(), self._max_points)
        shown = self._shown
        # Only a new choice says "Loading"; a periodic refresh just replaces the charts.
        self._loading.setVisible(
            shown is None or (shown.request.device, shown.request.range) != (device, self._range)
        )
        # Requests still waiting in the queue are outdated by this one.
        self._pool.clear()
        self._pool.start(_FetchTask(self._bridge.call, request, self._generation, self._sink))

    # -- building ----------------------------------------------------------

    def _build(self) -> None:
        self._devices = QComboBox(self)
        self._devices.setAccessibleName(self.tr("Device"))
        self._devices.currentIndexChanged.connect(self._on_device_chosen)
        device_label = QLabel(self.tr("&Device:"), self)
        device_label.setBuddy(self._devices)

        self._range_group = QButtonGroup(self)
        self._range_group.setExclusive(True)
        self._range_buttons: dict[str, QPushButton] = {}
        top = QHBoxLayout()
        top.addWidget(device_label)
        top.addWidget(self._devices, 1)
        top.addSpacing(16)
        for time_range in RANGES:
            text, name = _RANGE_TEXT[time_range.key]
            button = QPushButton(_tr(text), self)
            button.setCheckable(True)
            button.setChecked(time_range is self._range)
            button.setAccessibleName(_tr(name))
            button.setToolTip(_tr(name))
            button.setProperty("range_key", time_range.key)
            self._range_group.addButton(button)
            self._range_buttons[time_range.key] = button
            top.addWidget(button)
        self._range_group.buttonClicked.connect(self._on_range_clicked)

        self._simulated = QLabel(
            self.tr("Simulated UPS: these readings come from a simulation, not a real device."),
            self,
        )
        self._simulated.setAccessibleName(self.tr("Simulated UPS"))
        self._simulated.setWordWrap(True)
        self._simulated.hide()

        self._message = QLabel(self)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setAccessibleName(self.tr("History status"))

        self._loading = QLabel(self.tr("Loading history…"), self)
        self._loading.setAccessibleName(self.tr("Loading"))
        self._loading.hide()

        # The charts are the page shown first, so that they are laid out by the time
        # the first fetch asks how wide they are.
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self._build_charts())
        self._stack.addWidget(self._message)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._simulated)
        layout.addWidget(self._loading)
        layout.addWidget(self._stack, 1)
        self.setTabOrder(self._devices, self._range_buttons[RANGES[0].key])
        for before, after in pairwise(RANGES):
            self.setTabOrder(self._range_buttons[before.key], self._range_buttons[after.key])

    def _build_charts(self) -> QWidget:
        content = QWidget(self)
        grid = QGridLayout()
        self._boxes: dict[str, _ChartBox] = {}
        for i, spec in enumerate(_CHARTS):
            box = _ChartBox(content)
            self._boxes[spec.var] = box
            grid.addWidget(box, i // 2, i % 2)

        self._outage_swatch = QLabel(content)
        self._outage_swatch.setPixmap(outage_swatch(self))
        self._outage_note = QLabel(content)
        self._outage_note.setAccessibleName(self.tr("Outages"))
        outages = QHBoxLayout()
        outages.addWidget(self._outage_swatch)
        outages.addWidget(self._outage_note, 1)

        energy_title = QLabel(self.tr("Energy use per day (kWh)"), content)
        font = QFont(energy_title.font())
        font.setBold(True)
        energy_title.setFont(font)
        self._energy = EnergyChart(content)
        self._energy_total = QLabel(content)
        self._energy_total.setAccessibleName(self.tr("Energy total"))
        self._energy_total.setWordWrap(True)

        layout = QVBoxLayout(content)
        layout.addLayout(grid, 3)
        layout.addLayout(outages)
        layout.addSpacing(12)
        layout.addWidget(energy_title)
        layout.addWidget(self._energy)
        layout.addWidget(self._energy_total)
        layout.addStretch(1)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        self._content = scroll
        return scroll

    def _fill_devices(self) -> None:
        for state in self._bridge.states():
            self._add_or_update(state)

    def _add_or_update(self, state: DeviceState) -> None:
        text = self._device_text(state)
        index = self._devices.findData(state.device)
        if index < 0:
            self._devices.addItem(text, state.device)
        elif self._devices.itemText(index) != text:
            self._devices.setItemText(index, text)
        self._update_simulated()

    def _device_text(self, state: DeviceState) -> str:
        if state.info is None:
            return state.device
        label = self.tr("Simulated UPS") if state.info.simulated else state.info.label()
        return self.tr("{label} ({device})").format(label=label, device=state.device)

    def _update_simulated(self) -> None:
        device = self.device()
        state = None if device is None else self._bridge.state(device)
        self._simulated.setVisible(
            state is not None and state.info is not None and state.info.simulated
        )

    # -- showing -----------------------------------------------------------

    def _plot_width(self) -> int:
        # The grid gives every chart the same width; a hidden one keeps its last size.
        box = next((b for b in self._boxes.values() if not b.isHidden()), None)
        return (box or self._boxes[_CHARTS[0].var]).chart.plot_width()

    def _show_message(self, text: str) -> None:
        self._loading.hide()
        self._message.setText(text)
        self._stack.setCurrentWidget(self._message)

    def show_history(self, data: HistoryData) -> None:
        """Draw what :func:`fetch` returned; a fetch for the current choice ends here.

        Emits ``history_shown`` once the page shows ``data``.
        """
        self._shown = data
        self._loading.hide()
        if data.empty:
            self._show_message(
                self.tr(
                    "No history yet\n\nUpsight records readings while it runs; "
                    "charts appear here after a few minutes."
                )
            )
        else:
            self._draw(data)
        self.history_shown.emit(data)

    def _draw(self, data: HistoryData) -> None:
        request = data.request
        spans = [(o.start, o.end) for o in data.outages]
        for base in _CHARTS:
            series = data.get(base.var)
            box = self._boxes[base.var]
            if series is None or not series.t:
                box.hide()
                continue
            box.show()
            self._draw_series(box, _spec_for(base, series), series)
            box.chart.set_window(request.since, request.until)
            box.chart.show_outages(spans)
        self._describe_outages(data)
        self._draw_energy(data)
        self._stack.setCurrentWidget(self._content)

    def _draw_series(self, box: _ChartBox, spec: _ChartSpec, series: Series) -> None:
        d = spec.divisor
        box.chart.show_series(
            series.t,
            [v / d for v in series.lo],
            [v / d for v in series.avg],
            [v / d for v in series.hi],
            floor=spec.floor,
            ceiling=spec.ceiling,
        )
        title = _tr(spec.title)
        unit = _tr(_UNITS[spec.unit])
        box.title.setText(self.tr("{title} ({unit})").format(title=title, unit=unit))
        box.title.setAccessibleName(title)
        count = sum(series.n)
        mean = sum(a * n for a, n in zip(series.avg, series.n, strict=True)) / count
        locale = QLocale()

        def number(value: float) -> str:
            return locale.toString(value / d, "f", spec.decimals)

        summary = self.tr(
            "Average {avg} {unit}, lowest {low} {unit}, highest {high} {unit}"
        ).format(
            avg=number(mean), low=number(min(series.lo)), high=number(max(series.hi)), unit=unit
        )
        box.summary.setText(summary)
        box.summary.setAccessibleName(self.tr("{title} summary").format(title=title))
        box.chart.describe(self.tr("{title} chart").format(title=title), summary)

    def _describe_outages(self, data: HistoryData) -> None:
        count = len(data.outages)
        if any(o.ongoing for o in data.outages):
            text = self.tr("Shaded: time on battery. On battery now.")
        elif count:
            text = self.tr("Shaded: time on battery (%n outage(s) in this period).", "", count)
        else:
            text = self.tr("No outages in this period.")
        self._outage_note.setText(text)

    def _draw_energy(self, data: HistoryData) -> None:
        days = data.energy
        self._energy.show_days(
            [d.day for d in days],
            [d.reported_kwh for d in days],
            [d.estimated_kwh for d in days],
        )
        reported = [d.reported_kwh for d in days if d.reported_kwh is not None]
        estimated = [d.estimated_kwh for d in days if d.estimated_kwh is not None]
        # Reported and estimated figures are never added together (they differ in trust).
        if reported and estimated:
            text = self.tr(
                "These %n day(s): {reported} kWh reported by the UPS, {estimated} kWh estimated.",
                None,
                len(days),
            )
        elif reported:
            text = self.tr("These %n day(s): {reported} kWh, reported by the UPS.", None, len(days))
        elif estimated:
            text = self.tr(
                "These %n day(s): {estimated} kWh, estimated from the load.", None, len(days)
            )
        else:
            text = self.tr("No energy figures: this UPS reports neither power nor load.")
        self._energy_total.setText(
            text.format(
                reported=format_kwh(sum(reported)),
                estimated=format_kwh(sum(estimated)),
            )
        )

    # -- slots -------------------------------------------------------------

    @Slot(int, object)
    def _on_fetched(self, generation: int, data: HistoryData) -> None:
        if generation != self._generation:
            log.debug("Dropping history fetched for an earlier choice")
            return
        self.show_history(data)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._shown = None
        self._show_message(self.tr("Could not load the history: {error}").format(error=message))

    @Slot(QAbstractButton)
    def _on_range_clicked(self, button: QAbstractButton) -> None:
        key = str(button.property("range_key"))
        chosen = next(r for r in RANGES if r.key == key)
        if chosen is not self._range:
            self._range = chosen
            if self.isVisible():
                self.refresh()

    @Slot(int)
    def _on_device_chosen(self, _index: int) -> None:
        self._update_simulated()
        if self.isVisible():
            self.refresh()

    @Slot(object)
    def _on_state_changed(self, state: DeviceState) -> None:
        self._add_or_update(state)

    @Slot(bool, str)
    def _on_link_changed(self, connected: bool, _message: str) -> None:
        if connected and self.isVisible():
            self.refresh()

    @Slot()
    def _on_resize_settled(self) -> None:
        width = self._plot_width()
        changed = (
            not self._max_points / REFETCH_CHANGE <= width <= self._max_points * REFETCH_CHANGE
        )
        if self.isVisible() and self._stack.currentWidget() is self._content and changed:
            self.refresh()

    # -- events ------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._outage_swatch.setPixmap(outage_swatch(self))
        super().changeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._refresh_timer.start()
        # After this event the layout has given the plots their real width.
        QTimer.singleShot(0, self.refresh)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        self._refresh_timer.stop()
        super().hideEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize and self._max_points:
            self._resize_timer.start()
        return super().eventFilter(watched, event)
