"""The Agent: wires devices, pollers, the event bus, history and the local API together.

One Agent serves both run modes: ``upsight run`` (foreground or as a service)
and, later, the desktop app's in-process personal mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from upsight.agent import config as config_file
from upsight.agent.bus import Bus, Message, Subscriber
from upsight.agent.config import Config
from upsight.agent.events import Event
from upsight.agent.history.recorder import HistoryRecorder
from upsight.agent.history.store import HistoryStore, Retention
from upsight.agent.monitor import DeviceMonitor, DeviceState, MonitorSettings
from upsight.agent.paths import AppPaths
from upsight.agent.poller import Opener, Poller
from upsight.agent.protection.actions import Executor
from upsight.agent.protection.executors import platform_executor
from upsight.agent.protection.guard import ProtectionGuard
from upsight.agent.protection.settings import ProtectionSettings
from upsight.agent.settings_policy import NO_LOCKS, Locks
from upsight.drivers import open_device
from upsight.drivers.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from upsight.agent.nut_server.server import NutServer
    from upsight.agent.privacy.center import PrivacyCenter
    from upsight.agent.privacy.uploads import Uploads
    from upsight.drivers.base import WritableVar

log = logging.getLogger(__name__)

# The watchdog sleeps until the earliest device deadline, but at most this long,
# so that a changed poll interval takes effect soon.
WATCHDOG_MAX_SLEEP_S = 5.0


def device_names(count: int) -> list[str]:
    """Short NUT-style names: ``ups``, then ``ups2``, ``ups3`` ..."""
    return ["ups" if i == 0 else f"ups{i + 1}" for i in range(count)]


def monitor_settings(config: Config) -> MonitorSettings:
    return MonitorSettings(
        interval_s=config.poll_interval_s,
        onbatt_debounce_s=config.onbatt_debounce_s,
        nocomm_after_s=config.nocomm_warn_s,
    )


def retention(config: Config) -> Retention:
    return Retention(
        raw_s=config.history_raw_hours * 3600,
        minute_s=config.history_minute_days * 86400,
        hour_s=config.history_hour_days * 86400,
    )


class Agent:
    """Monitors a list of devices until stopped."""

    def __init__(
        self,
        paths: AppPaths,
        config: Config,
        devices: Sequence[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        opener: Opener = open_device,
        serve_api: bool = True,
        privacy: PrivacyCenter | None = None,
        locks: Locks = NO_LOCKS,
        executor: Executor | None = None,
    ) -> None:
        if not devices:
            raise ValueError("the agent needs at least one device spec")
        self.paths = paths
        self._config = config
        # Settings the organisation's managed policy enforces; set_setting refuses them.
        self.locks = locks
        self._clock = clock
        self._opener = opener
        self._serve_api = serve_api
        self.bus = Bus()
        self.history = HistoryStore(paths.history_db, retention(config), clock)
        # Readings reach the disk this often (history.flush_s): a crash loses at most that much.
        self._recorder = HistoryRecorder(self.history, flush_interval_s=config.history_flush_s)
        self._pollers = [
            self._make_poller(name, spec)
            for name, spec in zip(device_names(len(devices)), devices, strict=True)
        ]
        self._last_recorded: dict[str, float] = {}
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._api: Any = None
        # The NUT network server, while nut_server.listen is set and it could start.
        self.nut_server: NutServer | None = None
        self._lock = threading.Lock()
        # Shutdown protection; it runs actions through the platform's executor unless
        # another is given (a capturing one for --dry-run and tests).
        self.protection = ProtectionGuard(
            self,
            ProtectionSettings.from_config(config),
            executor if executor is not None else platform_executor(),
            clock,
        )
        self.uploads: Uploads | None = None
        if privacy is not None:
            from upsight.agent.privacy.uploads import Uploads

            self.uploads = Uploads(privacy, config, self.states, self.history, clock=clock)

    @property
    def config(self) -> Config:
        return self._config

    def _make_poller(self, name: str, spec: str) -> Poller:
        monitor = DeviceMonitor(name, spec, monitor_settings(self._config), self._clock)
        return Poller(monitor, spec, self.bus.publish, self._clock, self._opener)

    def start(self) -> None:
        """Start every thread; returns at once."""
        self.bus.subscribe(self._record)
        if self.uploads is not None:
            self.bus.subscribe(self.uploads.on_message)
        self.protection.start()
        self.bus.start()
        self._recorder.start()
        for poller in self._pollers:
            poller.start()
        self._watchdog = threading.Thread(target=self._watch, name="upsight-watchdog", daemon=True)
        self._watchdog.start()
        if self.uploads is not None:
            self.uploads.start()
        if self._serve_api:
            from upsight.agent.api.routes import start_api

            self._api = start_api(self)
        if self._config.nut_listen:
            from upsight.agent.nut_server.agent_backend import serve_agent

            self.nut_server = serve_agent(self)

    def stop(self) -> None:
        """Stop polling, deliver what is queued, close history; safe to call twice."""
        self._stop.set()
        if self.nut_server is not None:
            self.nut_server.stop()
            self.nut_server = None
        if self._api is not None:
            self._api.stop()
            self._api = None
        for poller in self._pollers:
            poller.stop()
        if self._watchdog is not None:
            self._watchdog.join(5.0)
            self._watchdog = None
        self.protection.stop()
        self.bus.stop()
        if self.uploads is not None:
            self.uploads.stop()
        self._recorder.stop()

    def states(self) -> list[DeviceState]:
        """A snapshot of every device, staleness applied as of now."""
        return [poller.state() for poller in self._pollers]

    def device_names(self) -> list[str]:
        """The short NUT-style names of the monitored devices, in order."""
        return [poller.name for poller in self._pollers]

    def run_command(
        self, device: str, name: str, value: str | None = None, timeout_s: float = 10.0
    ) -> None:
        """Run a NUT instant command such as ``beeper.mute`` on a device, between polls.

        Raises:
            KeyError: no device has that name.
            UnsupportedCommand: the device does not offer the command.
            UpsError: the device is not connected, stayed busy, or failed.
        """
        poller = self._poller(device)
        log.info("%s: running %s%s", device, name, "" if value is None else f" {value}")
        poller.call(lambda driver: driver.run(name, value), timeout_s)

    def force_shutdown(self, device: str, by: str) -> None:
        """Latch FSD on a device, so that it and every NUT secondary treat it as critical.

        Raises:
            KeyError: no device has that name.
        """
        poller = self._poller(device)
        log.warning("%s: forced shutdown set by %s", device, by)
        poller.force_shutdown()

    def writable(self, device: str, timeout_s: float = 10.0) -> Mapping[str, WritableVar]:
        """The variables of a device that ``set_variable`` may change, asked between polls.

        Raises:
            KeyError: no device has that name.
            UpsError: the device is not connected, stayed busy, or failed.
        """
        return self._poller(device).call(lambda driver: driver.writable(), timeout_s)

    def set_variable(self, device: str, name: str, value: str, timeout_s: float = 10.0) -> None:
        """Change a writable variable such as ``ups.delay.shutdown`` on a device, between polls.

        Raises:
            KeyError: no device has that name.
            UnsupportedCommand: the device does not let the variable be changed.
            InvalidValue: the variable cannot take that value.
            UpsError: the device is not connected, stayed busy, or failed.
        """
        poller = self._poller(device)
        log.info("%s: setting %s to %r", device, name, value)
        poller.call(lambda driver: driver.set_variable(name, value), timeout_s)

    def _poller(self, device: str) -> Poller:
        for poller in self._pollers:
            if poller.name == device:
                return poller
        raise KeyError(f"no device named {device!r}")

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every later device state and event (on the bus thread)."""
        return self.bus.subscribe(callback)

    def set_setting(self, key: str, value: Any) -> Config:
        """Validate, save and apply one setting.

        Polling and event settings apply at once; history retention and flushing
        and the device list apply at the next start.

        Raises:
            ConfigError: the key is unknown, the value invalid, or the key managed by
                the organisation's policy.
        """
        self.locks.check(key)
        with self._lock:
            updated = config_file.with_value(self._config, key, value)
            # The file keeps the user's own choices: policy values never land in it, so
            # a recommended value still follows the policy and a lifted lock frees the key.
            saved = config_file.load(self.paths.config_file).config
            config_file.save(self.paths.config_file, config_file.with_value(saved, key, value))
            self._config = updated
            settings = monitor_settings(updated)
            for poller in self._pollers:
                poller.monitor.settings = settings
            self.protection.update(ProtectionSettings.from_config(updated))
        log.info("setting %s changed", key)
        return updated

    def _watch(self) -> None:
        # Sleeps until the next deadline instead of ticking at a fixed rate: a
        # healthy device then costs one wake-up per stale window, not several a second.
        while not self._stop.wait(self._watchdog_sleep_s()):
            for poller in self._pollers:
                poller.tick()

    def _watchdog_sleep_s(self) -> float:
        deadlines = [d for p in self._pollers if (d := p.next_deadline()) is not None]
        if not deadlines:
            return WATCHDOG_MAX_SLEEP_S
        # A hair past the deadline, so the tick finds it expired.
        wait = min(deadlines) - self._clock.monotonic() + 0.01
        return min(max(wait, 0.01), WATCHDOG_MAX_SLEEP_S)

    def _record(self, message: Message) -> None:
        if isinstance(message, Event):
            self._recorder.submit_event(message)
            return
        reading = message.reading
        if reading is None or self._last_recorded.get(message.device) == reading.at:
            return
        self._last_recorded[message.device] = reading.at
        self._recorder.submit_reading(message.device, reading)
