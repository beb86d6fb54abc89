"""The main window: a list of pages on the left, the chosen page on the right."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from upsight.gui.bridge import Bridge
from upsight.gui.display import tr_noop, translate
from upsight.gui.icons import Glyph, icon
from upsight.gui.preferences import Preferences

PageFactory = Callable[[Bridge, QWidget | None], QWidget]
NAV_WIDTH_PX: Final = 160


@dataclass(frozen=True)
class PageSpec:
    """One page: its untranslated title (``MainWindow`` context) and how to build it."""

    title: str
    factory: PageFactory


def _status(bridge: Bridge, parent: QWidget | None) -> QWidget:
    from upsight.gui.pages.status import StatusPage

    return StatusPage(bridge, parent)


def _history(bridge: Bridge, parent: QWidget | None) -> QWidget:
    from upsight.gui.pages.history import HistoryPage

    return HistoryPage(bridge, parent)


def _events(bridge: Bridge, parent: QWidget | None) -> QWidget:
    from upsight.gui.pages.events import EventsPage

    return EventsPage(bridge, parent)


def _settings(bridge: Bridge, parent: QWidget | None) -> QWidget:
    from upsight.gui.pages.settings import SettingsPage

    return SettingsPage(bridge, parent)


def _privacy(bridge: Bridge, parent: QWidget | None) -> QWidget:
    from upsight.gui.pages.privacy import PrivacyPage

    return PrivacyPage(bridge, parent)


def default_pages() -> list[PageSpec]:
    """Status, History, Events, Settings and Privacy, in that order."""
    return [
        PageSpec(tr_noop("MainWindow", "Status"), _status),
        PageSpec(tr_noop("MainWindow", "History"), _history),
        PageSpec(tr_noop("MainWindow", "Events"), _events),
        PageSpec(tr_noop("MainWindow", "Settings"), _settings),
        PageSpec(tr_noop("MainWindow", "Privacy"), _privacy),
    ]


class MainWindow(QMainWindow):
    """Pages built when first shown, a banner while the service is unreachable, close to tray.

    Signals:
        config_changed(dict): the agent's settings after a change on the Settings page.
        quit_requested(): the window was closed and the app should end.
    """

    config_changed = Signal(dict)
    quit_requested = Signal()

    def __init__(
        self,
        bridge: Bridge,
        pages: Sequence[PageSpec] | None = None,
        *,
        preferences: Preferences = Preferences(),  # noqa: B008 - frozen, shared safely
        tray_available: bool = False,
    ) -> None:
        super().__init__()
        self._bridge = bridge
        self._specs = list(pages) if pages is not None else default_pages()
        self._pages: dict[int, QWidget] = {}
        self.preferences = preferences
        self.tray_available = tray_available
        self._quitting = False
        self.setWindowTitle(self.tr("Upsight"))
        self.setWindowIcon(icon(Glyph.APP))

        self.nav = QListWidget()
        self.nav.setAccessibleName(self.tr("Pages"))
        self.nav.setFixedWidth(NAV_WIDTH_PX)
        self.stack = QStackedWidget()
        for number, spec in enumerate(self._specs, start=1):
            self.nav.addItem(translate("MainWindow", spec.title))
            self.stack.addWidget(QWidget())
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda row=number - 1: self.nav.setCurrentRow(row))
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName(self.tr("Connection to the service"))
        self.banner.setFrameShape(QLabel.Shape.StyledPanel)
        self.banner.setVisible(not bridge.connected)
        self.banner.setText(
            self.tr("Starting…")
            if bridge.personal
            else self.tr("Connecting to the Upsight service…")
        )

        right = QVBoxLayout()
        right.addWidget(self.banner)
        right.addWidget(self.stack, 1)
        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addLayout(right, 1)
        central = QWidget()
        central.setLayout(body)
        self.setCentralWidget(central)
        mode = (
            self.tr("Monitoring in this app")
            if bridge.personal
            else self.tr("Showing the Upsight service")
        )
        self.statusBar().showMessage(mode)
        self.nav.currentRowChanged.connect(self.on_page_chosen)
        bridge.link_changed.connect(self.on_link_changed)
        self.nav.setCurrentRow(0)
        self.setTabOrder(self.nav, self.stack)

    def page(self, index: int) -> QWidget:
        """The page at ``index``, built now if it was not yet."""
        page = self._pages.get(index)
        if page is None:
            page = self._specs[index].factory(self._bridge, self.stack)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            if placeholder is not None:
                self.stack.removeWidget(placeholder)
                placeholder.deleteLater()
            self._pages[index] = page
            self._connect(page)
        return page

    def _connect(self, page: QWidget) -> None:
        from upsight.gui.pages.settings import SettingsPage

        if isinstance(page, SettingsPage):
            page.config_changed.connect(self.config_changed)
            page.preferences_changed.connect(self.on_preferences_changed)

    @Slot(int)
    def on_page_chosen(self, index: int) -> None:
        if index < 0:
            return
        self.page(index)
        self.stack.setCurrentIndex(index)

    @Slot(bool, str)
    def on_link_changed(self, connected: bool, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(not connected)

    @Slot(object)
    def on_preferences_changed(self, preferences: Preferences) -> None:
        self.preferences = preferences

    def bring_up(self) -> None:
        """Show the window in front, from the tray or a second start."""
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit(self) -> None:
        """Close for good, whatever close-to-tray says."""
        self._quitting = True
        self.close()

    def shutdown(self) -> None:
        """Release what pages hold (the privacy center) before the app ends."""
        for page in self._pages.values():
            close_link = getattr(page, "close_link", None)
            if callable(close_link):
                close_link()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._quitting and self.preferences.close_to_tray and self.tray_available:
            # The app keeps monitoring from the tray; Quit is in the tray menu.
            event.ignore()
            self.hide()
            return
        event.accept()
        if not self._quitting:
            self.quit_requested.emit()
