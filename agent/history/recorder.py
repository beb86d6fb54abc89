"""HistoryRecorder: the thread that owns a HistoryStore's write side."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from upsight.agent.events import Event
from upsight.agent.history.store import HistoryStore
from upsight.drivers.model import Reading

logger = logging.getLogger(__name__)

# Only reached if the writer thread stalls for hours; the oldest items go first.
_QUEUE_MAX: Final = 100_000


class HistoryRecorder:
    """Feeds submitted readings and events to a store from one writer thread.

    Submitting only appends to a queue, so pollers never wait for the disk. The
    thread flushes every ``flush_interval_s`` and prunes every
    ``prune_interval_s`` (starting with a prune), and survives any exception.
    """

    def __init__(
        self, store: HistoryStore, flush_interval_s: float = 5.0, prune_interval_s: float = 3600.0
    ) -> None:
        """Prepare a recorder; nothing runs until :meth:`start`.

        Args:
            store: The store to write; the recorder closes it in :meth:`stop`.
            flush_interval_s: Seconds between flushes.
            prune_interval_s: Seconds between retention passes.
        """
        self._store = store
        self._flush_interval_s = flush_interval_s
        self._prune_interval_s = prune_interval_s
        # deque.append and popleft are atomic, so no lock is needed.
        self._queue: deque[tuple[str, Reading] | Event] = deque(maxlen=_QUEUE_MAX)
        self._overflowed = 0  # items pushed out of the full queue
        self._overflow_logged = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread; a second call does nothing."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, write what was submitted, and close the store."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._guarded(self._drain)
        self._guarded(self._store.close)

    def submit_reading(self, device: str, reading: Reading) -> None:
        """Queue a reading for recording; never blocks."""
        self._submit((device, reading))

    def submit_event(self, event: Event) -> None:
        """Queue an event for recording; never blocks."""
        self._submit(event)

    def _submit(self, item: tuple[str, Reading] | Event) -> None:
        if len(self._queue) == _QUEUE_MAX:
            # Racy between submitting threads, which only makes the count approximate.
            self._overflowed += 1
        self._queue.append(item)

    def _run(self) -> None:
        next_prune = time.monotonic()
        while not self._stopping.is_set():
            if time.monotonic() >= next_prune:
                self._guarded(self._store.prune)
                next_prune = time.monotonic() + self._prune_interval_s
            self._guarded(self._drain)
            self._guarded(self._store.flush)
            self._stopping.wait(self._flush_interval_s)

    def _drain(self) -> None:
        if self._overflowed != self._overflow_logged:
            logger.warning(
                "History recorder fell behind; %d queued items were dropped",
                self._overflowed - self._overflow_logged,
            )
            self._overflow_logged = self._overflowed
        queue = self._queue
        store = self._store
        while queue:
            item = queue.popleft()
            if isinstance(item, Event):
                store.record_event(item)
            else:
                store.record(*item)

    @staticmethod
    def _guarded(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:
            logger.exception("History recorder step failed")
