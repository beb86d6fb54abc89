"""SVG glyphs from resources/icons, drawn in the palette's text colour at every size."""

from __future__ import annotations

import enum
from functools import cache
from importlib import resources
from typing import Final

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from upsight.gui.display import Condition

# Pixel sizes offered to Qt; it picks or scales the nearest for the panel or DPI.
SIZES: Final = (16, 22, 24, 32, 48, 64, 128)
# The simulated badge covers this fraction of the glyph's edge, in the bottom-right corner.
BADGE_FRACTION: Final = 0.6


class Glyph(enum.Enum):
    """The drawings under resources/icons, by file name."""

    APP = "upsight"
    ONLINE = "online"
    ON_BATTERY = "on-battery"
    LOW_BATTERY = "low-battery"
    NO_COMMUNICATION = "no-communication"
    CONNECTING = "connecting"
    SIMULATED = "simulated"


CONDITION_GLYPHS: Final = {
    Condition.ONLINE: Glyph.ONLINE,
    Condition.CONNECTING: Glyph.CONNECTING,
    Condition.NO_COMMUNICATION: Glyph.NO_COMMUNICATION,
    Condition.ON_BATTERY: Glyph.ON_BATTERY,
    Condition.LOW_BATTERY: Glyph.LOW_BATTERY,
}


@cache
def _svg(glyph: Glyph) -> str:
    return (resources.files("upsight.resources") / "icons" / f"{glyph.value}.svg").read_text(
        encoding="utf-8"
    )


def _renderer(glyph: Glyph, color: QColor) -> QSvgRenderer:
    # The drawings use currentColor, so light and dark themes both get a readable glyph.
    svg = _svg(glyph).replace("currentColor", color.name())
    return QSvgRenderer(QByteArray(svg.encode("utf-8")))


def _text_color() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


def _background_color() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.Window)


def render(glyph: Glyph, size: int, *, badge: bool = False) -> QImage:
    """Draw one glyph as a square image, optionally with the simulated badge."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(glyph, _text_color()).render(painter, QRectF(0, 0, size, size))
    if badge:
        edge = size * BADGE_FRACTION
        corner = QRectF(size - edge, size - edge, edge, edge)
        # A disc in the window colour keeps the badge legible over the glyph.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_background_color())
        painter.drawEllipse(corner)
        inset = edge * 0.12
        _renderer(Glyph.SIMULATED, _text_color()).render(
            painter, corner.adjusted(inset, inset, -inset, -inset)
        )
    painter.end()
    return image


def icon(glyph: Glyph, *, badge: bool = False) -> QIcon:
    """A multi-size icon of ``glyph`` in the current palette."""
    result = QIcon()
    for size in SIZES:
        result.addPixmap(QPixmap.fromImage(render(glyph, size, badge=badge)))
    return result
