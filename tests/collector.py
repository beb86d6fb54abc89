"""A bus subscriber for tests: collects what is published and waits for conditions on it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from upsight.agent.bus import Message
from upsight.agent.events import Event, EventKind


class Collector:
    """Collects what a poller or bus publishes and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def kinds(self) -> list[EventKind]:
        return [m.kind for m in self.messages if isinstance(m, Event)]

    def wait(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout_s)

    def at_of(self, kind: EventKind) -> float:
        return next(m.at for m in self.messages if isinstance(m, Event) and m.kind is kind)
