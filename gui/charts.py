"""Plotting widgets: a time series with its min-max band and outage shading, and daily energy bars.

Built on pyqtgraph, which draws thousands of points per frame and can
downsample and clip to the visible range on its own. Colours come from the
widget's palette, so charts follow the system's light or dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QDate, QEvent, QLocale, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

FloatArray = npt.NDArray[np.float64]

# A fixed left axis width lines the plots of a column up whatever their tick labels.
AXIS_WIDTH_PX: Final = 52
# Points further apart than this many typical spacings have no data between them
# (the agent was not running); the line is broken there instead of bridging the gap.
GAP_FACTOR: Final = 3.0
# Share of the span added above and below an automatic y range, and the share
# of that given to an end pinned by a floor or ceiling.
Y_PADDING: Final = 0.05
PINNED_PADDING: Final = 0.4
# Bars get a value label only when there are few enough to leave room for one.
LABELLED_BARS_MAX: Final = 14
_BAND_ALPHA: Final = 60
_OUTAGE_ALPHA: Final = 80
_CHART_HEIGHT_PX: Final = 170
_ENERGY_HEIGHT_PX: Final = 200


def fit_y_range(
    lo: Sequence[float], hi: Sequence[float], floor: float | None, ceiling: float | None
) -> tuple[float, float]:
    """The y range showing every value from ``lo`` to ``hi``.

    ``floor`` and ``ceiling`` pin an end (0 and 100 for a percentage) unless the
    data goes beyond it. Ends get ``Y_PADDING`` of the span as margin, pinned
    ends ``PINNED_PADDING`` of that.
    """
    data_lo = min((v for v in lo if math.isfinite(v)), default=math.nan)
    data_hi = max((v for v in hi if math.isfinite(v)), default=math.nan)
    if math.isnan(data_lo) or math.isnan(data_hi):
        return (floor or 0.0, ceiling or 1.0)
    pinned_lo = floor is not None and floor <= data_lo
    pinned_hi = ceiling is not None and ceiling >= data_hi
    bottom = floor if floor is not None and pinned_lo else data_lo
    top = ceiling if ceiling is not None and pinned_hi else data_hi
    pad = (top - bottom) * Y_PADDING or 1.0
    # A pinned end gets a sliver too, so that a line along it is not cut in half.
    bottom -= pad * (PINNED_PADDING if pinned_lo else 1.0)
    top += pad * (PINNED_PADDING if pinned_hi else 1.0)
    return bottom, top


def with_gaps(t: Sequence[float], *columns: Sequence[float]) -> tuple[FloatArray, ...]:
    """``t`` and ``columns`` as arrays, with a NaN row wherever the points leave a gap."""
    times = np.asarray(t, dtype=np.float64)
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    if len(times) < 3:
        return (times, *cols)
    spacing = np.diff(times)
    breaks = np.nonzero(spacing > GAP_FACTOR * float(np.median(spacing)))[0] + 1
    if not len(breaks):
        return (times, *cols)
    gap_times = (times[breaks - 1] + times[breaks]) / 2.0
    return (
        np.insert(times, breaks, gap_times),
        *(np.insert(c, breaks, np.nan) for c in cols),
    )


def band_path(x: FloatArray, lo: FloatArray, hi: FloatArray) -> QPainterPath:
    """The area between ``lo`` and ``hi``: one polygon (filled as closed) per run without NaN."""
    path = QPainterPath()
    present = np.flatnonzero(np.isfinite(lo) & np.isfinite(hi))
    if not len(present):
        return path
    for run in np.split(present, np.flatnonzero(np.diff(present) > 1) + 1):
        xs = np.concatenate((x[run], x[run][::-1]))
        ys = np.concatenate((hi[run], lo[run][::-1]))
        path.addPath(pg.arrayToQPath(xs, ys))
    return path


def _with_alpha(color: QColor, alpha: int) -> QColor:
    out = QColor(color)
    out.setAlpha(alpha)
    return out


def _cosmetic_pen(color: QColor, width: float = 1.0, style: Qt.PenStyle | None = None) -> QPen:
    pen = QPen(color)
    pen.setWidthF(width)
    pen.setCosmetic(True)
    if style is not None:
        pen.setStyle(style)
    return pen


def _quiet_plot(widget: Any) -> None:
    """A plot that only presents: no mouse zoom, context menu, buttons or focus."""
    widget.setMouseEnabled(x=False, y=False)
    widget.setMenuEnabled(False)
    widget.hideButtons()
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    widget.getPlotItem().getAxis("left").setWidth(AXIS_WIDTH_PX)
    widget.getPlotItem().getAxis("left").enableAutoSIPrefix(False)


def _style_axes(widget: Any, palette: QPalette) -> None:
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.Text)
    for name in ("left", "bottom"):
        axis = widget.getPlotItem().getAxis(name)
        axis.setPen(_cosmetic_pen(palette.color(QPalette.ColorRole.Mid)))
        axis.setTextPen(text)


class SeriesChart(QWidget):
    """One variable over time: the average as a line, min-max as a light band, outages shaded.

    The caller passes values already in display units and sets the x range, so
    every chart of a page shows the same window.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plot: Any = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        _quiet_plot(self._plot)
        self._plot.setMinimumHeight(_CHART_HEIGHT_PX)
        self._plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._outages: Any = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[])
        self._outages.setZValue(-10)
        # One path for the whole band: far cheaper than filling between two curves,
        # which rebuilds its polygon whenever either curve changes.
        self._band = QGraphicsPathItem()
        self._band.setZValue(-5)
        self._avg: Any = pg.PlotDataItem(connect="finite", antialias=True)
        self._avg.setDownsampling(auto=True, method="peak")
        self._avg.setClipToView(True)
        for item in (self._outages, self._band, self._avg):
            self._plot.addItem(item)
        self._spans: list[tuple[float, float]] = []
        self._y = (0.0, 1.0)
        self._count = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot)
        self._restyle()

    def show_series(
        self,
        t: Sequence[float],
        lo: Sequence[float],
        avg: Sequence[float],
        hi: Sequence[float],
        *,
        floor: float | None = None,
        ceiling: float | None = None,
    ) -> None:
        """Draw new points (display units) and fit the y range to them.

        Args:
            t: Bucket starts or sample times, epoch seconds, ascending.
            lo: Each bucket's minimum.
            avg: Each bucket's mean.
            hi: Each bucket's maximum.
            floor: Keep the axis down to this value (0 for most quantities).
            ceiling: Keep the axis up to this value (100 for percentages).
        """
        x, y_lo, y_avg, y_hi = with_gaps(t, lo, avg, hi)
        self._band.setPath(band_path(x, y_lo, y_hi))
        self._avg.setData(x, y_avg)
        self._count = len(t)
        self._y = fit_y_range(lo, hi, floor, ceiling)
        self._plot.setYRange(*self._y, padding=0)
        self._draw_outages()

    def set_window(self, start: float, end: float) -> None:
        """Show exactly ``start`` to ``end`` (epoch seconds) on the x axis."""
        self._plot.setXRange(start, end, padding=0)

    def show_outages(self, spans: Sequence[tuple[float, float]]) -> None:
        """Shade these ``(start, end)`` stretches (epoch seconds) as time on battery."""
        self._spans = list(spans)
        self._draw_outages()

    def describe(self, name: str, description: str) -> None:
        """Name the chart and say in words what it shows, for screen readers."""
        for widget in (self, self._plot):
            widget.setAccessibleName(name)
            widget.setAccessibleDescription(description)

    def point_count(self) -> int:
        """How many points the chart holds."""
        return self._count

    def y_range(self) -> tuple[float, float]:
        """The y axis range, in display units."""
        return self._y

    def x_range(self) -> tuple[float, float]:
        """The x axis range, epoch seconds."""
        (x0, x1), _ = self._plot.getPlotItem().getViewBox().viewRange()
        return float(x0), float(x1)

    def outage_spans(self) -> list[tuple[float, float]]:
        """The shaded ``(start, end)`` stretches, epoch seconds."""
        return list(self._spans)

    def plot_width(self) -> int:
        """The width of the plotting area in pixels: the most points worth drawing."""
        return max(1, int(self._plot.width()) - AXIS_WIDTH_PX)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, _CHART_HEIGHT_PX)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def _draw_outages(self) -> None:
        y0, y1 = self._y
        n = len(self._spans)
        self._outages.setOpts(
            x0=np.array([s for s, _ in self._spans], dtype=np.float64),
            x1=np.array([e for _, e in self._spans], dtype=np.float64),
            y0=np.full(n, y0),
            y1=np.full(n, y1),
        )

    def _restyle(self) -> None:
        palette = self.palette()
        _style_axes(self._plot, palette)
        accent = palette.color(QPalette.ColorRole.Highlight)
        self._avg.setPen(_cosmetic_pen(accent, 1.5))
        self._band.setBrush(_with_alpha(accent, _BAND_ALPHA))
        self._band.setPen(QPen(Qt.PenStyle.NoPen))
        outage = _with_alpha(palette.color(QPalette.ColorRole.PlaceholderText), _OUTAGE_ALPHA)
        # The outline keeps a short outage visible as a thin line on a 90-day axis.
        self._outages.setOpts(brush=QBrush(outage), pen=_cosmetic_pen(outage))


