"""Shared rig for the device-link fault tests: a judging bus target and a cable-cutting peer."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from tests.peers.pty import EmulatorServer, PtyPair, Responder
from upsight.agent.bus import Message
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.monitor import DeviceMonitor, DeviceState, Link, MonitorSettings
from upsight.agent.poller import Poller
from upsight.agent.protection.engine import Decision, Engine, Instant
from upsight.agent.protection.settings import ProtectionSettings
from upsight.drivers.clock import SYSTEM_CLOCK

# Events that claim a power problem; on a unit that never left mains each one is false.
POWER_CLAIMS = frozenset(
    {
        EventKind.ONBATT,
        EventKind.LOWBATT,
        EventKind.FSD,
        EventKind.SHUTDOWN_SCHEDULED,
        EventKind.SHUTDOWN_EXECUTING,
    }
)


class Watch:
    """What pollers publish, judged as the agent would judge it.

    Every device state also goes through the real protection engine, so a
    shutdown the faults would have caused is seen as a decision. With a history
    store, fresh readings and events are recorded as the agent records them.
    """

    def __init__(self, stale_after_s: float, store: HistoryStore | None = None) -> None:
        settings = ProtectionSettings(stale_after_s=stale_after_s)
        self._engine = Engine(settings, Instant.of(SYSTEM_CLOCK))
        self._store = store
        self._recorded: dict[str, float] = {}
        self.messages: list[Message] = []
        self.decisions: list[Decision] = []
        self._changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._changed:
            self.messages.append(message)
            if isinstance(message, DeviceState):
                step = self._engine.observe(message, Instant.of(SYSTEM_CLOCK))
                self.messages.extend(step.events)
                if step.act is not None:
                    self.decisions.append(step.act)
                self._record(message)
            elif self._store is not None:
                self._store.record_event(message)
            self._changed.notify_all()

    def _record(self, state: DeviceState) -> None:
        reading = state.reading
        if self._store is None or state.link is not Link.OK or reading is None:
            return
        if self._recorded.get(state.device) != reading.at:
            self._recorded[state.device] = reading.at
            self._store.record(state.device, reading)

    def close_history(self) -> None:
        """Write everything to the history store and close it; later readings are not kept."""
        with self._changed:
            if self._store is not None:
                self._store.close()

    def mark(self) -> int:
        """A position in the message log, for ``since``."""
        with self._changed:
            return len(self.messages)

    def since(self, mark: int) -> list[Message]:
        with self._changed:
            return self.messages[mark:]

    def states(self, device: str, mark: int = 0) -> list[DeviceState]:
        return [m for m in self.since(mark) if isinstance(m, DeviceState) and m.device == device]

    def events(self, device: str, mark: int = 0) -> list[Event]:
        return [m for m in self.since(mark) if isinstance(m, Event) and m.device == device]

    def first_stale(self, device: str, mark: int) -> DeviceState | None:
        return next((s for s in self.states(device, mark) if s.link is Link.STALE), None)

    def fresh_after(self, device: str, mark: int, after: float) -> DeviceState | None:
        """The first state since ``mark`` whose reading was taken after wall time ``after``."""
        for state in self.states(device, mark):
            if state.link is Link.OK and state.reading is not None and state.reading.at > after:
                return state
        return None

    def false_actions(self, device: str) -> int:
        """Power claims about ``device`` (which never left mains), plus shutdowns it caused."""
        claims = sum(
            1
            for m in self.since(0)
            if isinstance(m, Event) and m.device == device and m.kind in POWER_CLAIMS
        )
        with self._changed:
            return claims + sum(1 for d in self.decisions if d.trigger.device == device)

    def wait(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # Re-check at least every 0.2 s: conditions may depend on the clock alone.
                self._changed.wait(min(remaining, 0.2))
            return True


def start_poller(device: str, spec: str, watch: Watch, interval_s: float) -> Poller:
    """A real monitor and poller for ``spec``, publishing to ``watch``, already running."""
    monitor = DeviceMonitor(device, spec, MonitorSettings(interval_s=interval_s), SYSTEM_CLOCK)
    poller = Poller(monitor, spec, watch, SYSTEM_CLOCK)
    poller.start()
    return poller


class CuttingServer(EmulatorServer):
    """An emulator server that can lose its link while a reply is half sent.

    After ``cut("cable")`` the next command gets half its reply and then the
    cable comes out (the EMU side closes); after ``cut("adapter")`` the whole
    pty pair vanishes instead, as a USB-serial adapter pulled out mid-reply.
    """

    # Long enough for the first half to reach the driver before the link goes.
    HALF_SENT_S = 0.05

    def __init__(self, pair: PtyPair, responder: Responder) -> None:
        super().__init__(pair, responder)
        self._cut: str | None = None
        self.cuts_done = threading.Event()

    def cut(self, what: str) -> None:
        with self.lock:
            self.cuts_done.clear()
            self._cut = what

    def _answer(self, data: bytes) -> None:
        with self.lock:
            what, self._cut = self._cut, None
            if what is None:
                super()._answer(data)
                return
            reply = self.responder.feed(data)
            fd = self._fd
            if fd is not None and reply:
                # The link is about to go anyway; a write that fails changes nothing.
                with contextlib.suppress(OSError):
                    os.write(fd, reply[: max(1, len(reply) // 2)])
            time.sleep(self.HALF_SENT_S)
            if what == "adapter":
                self.pair.stop()
            self.unplug()
            self.cuts_done.set()
