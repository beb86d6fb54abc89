"""Blocking work (discovery, instant commands) run off the GUI thread, reported back on it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)


class Task(QObject):
    """Runs one function on a worker thread; its outcome arrives as a signal on this thread.

    Keep the task alive (give it a parent) until it reports.

    Signals:
        succeeded(object): the function's return value.
        failed(object): the exception it raised.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    _finished = Signal(object, object)

    def __init__(self, work: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._thread: threading.Thread | None = None
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the work; does nothing while it is already running."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="upsight-gui-task", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:
            outcome: tuple[Any, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        try:
            self._finished.emit(*outcome)
        except RuntimeError:
            # The task's owner was destroyed meanwhile; nobody is left to tell.
            log.debug("a background task finished after its owner was closed")

    @Slot(object, object)
    def _on_finished(self, result: Any, error: BaseException | None) -> None:
        self._thread = None
        if error is None:
            self.succeeded.emit(result)
        else:
            self.failed.emit(error)