def outage_swatch(widget: QWidget) -> QPixmap:
    """A legend swatch in the colour outage bands are shaded with."""
    palette = widget.palette()
    color = _with_alpha(palette.color(QPalette.ColorRole.PlaceholderText), _OUTAGE_ALPHA)
    return _swatch(widget, QBrush(color), QPen(Qt.PenStyle.NoPen))


def _swatch(widget: QWidget, brush: QBrush, pen: QPen) -> QPixmap:
    size = widget.fontMetrics().height()
    ratio = widget.devicePixelRatioF()
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setBrush(brush)
    painter.setPen(pen)
    painter.drawRect(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    return pixmap


class EnergyChart(QWidget):
    """Energy per calendar day as bars: solid where the UPS reported power, hatched where estimated.

    Reported and estimated energy are never added up: a day with both has two bars.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plot: Any = pg.PlotWidget()
        _quiet_plot(self._plot)
        self._plot.setFixedHeight(_ENERGY_HEIGHT_PX)
        self._plot.setAccessibleName(self.tr("Energy chart"))
        self._reported: Any = pg.BarGraphItem(x=[], height=[], width=0.38)
        self._estimated: Any = pg.BarGraphItem(x=[], height=[], width=0.38)
        self._plot.addItem(self._reported)
        self._plot.addItem(self._estimated)
        self._labels: list[Any] = []
        self._bars: dict[str, list[tuple[int, float]]] = {"reported": [], "estimated": []}
        self._days: list[date] = []
        self._reported_swatch = QLabel(self)
        self._estimated_swatch = QLabel(self)
        reported_text = QLabel(self.tr("Reported by the UPS"), self)
        estimated_text = QLabel(self.tr("Estimated from the load and rated power"), self)
        estimated_text.setToolTip(
            self.tr(
                "This UPS does not report its power, so energy is worked out from the "
                "load percentage and the rated power; treat it as a rough guide."
            )
        )
        self._reported_swatch.setAccessibleName(self.tr("Solid bars"))
        self._estimated_swatch.setAccessibleName(self.tr("Hatched bars"))
        legend = QHBoxLayout()
        for swatch, text in (
            (self._reported_swatch, reported_text),
            (self._estimated_swatch, estimated_text),
        ):
            legend.addWidget(swatch)
            legend.addWidget(text)
            legend.addSpacing(12)
        legend.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot)
        layout.addLayout(legend)
        self._restyle()

    def show_days(
        self,
        days: Sequence[date],
        reported: Sequence[float | None],
        estimated: Sequence[float | None],
    ) -> None:
        """Draw one slot per day; None means no energy of that kind was recorded that day."""
        self._days = list(days)
        self._bars = {
            "reported": [(i, kwh) for i, kwh in enumerate(reported) if kwh is not None],
            "estimated": [(i, kwh) for i, kwh in enumerate(estimated) if kwh is not None],
        }
        for item, offset, key in (
            (self._reported, -0.2, "reported"),
            (self._estimated, 0.2, "estimated"),
        ):
            bars = self._bars[key]
            item.setOpts(
                x=np.array([i + offset for i, _ in bars], dtype=np.float64),
                height=np.array([kwh for _, kwh in bars], dtype=np.float64),
            )
        top = max((kwh for bars in self._bars.values() for _, kwh in bars), default=0.0)
        # An empty axis says nothing; the page explains why there are no figures.
        self._plot.setVisible(any(self._bars.values()))
        self._plot.setYRange(0.0, (top or 1.0) * 1.15, padding=0)
        self._plot.setXRange(-0.6, max(len(days), 1) - 0.4, padding=0)
        self._plot.getPlotItem().getAxis("bottom").setTicks(self._ticks())
        self._label_bars()

    def bars(self, source: str) -> list[tuple[date, float]]:
        """The drawn bars of one source ("reported" or "estimated"): day and kWh."""
        return [(self._days[i], kwh) for i, kwh in self._bars[source]]

    def styles(self) -> dict[str, tuple[Qt.BrushStyle, Qt.PenStyle]]:
        """How each source's bars are filled and outlined, so they differ by more than colour."""
        out: dict[str, tuple[Qt.BrushStyle, Qt.PenStyle]] = {}
        for key, item in (("reported", self._reported), ("estimated", self._estimated)):
            out[key] = (item.opts["brush"].style(), item.opts["pen"].style())
        return out

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def _ticks(self) -> list[list[tuple[float, str]]]:
        locale = QLocale()
        every = max(1, math.ceil(len(self._days) / 10))
        fmt = locale.dateFormat(QLocale.FormatType.ShortFormat)
        # Day and month only: the year adds width and rarely helps within 90 days.
        short = "d MMM" if fmt.startswith(("d", "D")) else "MMM d"
        return [
            [
                (float(i), locale.toString(QDate(day.year, day.month, day.day), short))
                for i, day in enumerate(self._days)
                if (len(self._days) - 1 - i) % every == 0
            ]
        ]

    def _label_bars(self) -> None:
        for label in self._labels:
            self._plot.removeItem(label)
        self._labels = []
        if len(self._days) > LABELLED_BARS_MAX:
            return
        color = self.palette().color(QPalette.ColorRole.Text)
        for offset, key in ((-0.2, "reported"), (0.2, "estimated")):
            for i, kwh in self._bars[key]:
                label = pg.TextItem(format_kwh(kwh), color=color, anchor=(0.5, 1.0))
                label.setPos(QPointF(i + offset, kwh))
                self._plot.addItem(label)
                self._labels.append(label)

    def _restyle(self) -> None:
        palette = self.palette()
        _style_axes(self._plot, palette)
        accent = palette.color(QPalette.ColorRole.Highlight)
        reported = (QBrush(accent), _cosmetic_pen(accent))
        estimated = (
            QBrush(accent, Qt.BrushStyle.BDiagPattern),
            _cosmetic_pen(accent, 1.0, Qt.PenStyle.DashLine),
        )
        self._reported.setOpts(brush=reported[0], pen=reported[1])
        self._estimated.setOpts(brush=estimated[0], pen=estimated[1])
        self._reported_swatch.setPixmap(_swatch(self, *reported))
        self._estimated_swatch.setPixmap(_swatch(self, *estimated))
        for label in self._labels:
            label.setColor(palette.color(QPalette.ColorRole.Text))


def format_kwh(kwh: float) -> str:
    """A kWh figure with sensible precision for daily use (no unit)."""
    return QLocale().toString(float(kwh), "f", 2 if kwh < 10 else 1)
