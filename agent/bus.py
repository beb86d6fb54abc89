"""A thread-safe publish/subscribe bus that fans device states and events out to subscribers.

Publishers (poller threads) never wait for subscribers: messages go into a
queue that one dispatcher thread drains, calling each subscriber in turn.
A subscriber that raises is logged and keeps its subscription.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from upsight.agent.events import Event
from upsight.agent.monitor import DeviceState

log = logging.getLogger(__name__)

Message = DeviceState | Event
Subscriber = Callable[[Message], None]


class Bus:
    """Fan-out of messages on a dispatcher thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Deliver every later message to ``callback``; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def publish(self, message: Message) -> None:
        """Queue a message for delivery; never blocks."""
        self._queue.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._dispatch, name="upsight-bus", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, then stop the dispatcher."""
        if self._thread is None:
            return
        self._queue.put(None)  # the stop marker
        self._thread.join(timeout_s)
        self._thread = None

    def _dispatch(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            # The tuple is replaced, never mutated, so iterating a snapshot needs no lock.
            for subscriber in self._subscribers:
                try:
                    subscriber(message)
                except Exception:
                    log.exception("bus subscriber %r failed", subscriber)
